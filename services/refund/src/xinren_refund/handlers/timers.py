"""What happens when nobody acts in time: the review SLA, the return-receipt SLA, the escalation window, and the
money requests the order service has not answered yet."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import events_out, repository
from ..domain import CloseCode, CompensationStatus, S
from ..models import Compensation
from ..settings import RefundSettings
from . import cases, negotiation, replacement
from .cases import CaseContext

log = logging.getLogger("xinren.refund")

Runtime = ServiceRuntime[RefundSettings]


async def on_review_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """Seller silence: the case is approved."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.REQUESTED:
        return
    await cases.approve(CaseContext.of(s, runtime), case, "approved automatically: the seller did not review in time")


async def on_return_receipt_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """Seller silence after the return was shipped: receipt is assumed and the refund proceeds."""
    case, view = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or view is None or case.status != S.RETURN_SHIPPED:
        return
    cx = CaseContext.of(s, runtime)
    if view.certificate_no:
        # A certified item's refund is released only by the warehouse's check; none came in time: the platform.
        await cases.move(cx, case, S.ARBITRATION, "the warehouse has not checked the certified return in time")
        return
    await cases.move(cx, case, S.RETURN_RECEIVED, "receipt assumed: the seller did not confirm in time")
    await cases.after_return_received(cx, case, view)


async def on_return_send_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """The buyer did not send the goods back in time: the case closes and its amount is free again."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.AWAITING_RETURN:
        return
    cx = CaseContext.of(s, runtime)
    await cases.close(cx, case, S.CLOSED, CloseCode.RETURN_NOT_SENT, "the goods were not sent back in time")


async def on_escalation_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """A rejected buyer who did not escalate in time: the rejection is final."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.REJECTED:
        return
    cx = CaseContext.of(s, runtime)
    await cases.close(cx, case, S.CLOSED, CloseCode.NOT_ESCALATED, "not escalated in time: the rejection is final")


async def on_refund_resend(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """No answer yet: the same refund.requested (same refund_id) again; the order service dedupes it."""
    case, _ = await repository.lock_case_with_order(s, timer.payload["case_id"], nowait=True)
    attempt = int(timer.payload.get("attempt", 0))
    if case is None or not cases.awaits_refund(case) or case.refund_attempts != attempt:
        return
    cx = CaseContext.of(s, runtime)
    case.refund_attempts = attempt + 1
    case.updated_at = cx.now
    await cx.publish(events_out.refund_requested(case))
    log.warning("refund %s unanswered: sent again (attempt %d)", case.refund_id, case.refund_attempts)
    await cases.schedule_refund_resend(cx, case)


async def on_compensation_resend(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """No answer yet: the same compensation.granted (same compensation_id) again."""
    cp_id = timer.payload["compensation_id"]
    order_id = (await s.execute(select(Compensation.order_id).where(Compensation.compensation_id == cp_id))).scalar()
    if order_id is None or await repository.lock_order(s, order_id, nowait=True) is None:
        return
    cp = await repository.lock_compensation(s, cp_id)
    attempt = int(timer.payload.get("attempt", 0))
    if cp is None or cp.status != CompensationStatus.GRANTED or cp.attempts != attempt:
        return
    cx = CaseContext.of(s, runtime)
    cp.attempts = attempt + 1
    cp.updated_at = cx.now
    await cx.publish(events_out.compensation_granted(cp))
    log.warning("compensation %s unanswered: sent again (attempt %d)", cp.compensation_id, cp.attempts)
    await cases.schedule_compensation_resend(cx, cp)


async def on_offer_answer_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """The buyer neither accepted nor declined the counter-offer: the case closes (OFFER_NOT_ANSWERED)."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.OFFERED:
        return
    await negotiation.offer_lapsed(CaseContext.of(s, runtime), case)


async def on_evidence_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """No evidence came in time: the case closes (EVIDENCE_NOT_GIVEN)."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.AWAITING_EVIDENCE:
        return
    cx = CaseContext.of(s, runtime)
    await cases.close(cx, case, S.CLOSED, CloseCode.EVIDENCE_NOT_GIVEN, "the evidence asked for did not come in time")


async def on_replacement_ship_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """The seller did not ship the replacement in time: the platform steps in."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.AWAITING_REPLACEMENT:
        return
    cx = CaseContext.of(s, runtime)
    await cases.move(cx, case, S.ARBITRATION, "the seller did not ship the replacement in time")


async def on_replacement_receipt_deadline(s: AsyncSession, timer: DueTimer, runtime: Runtime) -> None:
    """Neither a delivery report nor the buyer's confirmation: the replacement counts as received."""
    case, _ = await repository.lock_case_with_order(s, timer.key, nowait=True)
    if case is None or case.status != S.REPLACEMENT_SHIPPED:
        return
    await replacement.complete(CaseContext.of(s, runtime), case, "SYSTEM")
