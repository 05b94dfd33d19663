"""Warehouse operations on the real PostgreSQL and Kafka: evidence, checklists, seals and certificates, appeals,
verified returns, warehouse changes, queue and figures."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from xinren_qc.app import create_app
from xinren_shared.contracts.aftersales import AfterSaleReturnShipped
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleStatus, AfterSaleType
from xinren_shared.testing.http import serve

from ..support import REFUND_SOURCE, Qc, paid, rid

JADE = {
    "weight_g": 41.2,
    "length_mm": 58.0,
    "width_mm": 58.0,
    "thickness_mm": 8.1,
    "colour": "帝王绿 imperial green",
    "transparency": "translucent",
    "refractive_index": 1.66,
    "specific_gravity": 3.33,
    "treatment": "A",
}


def image(colour: str = "green", fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, fmt)
    return buf.getvalue()


async def upload(qc, headers, data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return await qc.client.post("/v1/evidence", files={"file": (name, data, content_type)}, headers=headers)


async def photos(qc, headers, n: int = 2) -> list[str]:
    ids = []
    for _ in range(n):
        r = await upload(qc, headers, image(f"#{os.urandom(3).hex()}"))
        assert r.status_code == 201, r.text
        ids.append(r.json()["evidence_id"])
    return ids


async def jade_case_in_inspection(qc, wid: str, **kw) -> dict:
    order = paid(rid("ord"), "jade", buyer_id=rid("u"), shop_id=rid("shop"), warehouse_id=wid, **kw)
    await qc.deliver(order)
    case = await qc.case_in(order.order_id, "AWAITING_INBOUND")
    assert (await qc.arrive(case)).status_code == 200
    return case


def passing(photo_ids: list[str], seal: str | None = None) -> dict:
    return {
        "result": "PASSED",
        "findings": "natural jadeite, type A",
        "measurements": JADE,
        "photo_ids": photo_ids,
        "seal_id": seal or f"SEAL-{os.urandom(4).hex().upper()}",
    }


async def _jade_warehouse(qc) -> str:
    return (await qc.warehouse("jade", name=f"jade {rid('w')}"))["warehouse_id"]


async def test_uploads_are_judged_by_content_and_stored_once_across_restarts(qc_ops, qc_ops_settings):
    wid = await _jade_warehouse(qc_ops)
    staff = qc_ops.staff(wid)
    fake = await upload(qc_ops, staff, b"%PDF-1.7 not a photo at all", name="photo.jpg")
    assert fake.status_code == 422 and fake.json()["error"]["code"] == "NOT_AN_IMAGE"
    data = image("#123456", "PNG")
    first = await upload(qc_ops, staff, data, name="a.bin", content_type="application/octet-stream")
    again = await upload(qc_ops, staff, data, name="b.png")
    other = await upload(qc_ops, qc_ops.inspector(wid, sub=rid("insp")), data)
    assert first.status_code == again.status_code == other.status_code == 201
    body = first.json()
    assert body["content_type"] == "image/png" and body["size"] == len(data) and len(body["sha256"]) == 64
    assert again.json() == body  # the same uploader, the same bytes: the same evidence
    assert other.json()["sha256"] == body["sha256"] and other.json()["evidence_id"] != body["evidence_id"]
    stored = list(Path(qc_ops_settings.evidence_store).rglob(body["sha256"]))  # noqa: ASYNC240 - a test's look
    assert len(stored) == 1 and stored[0].read_bytes() == data
    # Private evidence: the uploader reads it, a stranger does not, nobody without a token.
    path = f"/v1/evidence/{body['evidence_id']}"
    assert (await qc_ops.client.get(path, headers=staff)).content == data
    assert (await qc_ops.client.get(path, headers=qc_ops.buyer(rid("u")))).status_code == 404
    assert (await qc_ops.client.get(path)).status_code == 404
    # A new process on the same database and store still serves it.
    async with serve(create_app(qc_ops_settings.model_copy())) as client:
        r = await client.get(path, headers=staff)
        assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "image/png"


async def test_a_jade_pass_needs_its_checklist_and_the_certificate_shows_it_publicly(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    case = await jade_case_in_inspection(qc_ops, wid)
    inspector = qc_ops.inspector(wid, sub=rid("insp"))
    checklist = await qc_ops.client.get("/v1/qc/checklists/Jade", headers=qc_ops.buyer(rid("u")))
    assert checklist.status_code == 200 and checklist.json()["min_photos"] == 2
    assert {m["name"] for m in checklist.json()["measurements"]} >= {"weight_g", "refractive_index", "treatment"}
    url = f"/v1/qc/cases/{case['case_id']}/verdict"

    legacy = {"result": "PASSED", "findings": "ok", "photos": ["https://img.example/1.jpg"]}
    r = await qc_ops.client.post(url, json=legacy, headers=inspector)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "CHECKLIST_INCOMPLETE" and error["details"]["seal_missing"] is True
    assert set(error["details"]["missing_measurements"]) == set(JADE) and error["details"]["photos_given"] == 0
    one_photo = await photos(qc_ops, inspector, 1)
    partial = {**passing(one_photo), "measurements": {k: v for k, v in JADE.items() if k != "treatment"}}
    r = await qc_ops.client.post(url, json=partial, headers=inspector)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["missing_measurements"] == ["treatment"]
    assert r.json()["error"]["details"]["photos_required"] == 2
    unknown = await qc_ops.client.post(url, json=passing(["ev_nope", *one_photo]), headers=inspector)
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "UNKNOWN_EVIDENCE"
    assert (await qc_ops.case_of(case["order_id"]))["status"] == "IN_INSPECTION"  # refusals changed nothing

    ids = await photos(qc_ops, inspector, 2)
    body = passing(ids)
    r = await qc_ops.client.post(url, json=body, headers=inspector)
    assert r.status_code == 200, r.text
    verdict = r.json()["verdict"]
    assert verdict["seal_id"] == body["seal_id"] and verdict["measurements"]["transparency"] == "TRANSLUCENT"
    number = r.json()["certificate_no"]
    passed = await qc_ops.events.wait_for(lambda e: e.type == "xinren.qc.passed" and e.key == case["order_id"])
    assert passed[0].data["seal_id"] == body["seal_id"]

    cert = await qc_ops.client.get(f"/v1/certificates/{number.lower()}")
    assert cert.status_code == 200
    c = cert.json()
    assert c["status"] == "VALID" and c["seal_id"] == body["seal_id"] and c["measurements"]["weight_g"] == 41.2
    assert c["qr"] == f"/v1/certificates/{number}" and c["inspected_at"]
    assert [p for p in c["photos"] if p.startswith("/v1/evidence/")] == [f"/v1/evidence/{i}" for i in ids]
    text = cert.text
    for private in (case["buyer_id"], case["shop_id"], "6000000", "unit_price_fen", "王芳", "玉器街", "phone"):
        assert private not in text
    # A certificate's photos are public; the same seal cannot certify another item.
    assert (await qc_ops.client.get(c["photos"][-1])).status_code == 200
    other = await jade_case_in_inspection(qc_ops, wid)
    r = await qc_ops.client.post(
        f"/v1/qc/cases/{other['case_id']}/verdict", json={**passing(ids), "seal_id": body["seal_id"]}, headers=inspector
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "SEAL_IN_USE"


async def test_an_appeal_is_reviewed_by_another_inspector_and_only_the_final_verdict_is_published(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    case = await jade_case_in_inspection(qc_ops, wid)
    first, second = qc_ops.inspector(wid, sub="insp-first"), qc_ops.inspector(wid, sub=rid("insp-second"))
    cid, order_id = case["case_id"], case["order_id"]
    failed = {"result": "FAILED", "failure_reason": "COUNTERFEIT", "findings": "resin filled (B货)"}
    r = await qc_ops.client.post(f"/v1/qc/cases/{cid}/verdict", json=failed, headers=first)
    assert r.status_code == 200 and r.json()["verdict"]["final_at"] is None and r.json()["appeal_due_at"]
    assert await qc_ops.outbox_count("xinren.qc.failed", order_id) == 0  # not final yet
    held = await qc_ops.dispatch(r.json())
    assert held.status_code == 409 and held.json()["error"]["code"] == "VERDICT_NOT_FINAL"

    seller = qc_ops.seller(case["shop_id"])
    evidence = await photos(qc_ops, seller, 1)
    stranger = await qc_ops.client.post(
        f"/v1/qc/cases/{cid}/appeal", json={"reason": "x"}, headers=qc_ops.seller(rid("shop"))
    )
    assert stranger.status_code == 404
    appeal = {"reason": "the lab report says type A", "evidence_ids": evidence}
    r = await qc_ops.client.post(f"/v1/qc/cases/{cid}/appeal", json=appeal, headers=seller)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "APPEALED" and r.json()["appeal"]["status"] == "OPEN"
    # The seller's evidence is now the case's: the inspectors see it.
    assert (await qc_ops.client.get(f"/v1/evidence/{evidence[0]}", headers=second)).status_code == 200

    ids = await photos(qc_ops, second, 2)
    same = await qc_ops.client.post(f"/v1/qc/cases/{cid}/review", json=passing(ids), headers=first)
    assert same.status_code == 403 and same.json()["error"]["code"] == "SAME_INSPECTOR"
    r = await qc_ops.client.post(f"/v1/qc/cases/{cid}/review", json=passing(ids), headers=second)
    assert r.status_code == 200, r.text
    reviewed = r.json()
    assert reviewed["status"] == "PASSED" and reviewed["certificate_no"] and reviewed["verdict"]["final_at"]
    assert reviewed["appeal"]["status"] == "OVERTURNED" and reviewed["appeal"]["first_verdict"]["result"] == "FAILED"
    assert reviewed["appeal"]["first_verdict"]["inspector_id"] == "insp-first"
    assert [e["status"] for e in reviewed["timeline"]][-3:] == ["FAILED", "APPEALED", "PASSED"]
    passed = await qc_ops.events.wait_for(lambda e: e.type == "xinren.qc.passed" and e.key == order_id)
    assert passed[0].data["reviewed_by"] == reviewed["verdict"]["inspector_id"]
    assert await qc_ops.outbox_count("xinren.qc.failed", order_id) == 0  # the failure never became final
    late = await qc_ops.client.post(f"/v1/qc/cases/{cid}/appeal", json={"reason": "again"}, headers=seller)
    assert late.status_code == 409


async def test_an_unappealed_failure_becomes_final_when_the_window_closes(make_database, kafka_bootstrap, qc_ops):
    settings = qc_ops.app.state.settings.model_copy(
        update={"database_url": await make_database("qc"), "appeal_window_seconds": 1.0}
    )
    app = create_app(settings)
    async with serve(app) as client:
        qc = Qc(app, client, qc_ops.publish, qc_ops.events)
        wid = (await qc.warehouse("jade"))["warehouse_id"]
        case = await jade_case_in_inspection(qc, wid)
        failed = {"result": "FAILED", "failure_reason": "DAMAGED", "findings": "cracked"}
        r = await client.post(f"/v1/qc/cases/{case['case_id']}/verdict", json=failed, headers=qc.inspector(wid))
        assert r.status_code == 200
        event = await qc.events.wait_for(lambda e: e.type == "xinren.qc.failed" and e.key == case["order_id"])
        assert event[0].data["inspector_id"] == "insp-1" and event[0].data.get("reviewed_by") is None
        late = await client.post(
            f"/v1/qc/cases/{case['case_id']}/appeal", json={"reason": "no"}, headers=qc.seller(case["shop_id"])
        )
        assert late.status_code == 409 and late.json()["error"]["code"] == "APPEAL_WINDOW_CLOSED"


async def test_a_return_with_a_broken_seal_is_reported_for_the_platform_to_decide(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    case = await jade_case_in_inspection(qc_ops, wid)
    inspector = qc_ops.inspector(wid, sub=rid("insp"))
    body = passing(await photos(qc_ops, inspector, 2))
    r = await qc_ops.client.post(f"/v1/qc/cases/{case['case_id']}/verdict", json=body, headers=inspector)
    assert r.status_code == 200
    assert (await qc_ops.dispatch(r.json())).status_code == 200
    staff = qc_ops.staff(wid)
    check = {"seal_id": body["seal_id"], "seal_intact": False, "measurements": JADE, "findings": "tag torn"}
    nothing = await qc_ops.client.post(f"/v1/qc/cases/{case['case_id']}/return-check", json=check, headers=staff)
    assert nothing.status_code == 409 and nothing.json()["error"]["code"] == "NO_RETURN_EXPECTED"

    aftersale_id = rid("as")
    shipped = AfterSaleReturnShipped(
        order_id=case["order_id"],
        case_id=aftersale_id,
        type=AfterSaleType.RETURN_AND_REFUND,
        reason=AfterSaleReason.NOT_AS_DESCRIBED,
        amount_fen=6_000_000,
        status=AfterSaleStatus.RETURN_SHIPPED,
    )
    await qc_ops.deliver(shipped, source=REFUND_SOURCE)
    await qc_ops.deliver(shipped, source=REFUND_SOURCE)  # a redelivery expects it once
    queue = await qc_ops.client.get(f"/v1/warehouses/{wid}/queue", headers=staff)
    assert [x["aftersale_case_id"] for x in queue.json()["returns"]] == [aftersale_id]

    r = await qc_ops.client.post(f"/v1/qc/cases/{case['case_id']}/return-check", json=check, headers=staff)
    assert r.status_code == 200, r.text
    [ret] = r.json()["returns"]
    assert ret["status"] == "SEAL_BROKEN" and ret["seal_intact"] is False
    event = await qc_ops.events.wait_for(lambda e: e.type == "xinren.qc.return_checked" and e.key == case["order_id"])
    assert (event[0].data["outcome"], event[0].data["aftersale_case_id"]) == ("SEAL_BROKEN", aftersale_id)
    again = await qc_ops.client.post(
        f"/v1/qc/cases/{case['case_id']}/return-check", json={**check, "seal_intact": True}, headers=staff
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "RETURN_ALREADY_CHECKED"


async def test_an_intact_return_that_measures_as_certified_is_verified(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    case = await jade_case_in_inspection(qc_ops, wid)
    inspector = qc_ops.inspector(wid, sub=rid("insp"))
    body = passing(await photos(qc_ops, inspector, 2))
    r = await qc_ops.client.post(f"/v1/qc/cases/{case['case_id']}/verdict", json=body, headers=inspector)
    assert (await qc_ops.dispatch(r.json())).status_code == 200
    await qc_ops.deliver(
        AfterSaleReturnShipped(
            order_id=case["order_id"],
            case_id=rid("as"),
            type=AfterSaleType.RETURN_AND_REFUND,
            reason=AfterSaleReason.NO_REASON_7D,
            amount_fen=6_000_000,
            status=AfterSaleStatus.RETURN_SHIPPED,
        ),
        source=REFUND_SOURCE,
    )
    check = {"seal_id": body["seal_id"].lower(), "seal_intact": True, "measurements": {**JADE, "weight_g": 41.25}}
    r = await qc_ops.client.post(f"/v1/qc/cases/{case['case_id']}/return-check", json=check, headers=qc_ops.staff(wid))
    assert r.status_code == 200 and r.json()["returns"][0]["status"] == "VERIFIED", r.text


async def test_admin_changes_a_warehouse_and_staff_see_its_queue_and_figures(qc_ops):
    wid = await _jade_warehouse(qc_ops)
    staff = qc_ops.staff(wid)
    r = await qc_ops.client.patch(
        f"/v1/warehouses/{wid}", json={"categories": ["jade", "Jewellery"], "capacity": 5}, headers=qc_ops.admin()
    )
    assert r.status_code == 200, r.text
    assert r.json()["categories"] == ["jade", "jewellery"] and r.json()["capacity"] == 5
    forbidden = await qc_ops.client.patch(f"/v1/warehouses/{wid}", json={"capacity": 1}, headers=staff)
    assert forbidden.status_code == 403
    missing = await qc_ops.client.patch(f"/v1/warehouses/{rid('wh')}", json={"capacity": 1}, headers=qc_ops.admin())
    assert missing.status_code == 404

    case = await jade_case_in_inspection(qc_ops, wid)
    queue = (await qc_ops.client.get(f"/v1/warehouses/{wid}/queue", headers=staff)).json()
    assert case["case_id"] in [x["case_id"] for x in queue["arrived"]]
    assigned = await qc_ops.client.post(
        f"/v1/qc/cases/{case['case_id']}/assign", json={"inspector_id": "insp-zhou"}, headers=staff
    )
    assert assigned.status_code == 200 and assigned.json()["assigned_inspector_id"] == "insp-zhou"
    queue = (await qc_ops.client.get(f"/v1/warehouses/{wid}/queue", headers=staff)).json()
    [item] = [x for x in queue["awaiting_verdict"] if x["case_id"] == case["case_id"]]
    assert item["assigned_inspector_id"] == "insp-zhou" and item["age_seconds"] >= 0
    other = await qc_ops.client.post(
        f"/v1/qc/cases/{case['case_id']}/verdict",
        json=passing(await photos(qc_ops, staff, 2)),
        headers=qc_ops.inspector(wid, sub="insp-li"),
    )
    assert other.status_code == 403 and other.json()["error"]["code"] == "NOT_ASSIGNED_INSPECTOR"
    zhou = qc_ops.inspector(wid, sub="insp-zhou")
    r = await qc_ops.client.post(
        f"/v1/qc/cases/{case['case_id']}/verdict", json=passing(await photos(qc_ops, zhou, 2)), headers=zhou
    )
    assert r.status_code == 200, r.text
    stats = await qc_ops.client.get(f"/v1/warehouses/{wid}/stats", headers=staff)
    assert stats.status_code == 200, stats.text
    s = stats.json()
    assert (s["verdicts"], s["passed"], s["pass_rate"], s["capacity"]) == (1, 1, 1.0, 5)
    assert s["average_seconds_to_verdict"] is not None and s["average_seconds_to_verdict"] >= 0
    elsewhere = await qc_ops.client.get(f"/v1/warehouses/{wid}/stats", headers=qc_ops.staff(rid("wh")))
    assert elsewhere.status_code == 403
    metrics = (await qc_ops.client.get("/metrics")).text
    assert f'xinren_qc_warehouse_pass_rate{{warehouse="{wid}"}} 1.0' in metrics


async def test_the_queue_gauges_count_each_lane_in_the_database_as_the_queue_shows_it(qc_ops):
    """The gauges' round counts every lane of every warehouse with one grouped read (it runs in every worker every
    30 s, and a warehouse holds thousands of open cases: loading each one stalled the consumer on the same loop),
    and its counts are the lanes the staff's queue shows."""
    from xinren_qc import workqueue
    from xinren_shared.testing.roundtrips import RoundTrips

    wid = await _jade_warehouse(qc_ops)
    staff = qc_ops.staff(wid)
    for _ in range(2):  # two parcels on their way
        order = paid(rid("ord"), "jade", buyer_id=rid("u"), shop_id=rid("shop"), warehouse_id=wid)
        await qc_ops.deliver(order)
        await qc_ops.case_in(order.order_id, "AWAITING_INBOUND")
    await jade_case_in_inspection(qc_ops, wid)  # arrived, nobody assigned
    assigned = await jade_case_in_inspection(qc_ops, wid)
    r = await qc_ops.client.post(
        f"/v1/qc/cases/{assigned['case_id']}/assign", json={"inspector_id": "i-1"}, headers=staff
    )
    assert r.status_code == 200, r.text
    judged = await jade_case_in_inspection(qc_ops, wid)
    inspector = qc_ops.inspector(wid, sub=rid("insp"))
    body = passing(await photos(qc_ops, inspector, 2))
    r = await qc_ops.client.post(f"/v1/qc/cases/{judged['case_id']}/verdict", json=body, headers=inspector)
    assert r.status_code == 200, r.text

    runtime = qc_ops.runtime
    with RoundTrips(runtime.engine.sync_engine) as rec:
        since = rec.mark()
        await workqueue.refresh_metrics(runtime)
    sent = rec.trips[since:]
    assert any("GROUP BY qc_case.warehouse_id" in t for t in sent), sent  # the lanes counted by the database
    assert not any(t.startswith("SELECT qc_case.case_id") for t in sent), sent  # no case loaded
    metrics = (await qc_ops.client.get("/metrics")).text
    queue = (await qc_ops.client.get(f"/v1/warehouses/{wid}/queue", headers=staff)).json()
    expected = {"inbound": 2, "arrived": 1, "awaiting_verdict": 1, "awaiting_dispatch": 1}
    for lane, n in expected.items():
        assert f'xinren_qc_warehouse_queue{{lane="{lane}",warehouse="{wid}"}} {float(n)}' in metrics, lane
        assert len(queue[lane]) == n, (lane, queue[lane])
    oldest = f'xinren_qc_warehouse_queue_oldest_seconds{{lane="inbound",warehouse="{wid}"}}'
    assert float(next(line for line in metrics.splitlines() if line.startswith(oldest)).split()[-1]) > 0


async def test_each_lane_of_the_queue_is_cut_on_its_own_and_counted_whole(qc_ops, monkeypatch):
    """Many parcels on their way in do not crowd the arrived ones out of the staff's queue: each lane lists its
    oldest cases up to the limit (here 1), and `counts` says how many it holds."""
    from xinren_qc import workqueue

    wid = await _jade_warehouse(qc_ops)
    inbound = []
    for _ in range(5):
        order = paid(rid("ord"), "jade", buyer_id=rid("u"), shop_id=rid("shop"), warehouse_id=wid)
        await qc_ops.deliver(order)
        inbound.append((await qc_ops.case_in(order.order_id, "AWAITING_INBOUND"))["case_id"])
    arrived = await jade_case_in_inspection(qc_ops, wid)
    monkeypatch.setattr(workqueue, "LANE_LIMIT", 1)
    r = await qc_ops.client.get(f"/v1/warehouses/{wid}/queue", headers=qc_ops.staff(wid))
    assert r.status_code == 200, r.text
    queue = r.json()
    assert [x["case_id"] for x in queue["arrived"]] == [arrived["case_id"]]
    assert [x["case_id"] for x in queue["inbound"]] == [inbound[0]]  # the one waiting longest
    assert queue["counts"] == {"inbound": 5, "arrived": 1, "awaiting_verdict": 0, "awaiting_dispatch": 0}
