"""Completing an order: its escrow is released to the platform, the host and the seller, and a shop that owes the
platform guarantee repays it from what it just earned."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.runtime import ServiceRuntime

from .. import domain, events_out, ledger
from ..domain import Line, OrderStatus
from ..models import SalesOrder
from ..repository import load_shop
from ..settings import OrderSettings
from .lifecycle import TIMER_AUTO_CONFIRM, cancel_timers, move


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
    if held > 0:
        entries = [
            (escrow, -held),
            (domain.PLATFORM_COMMISSION, split.platform_fen),
            (domain.seller_account(order.shop_id), split.seller_fen),
        ]
        if split.host_fen:
            entries.append((domain.host_account(order.host_id or ""), split.host_fen))
        await ledger.post(
            session,
            key=f"release:{order.order_id}",
            kind="RELEASE",
            entries=entries,
            order_id=order.order_id,
            shop_id=order.shop_id,
        )
    reason = "auto-confirmed" if auto else "buyer confirmed receipt"
    move(session, order, OrderStatus.COMPLETED, at=at, actor=actor, reason=reason)
    order.completed_at = at
    order.auto_confirm_remaining_seconds = None
    await cancel_timers(session, runtime, order.order_id, TIMER_AUTO_CONFIRM)
    await runtime.outbox.add(session, events_out.completed(order, split, auto=auto))
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
