"""One seal put on several items at once: one item is certified under it, the others are told it is in use (409),
and no second certificate is issued."""

from __future__ import annotations

import asyncio
import os

from ..support import rid
from .test_warehouse_operations import _jade_warehouse, jade_case_in_inspection, passing, photos


async def test_a_seal_given_to_several_items_at_once_certifies_one(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    cases = [await jade_case_in_inspection(qc_ops, wid) for _ in range(8)]
    inspector = qc_ops.inspector(wid, sub=rid("insp"))
    body = passing(await photos(qc_ops, inspector, 2), seal=f"SEAL-{os.urandom(6).hex().upper()}")
    answers = await asyncio.gather(
        *(qc_ops.client.post(f"/v1/qc/cases/{c['case_id']}/verdict", json=body, headers=inspector) for c in cases)
    )
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 7, [r.text for r in answers]
    assert {r.json()["error"]["code"] for r in answers if r.status_code == 409} == {"SEAL_IN_USE"}
    winner = next(r.json() for r in answers if r.status_code == 200)
    assert winner["verdict"]["seal_id"] == body["seal_id"] and winner["certificate_no"]
    for case in cases:
        shown = await qc_ops.case_of(case["order_id"])
        assert shown is not None
        won = case["case_id"] == winner["case_id"]
        # The others were refused whole: still waiting for a verdict, no seal, no certificate, nothing published.
        assert shown["status"] == ("PASSED" if won else "IN_INSPECTION")
        assert (shown["certificate_no"] is not None) is won
        assert await qc_ops.outbox_count("xinren.qc.passed", case["order_id"]) == (1 if won else 0)
