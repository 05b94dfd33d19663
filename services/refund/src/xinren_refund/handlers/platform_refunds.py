"""The platform's own refunds and compensation: a failed or expired quality check, a paid order cancelled before
shipment, a missed shipping promise."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderShippingLate
from xinren_shared.contracts.qc import QcExpired, QcFailed
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleType, CompensationKind, QcFailureReason
from xinren_shared.ids import new_id

from .. import domain, repository
from ..domain import CloseCode, S
from ..models import AfterSaleCase, OrderView
from ..settings import RefundSettings
from . import cases
from .cases import CaseContext

log = logging.getLogger("xinren.refund")

Ctx = EventContext[RefundSettings]


async def open_full_refund(
    cx: CaseContext, view: OrderView, reason: AfterSaleReason, detail: str
) -> AfterSaleCase | None:
    """The platform's own REFUND_ONLY case for everything still refundable, approved at once; one per order."""
    key = f"full-refund:{view.order_id}"
    s = cx.session
    existing = (await s.execute(select(AfterSaleCase).where(AfterSaleCase.system_key == key))).scalar_one_or_none()
    if existing is not None:
        return existing
    if not view.buyer_id or not view.shop_id or view.paid_fen <= 0:
        log.warning("no full refund for order %s: its payment is unknown here", view.order_id)
        return None
    # The buyer's own open cases with nothing in motion are superseded: the platform refunds everything.
    open_cases = await s.execute(
        select(AfterSaleCase)
        .where(
            AfterSaleCase.order_id == view.order_id,
            col(AfterSaleCase.status).in_([x.value for x in domain.SUPERSEDABLE]),
        )
        .with_for_update()
    )
    for other in open_cases.scalars().all():
        note = f"superseded by the platform's full refund ({reason})"
        await cases.close(cx, other, S.CLOSED, CloseCode.SUPERSEDED, note)
    facts = await repository.facts(s, view)
    amount = facts.refundable_fen
    if amount <= 0:
        log.info("no full refund for order %s: nothing is left to refund", view.order_id)
        return None
    case = AfterSaleCase(
        case_id=new_id("as"),
        order_id=view.order_id,
        buyer_id=view.buyer_id,
        shop_id=view.shop_id,
        type=AfterSaleType.REFUND_ONLY.value,
        reason=reason.value,
        status=S.REQUESTED.value,
        amount_fen=amount,
        description=detail,
        origin="SYSTEM",
        system_key=key,
        return_required=False,
        items=_whole_order(facts, amount),
        rules_applied=[reason.value],
        created_at=cx.now,
        updated_at=cx.now,
    )
    await cases.start(cx, case, detail, reviewed=False)
    await cases.approve(cx, case, f"approved at once: {reason}")
    return case


def _whole_order(facts: domain.OrderFacts, amount: int) -> list[dict[str, object]]:
    """Every line, whole, with the amount laid on the lines in order (what each can still refund)."""
    items, left = [], amount
    for line in facts.lines:
        part = min(line.refundable_fen, left)
        left -= part
        items.append(domain.CaseItem(line.sku_id, line.title, line.quantity, part).as_json())
    return items


async def apply_qc_outcome(cx: CaseContext, view: OrderView, outcome: dict[str, Any]) -> None:
    """A failed or expired quality check: the platform refunds everything, and pays for a counterfeit."""
    case = await open_full_refund(cx, view, AfterSaleReason(outcome["reason"]), outcome["detail"])
    if outcome.get("failure") == QcFailureReason.COUNTERFEIT.value:
        await cases.grant(cx, view, CompensationKind.COUNTERFEIT, price_fen=view.paid_fen, case=case)


async def _on_qc_outcome(s: AsyncSession, ctx: Ctx, event: QcFailed | QcExpired, outcome: dict[str, Any]) -> None:
    view = await repository.lock_order(s, event.order_id)
    if view is None or view.paid_fen <= 0:
        # QC events come on another topic than order.paid: keep the outcome until the payment is known here.
        view = view or await repository.upsert_view(
            s, event.order_id, dict(buyer_id=event.buyer_id, shop_id=event.shop_id)
        )
        view.pending_qc_outcome = outcome
        log.warning(
            "%s for order %s before its payment is known here: kept until order.paid", outcome["reason"], event.order_id
        )
        return
    await apply_qc_outcome(CaseContext.of(s, ctx.runtime), view, outcome)


async def on_qc_failed(s: AsyncSession, event: QcFailed, ctx: Ctx) -> None:
    detail = f"quality check {event.case_id} failed: {event.reason}. {event.findings}"
    outcome = {"reason": AfterSaleReason.QC_FAILED.value, "failure": event.reason.value, "detail": detail}
    await _on_qc_outcome(s, ctx, event, outcome)


async def on_qc_expired(s: AsyncSession, event: QcExpired, ctx: Ctx) -> None:
    detail = f"the seller missed the quality-check inbound deadline ({event.case_id})"
    outcome = {"reason": AfterSaleReason.QC_EXPIRED.value, "failure": None, "detail": detail}
    await _on_qc_outcome(s, ctx, event, outcome)


async def on_order_shipping_late(s: AsyncSession, event: OrderShippingLate, ctx: Ctx) -> None:
    view = await repository.lock_order(s, event.order_id)
    if view is None:
        return
    cx = CaseContext.of(s, ctx.runtime)
    await cases.grant(cx, view, CompensationKind.LATE_SHIPMENT, price_fen=view.paid_fen, case=None)
