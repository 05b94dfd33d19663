"""Verified returns: a certified item sent back comes through the quality-check warehouse, whose check decides
what happens to the refund (qc.return_checked): VERIFIED releases it as a received return would; a broken seal
or a mismatch is evidence for the seller, so the platform decides (ARBITRATION)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.qc import QcReturnChecked

from .. import repository
from ..domain import S
from ..settings import RefundSettings
from . import cases
from .cases import CaseContext

log = logging.getLogger("xinren.refund")

QC_SERVICE = "qc-service"


async def on_qc_return_checked(s: AsyncSession, event: QcReturnChecked, ctx: EventContext[RefundSettings]) -> None:
    case, view = await repository.lock_case_with_order(s, event.aftersale_case_id)
    if case is None or view is None:
        log.warning("qc.return_checked names after-sales case %s, unknown here", event.aftersale_case_id)
        return
    if case.status != S.RETURN_SHIPPED.value:
        # Already received (the seller confirmed first), decided, or a redelivery: the check changes nothing here.
        log.info("after-sales case %s is %s; return check %s ignored", case.case_id, case.status, event.outcome)
        return
    cx = CaseContext.of(s, ctx.runtime, QC_SERVICE)
    if event.outcome == "VERIFIED":
        if await cases.move(cx, case, S.RETURN_RECEIVED, "received and verified at the quality-check warehouse"):
            await cases.after_return_received(cx, case, view)
        return
    detail = f"; differs in {', '.join(event.mismatches)}" if event.mismatches else ""
    note = (
        f"the warehouse found the returned item {event.outcome} against certificate {event.certificate_no}"
        f"{detail}: evidence for the seller, the platform decides"
    )
    # Needs RETURN_SHIPPED -> ARBITRATION in the case machine; without it the move raises (retried, then the DLQ).
    await cases.move(cx, case, S.ARBITRATION, note)
