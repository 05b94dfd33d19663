"""Completing an order: its escrow is released to the platform, and the seller's and the host's shares are held
(pending) until the order's after-sales window closes with no case open; then they become available, and a shop that
owes the platform guarantee repays it from what it just earned."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.contracts.vocabulary import TrustRight
from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import domain, events_out, ledger
from ..domain import Line, OrderStatus
from ..models import SalesOrder
from ..repository import case_open, load_order, load_shop
from ..settings import OrderSettings
from .lifecycle import TIMER_AUTO_CONFIRM, cancel_timers, move

TIMER_HOLD_ENDS = "settlement.hold_ends"


def lines_of(order: SalesOrder) -> list[Line]:
    """The order's lines with the host rate each took from its cooperation (orders placed before cooperations
    existed carry the order's one rate)."""
    default_host_bps = order.host_commission_bps if order.host_id else 0
    return [
        Line(
            i["sku_id"],
            i["category"],
            i["unit_price_fen"],
            i["quantity"],
            i.get("qc_required", False),
            host_bps=i.get("host_commission_bps", default_host_bps),
        )
        for i in order.items
    ]


def hold_window(order: SalesOrder, settings: OrderSettings) -> timedelta:
    """The after-sales window the shares wait out: the 7-day return window when the shop promised it."""
    seven_day = TrustRight.SEVEN_DAY_RETURN in order.trust_rights
    return timedelta(seconds=settings.settlement_hold_seconds if seven_day else settings.settlement_hold_short_seconds)


async def complete(
    session: AsyncSession,
    runtime: ServiceRuntime[OrderSettings],
    order: SalesOrder,
    *,
    at: datetime,
    auto: bool,
    actor: str,
) -> None:
    escrow = domain.escrow_account(order.order_id)
    held = await ledger.balance(session, escrow)
    rates = runtime.settings.platform_commission_bps
    split = domain.split_release(held, lines_of(order), rates)
    window = hold_window(order, runtime.settings)
    hold = window.total_seconds() > 0
    if held > 0:
        seller = domain.seller_pending_account if hold else domain.seller_account
        host = domain.host_pending_account if hold else domain.host_account
        entries = [
            (escrow, -held),
            (domain.PLATFORM_COMMISSION, split.platform_fen),
            (seller(order.shop_id), split.seller_fen),
        ]
        if split.host_fen:
            entries.append((host(order.host_id or ""), split.host_fen))
        await ledger.post(
            session,
            key=f"release:{order.order_id}",
            kind="RELEASE",
            entries=entries,
            order_id=order.order_id,
            shop_id=order.shop_id,
        )
        if hold:
            await runtime.timers.schedule(session, TIMER_HOLD_ENDS, order.order_id, at + window)
    reason = "auto-confirmed" if auto else "buyer confirmed receipt"
    move(session, order, OrderStatus.COMPLETED, at=at, actor=actor, reason=reason)
    order.completed_at = at
    order.auto_confirm_remaining_seconds = None
    await cancel_timers(session, runtime, order.order_id, TIMER_AUTO_CONFIRM)
    await runtime.outbox.add(session, events_out.completed(order, split, auto=auto))
    if not hold:
        await repay_guarantee(session, order.shop_id, key=f"repay:{order.order_id}", order_id=order.order_id)


async def on_hold_ends(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[OrderSettings]) -> None:
    """The after-sales window closed: the held shares become available, unless a case is open (looked at again
    later: a case that ends in a refund takes it from the pending shares first)."""
    order = await load_order(session, timer.key, lock=True)
    if order is None:
        return
    if await case_open(session, order.order_id):
        later = utcnow() + timedelta(seconds=runtime.settings.settlement_recheck_seconds)
        await runtime.timers.schedule(session, TIMER_HOLD_ENDS, order.order_id, later)
        return
    await release_hold(session, order)


async def release_hold(session: AsyncSession, order: SalesOrder) -> None:
    """Moves what is left of the order's pending shares to the seller's and the host's available balances, once."""
    money = await ledger.order_money(session, order.order_id, order.shop_id, order.host_id)
    if not money.in_hold:
        return
    entries = [
        (domain.seller_pending_account(order.shop_id), -money.seller_pending_fen),
        (domain.seller_account(order.shop_id), money.seller_pending_fen),
    ]
    if order.host_id:
        entries += [
            (domain.host_pending_account(order.host_id), -money.host_pending_fen),
            (domain.host_account(order.host_id), money.host_pending_fen),
        ]
    if any(amount for _, amount in entries):  # nothing left when refunded in full during the hold
        await ledger.post(
            session,
            key=f"hold_release:{order.order_id}",
            kind="HOLD_RELEASE",
            entries=entries,
            order_id=order.order_id,
            shop_id=order.shop_id,
            memo="after-sales window closed",
        )
    await repay_guarantee(session, order.shop_id, key=f"repay:{order.order_id}", order_id=order.order_id)


async def repay_guarantee(session: AsyncSession, shop_id: str, *, key: str, order_id: str | None) -> None:
    """A shop that owes the platform guarantee repays it from its available balance first."""
    shop = await load_shop(session, shop_id, lock=True)
    if shop is None or shop.guarantee_debt_fen <= 0:
        return
    available = await ledger.balance(session, domain.seller_account(shop_id))
    repay = min(shop.guarantee_debt_fen, available)
    if repay <= 0:
        return
    posted = await ledger.post(
        session,
        key=key,
        kind="DEBT_REPAYMENT",
        entries=[(domain.seller_account(shop_id), -repay), (domain.PLATFORM_GUARANTEE, repay)],
        order_id=order_id,
        shop_id=shop_id,
        memo="repays the platform guarantee",
    )
    if posted is not None:
        shop.guarantee_debt_fen -= repay
