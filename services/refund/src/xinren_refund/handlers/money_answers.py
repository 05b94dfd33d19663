"""The order service's answers to the money this service asked for: refunded, refund rejected, compensation paid."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderCompensationPaid, OrderRefunded, OrderRefundRejected
from xinren_shared.contracts.vocabulary import AfterSaleType

from .. import repository
from ..domain import CASES, COMPENSATIONS, CloseCode, CompensationStatus, S, TimerKind
from ..settings import RefundSettings
from . import cases
from .cases import ORDER_SERVICE, CaseContext
from .projection import advance

log = logging.getLogger("xinren.refund")

Ctx = EventContext[RefundSettings]


async def on_order_refunded(s: AsyncSession, event: OrderRefunded, ctx: Ctx) -> None:
    view = await repository.lock_order(s, event.order_id)
    if view is None:
        return
    cx = CaseContext.of(s, ctx.runtime, ORDER_SERVICE)
    view.refunded_total_fen = max(view.refunded_total_fen, event.refunded_total_fen)
    if view.paid_fen and view.refunded_total_fen >= view.paid_fen:
        advance(view, "REFUNDED", cx.now)
    case = await repository.lock_case(s, event.case_id)
    if case is None or case.order_id != event.order_id:
        return  # a refund this service did not ask for: the total above is all it changes here
    if case.type == AfterSaleType.EXCHANGE:  # a cheaper variant's price difference: the case goes on its way
        if case.refunded_at is None:
            case.refunded_fen, case.refunded_at = event.amount_fen, cx.now
            cx.note(case, f"price difference of {event.amount_fen} fen refunded from {event.source}")
            await cx.cancel(TimerKind.REFUND_RESEND, f"{case.case_id}:{case.refund_attempts}")
        return
    if not CASES.can(case.status, S.REFUNDED):
        if case.status != S.REFUNDED:
            log.error("order.refunded for case %s in status %s", case.case_id, case.status)
        return
    case.refunded_fen = event.amount_fen
    case.refunded_at = cx.now
    await cases.move(cx, case, S.REFUNDED, f"{event.amount_fen} fen refunded from {event.source}")
    await cx.cancel(TimerKind.REFUND_RESEND, f"{case.case_id}:{case.refund_attempts}")


async def on_order_refund_rejected(s: AsyncSession, event: OrderRefundRejected, ctx: Ctx) -> None:
    view = await repository.lock_order(s, event.order_id)
    if view is None:
        return
    case = await repository.lock_case(s, event.case_id)
    if case is None or case.order_id != event.order_id or case.status != S.REFUNDING:
        return  # stale or not ours
    # Nothing moved: the case ends CLOSED with the order service's reason, and its amount is free again.
    reason = (
        f"refund rejected by the order service: {event.reason} "
        f"(requested {event.amount_fen} fen, refundable {event.refundable_fen} fen)"
    )
    cx = CaseContext.of(s, ctx.runtime, ORDER_SERVICE)
    await cases.close(cx, case, S.CLOSED, CloseCode.REFUND_REJECTED, reason)
    await cx.cancel(TimerKind.REFUND_RESEND, f"{case.case_id}:{case.refund_attempts}")


async def on_order_compensation_paid(s: AsyncSession, event: OrderCompensationPaid, ctx: Ctx) -> None:
    # The order first, like every writer: the re-send timer locks it before the compensation.
    await repository.lock_order(s, event.order_id)
    cp = await repository.lock_compensation(s, event.compensation_id, order_id=event.order_id)
    if cp is None or not COMPENSATIONS.move(cp.status, CompensationStatus.PAID):
        return
    cx = CaseContext.of(s, ctx.runtime)
    cp.status = CompensationStatus.PAID.value
    cp.paid_at = cx.now
    cp.updated_at = cx.now
    await cx.cancel(TimerKind.COMPENSATION_RESEND, f"{cp.compensation_id}:{cp.attempts}")
