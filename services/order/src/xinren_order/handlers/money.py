"""Money the after-sales service asks for: refunds and compensations, each moved once per request id."""

from __future__ import annotations

import hashlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts.vocabulary import CompensationPayer
from xinren_shared.ids import utcnow

from .. import commission, domain, events_out, ledger
from ..domain import ORDER, FundingPlan, FundingSource, OrderStatus
from ..models import CompensationRecord, RefundRecord, SalesOrder, Shop
from ..repository import load_order, load_shop
from ..settings import OrderSettings
from .lifecycle import TIMER_AUTO_CONFIRM, TIMER_SHIPPING_LATE, TIMER_UNPAID, cancel_timers, move, release_stock

log = logging.getLogger("xinren.order")


def request_key(order_id: str, ident: str) -> str:
    """The idempotency key of a money request, scoped to its order and short enough for any key column."""
    key = f"{order_id}:{ident}"
    return key if len(key) <= 180 else f"{order_id}:sha256:{hashlib.sha256(ident.encode()).hexdigest()}"


async def _pay_out(
    session: AsyncSession, order: SalesOrder, shop: Shop | None, plan: FundingPlan, *, key: str, kind: str, memo: str
) -> int | None:
    """Books `plan` as paid out to the buyer; what the platform guarantee fronts (PLATFORM_GUARANTEE, not
    QC_GUARANTEE), the shop owes it. The shop's row is locked by the caller before it reads the balances the plan is
    made of."""
    entries = [
        (domain.source_account(s, order_id=order.order_id, shop_id=order.shop_id, host_id=order.host_id), -a)
        for s, a in plan.parts
    ]
    txn_id = await ledger.post(
        session,
        key=key,
        kind=kind,
        entries=[*entries, (domain.EXTERNAL_PAYOUTS, plan.total_fen)],
        order_id=order.order_id,
        shop_id=order.shop_id,
        memo=memo,
    )
    if shop is not None:
        shop.guarantee_debt_fen += plan.amount(FundingSource.PLATFORM_GUARANTEE)
    return txn_id


async def on_refund_requested(
    session: AsyncSession, event: ae.RefundRequested, ctx: EventContext[OrderSettings]
) -> None:
    """Moves a refund once per refund_id (else case_id): escrow first; after release the platform's and the host's
    commission on the refunded money go back in proportion (the host's from its pending share first), and the
    seller's part comes from the order's pending share, then (after the hold) its balance, the deposit, then the
    platform guarantee (the shop then owes it). More than remains refundable moves nothing."""
    runtime = ctx.runtime
    key = request_key(event.order_id, event.refund_id or f"case:{event.case_id}")
    order = await load_order(session, event.order_id, lock=True)
    if order is None:
        log.info("ignoring refund.requested for unknown order %s", event.order_id)
        return
    if (record := await session.get(RefundRecord, key)) is not None:
        # Answered before: the same request again moves nothing. A repair asking again (the asking service lost
        # the answer, e.g. its database restored from before it came) gets the same answer again.
        if event.reask:
            await runtime.outbox.add(session, await _answer_again(session, order, event, record))
        return
    refundable = domain.refundable_fen(order.paid_fen, order.refunded_fen)

    def answer(outcome: str, source: str, txn_id: int | None = None) -> RefundRecord:
        return RefundRecord(
            refund_key=key, order_id=event.order_id, case_id=event.case_id, amount_fen=event.amount_fen,
            outcome=outcome, source=source, refundable_fen=refundable, ledger_transaction_id=txn_id,
        )  # fmt: skip

    if event.amount_fen <= 0 or event.amount_fen > refundable:
        reason = "INVALID_AMOUNT" if event.amount_fen <= 0 else "EXCEEDS_REFUNDABLE"
        session.add(answer("REJECTED", reason))
        await runtime.outbox.add(
            session, events_out.refund_rejected(order, event, refundable_fen=refundable, reason=reason)
        )
        return
    shop = await load_shop(session, order.shop_id, lock=True)
    escrow, seller, deposit = await ledger.balances(
        session,
        domain.escrow_account(order.order_id),
        domain.seller_account(order.shop_id),
        domain.deposit_account(order.shop_id),
    )
    platform_back = host_back = host_pending_back = seller_pending = 0
    if escrow < event.amount_fen:  # released: only then is there commission to take back (one more query)
        money = await ledger.order_money(session, order.order_id, order.shop_id, order.host_id)
        platform_back, host_total = commission.clawback(money.shares, event.amount_fen - max(0, escrow))
        # The host's share from what of it is still pending, then from its available balance as far as that goes
        # (it may have been paid out: the seller's part covers the rest).
        host_pending_back = min(host_total, money.host_pending_fen)
        if host_total > host_pending_back and order.host_id:
            available = await ledger.locked_balance(session, domain.host_account(order.host_id), host_id=order.host_id)
            host_back = min(host_total - host_pending_back, max(0, available))
        seller_pending = money.seller_pending_fen
        if money.in_hold:  # the seller's available money is other orders' settled money: untouched during the hold
            seller = 0
    plan = domain.plan_refund(
        event.amount_fen,
        escrow,
        seller,
        deposit,
        platform_back_fen=platform_back,
        host_back_fen=host_back,
        host_pending_back_fen=host_pending_back,
        seller_pending_fen=seller_pending,
    )
    memo = f"refund for case {event.case_id}"
    txn_id = await _pay_out(session, order, shop, plan, key=f"refund:{key}", kind="REFUND", memo=memo)
    order.refunded_fen += event.amount_fen
    order.updated_at = utcnow()
    session.add(answer("REFUNDED", plan.label, txn_id))
    if order.refunded_fen >= order.paid_fen and ORDER.can(order.status, OrderStatus.REFUNDED):
        await _refunded_in_full(session, ctx, order, case_id=event.case_id)
    await runtime.outbox.add(
        session,
        events_out.refunded(
            order,
            event,
            source=plan.label,
            host_clawback_fen=plan.amount(FundingSource.HOST_COMMISSION) + plan.amount(FundingSource.HOST_PENDING),
            platform_clawback_fen=plan.amount(FundingSource.PLATFORM_COMMISSION),
        ),
    )


async def _answer_again(
    session: AsyncSession, order: SalesOrder, event: ae.RefundRequested, record: RefundRecord
) -> oe.OrderRefunded | oe.OrderRefundRejected:
    if record.outcome != "REFUNDED":
        return events_out.refund_rejected(
            order, event, refundable_fen=record.refundable_fen, reason=record.source or "EXCEEDS_REFUNDABLE"
        )
    back = {domain.PLATFORM_COMMISSION: 0, "host": 0}
    if record.ledger_transaction_id is not None:
        for account, amount in (await ledger.entries_of(session, [record.ledger_transaction_id])).get(
            record.ledger_transaction_id, []
        ):
            if amount < 0 and account == domain.PLATFORM_COMMISSION:
                back[domain.PLATFORM_COMMISSION] -= amount
            elif amount < 0 and account.startswith(("host:", "host_pending:")):
                back["host"] -= amount
    return events_out.refunded(
        order,
        event,
        source=record.source or "",
        host_clawback_fen=back["host"],
        platform_clawback_fen=back[domain.PLATFORM_COMMISSION],
    )


async def _refunded_in_full(
    session: AsyncSession, ctx: EventContext[OrderSettings], order: SalesOrder, *, case_id: str
) -> None:
    # Never shipped (to the buyer or to a QC warehouse): the goods are still the seller's to sell. Judged by the
    # shipment, not the status: a QC expiry (the seller never sent the item in) moves the order to QC_FAILED, and
    # its refund, on another topic, may be consumed before or after it.
    goods_never_left = order.shipped_at is None
    move(
        session,
        order,
        OrderStatus.REFUNDED,
        at=order.updated_at,
        actor=f"aftersales:{case_id}",
        reason="refunded in full",
    )
    order.auto_confirm_remaining_seconds = None
    await cancel_timers(session, ctx.runtime, order.order_id, TIMER_AUTO_CONFIRM, TIMER_SHIPPING_LATE, TIMER_UNPAID)
    if goods_never_left:
        await release_stock(session, order)


async def on_compensation_granted(
    session: AsyncSession, event: ae.CompensationGranted, ctx: EventContext[OrderSettings]
) -> None:
    """Pays a compensation once per compensation_id: SHOP_DEPOSIT from the deposit (the guarantee covering a
    shortfall, owed by the shop), PLATFORM from the platform subsidy, PLATFORM_GUARANTEE (a certified item found
    counterfeit) from the platform guarantee as its own liability: never the deposit, no debt for the shop. Not part
    of "refunds never exceed paid"."""
    order = await load_order(session, event.order_id, lock=True)
    if order is None:
        log.info("ignoring compensation.granted for unknown order %s", event.order_id)
        return
    key = request_key(order.order_id, event.compensation_id)
    if await session.get(CompensationRecord, key) is not None:
        # Paid before: nothing moves again; a repair asking again hears the answer again (it may have lost it).
        if event.reask:
            await ctx.runtime.outbox.add(session, events_out.compensation_paid(order, event))
        return
    if event.amount_fen <= 0:
        log.warning("ignoring compensation %s of %d fen", event.compensation_id, event.amount_fen)
        return
    memo = f"{event.kind.value} compensation"
    if event.payer is CompensationPayer.PLATFORM_GUARANTEE:
        plan = domain.plan_compensation(event.amount_fen, event.payer.value, 0)
        shop, kind = None, "GUARANTEE_COMPENSATION"
    else:
        shop = await load_shop(session, order.shop_id, lock=True)
        deposit = await ledger.balance(session, domain.deposit_account(order.shop_id))
        plan, kind = domain.plan_compensation(event.amount_fen, event.payer.value, deposit), "COMPENSATION"
    txn_id = await _pay_out(session, order, shop, plan, key=f"compensation:{key}", kind=kind, memo=memo)
    session.add(
        CompensationRecord(
            compensation_id=key,
            order_id=order.order_id,
            kind=event.kind.value,
            payer=event.payer.value,
            amount_fen=event.amount_fen,
            source=plan.label,
            ledger_transaction_id=txn_id,
        )
    )
    await ctx.runtime.outbox.add(session, events_out.compensation_paid(order, event))
