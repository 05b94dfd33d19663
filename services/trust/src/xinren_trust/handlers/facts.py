"""What the other services' events tell the trust service: each fact becomes observations of the shop, the host and
the products concerned, and violations on their ladders; the scores concerned are recomputed at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared import sql
from xinren_shared.consumer import EventContext
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts import qc as qe
from xinren_shared.contracts.trust import TrustSubject, Violation
from xinren_shared.contracts.vocabulary import AfterSaleReason, QcFailureReason

from ..models import CaseFact, OrderFact
from ..settings import TrustSettings
from .enforcement import violate
from .scoring import observe, recompute

Ctx = EventContext[TrustSettings]
SHOP, HOST, PRODUCT = TrustSubject.SHOP, TrustSubject.HOST, TrustSubject.PRODUCT

# Cases the platform opens itself: no buyer complaint, no seller response time.
PLATFORM_REASONS = {AfterSaleReason.QC_FAILED, AfterSaleReason.QC_EXPIRED, AfterSaleReason.CANCELLED_BEFORE_SHIPMENT}
# Reasons that speak of the product itself.
QUALITY_REASONS = {AfterSaleReason.QUALITY_ISSUE, AfterSaleReason.NOT_AS_DESCRIBED, AfterSaleReason.COUNTERFEIT}
HOUR = 3600.0


def _when(ctx: Ctx) -> datetime:
    return ctx.envelope.time


async def _fact(session: AsyncSession, order_id: str) -> OrderFact | None:
    return await session.get(OrderFact, order_id)


def _facts(event: oe.OrderCreated | oe.OrderPaid) -> dict[str, Any]:
    return {
        "shop_id": event.shop_id,
        "host_id": event.host_id,
        "sku_ids": sorted({i.sku_id for i in event.items}),
        "trust_rights": [r.value for r in event.trust_rights],
    }


async def _remember(session: AsyncSession, event: oe.OrderPaid) -> OrderFact:
    values = _facts(event)
    ship_by = {"ship_by": event.ship_by} if event.ship_by else {}
    await session.execute(
        insert(OrderFact)
        .values(order_id=event.order_id, **values, **ship_by)
        .on_conflict_do_update(index_elements=["order_id"], set_={**values, **ship_by})
    )
    fact = await session.get(OrderFact, event.order_id, populate_existing=True)
    assert fact is not None
    return fact


async def _rescore(
    session: AsyncSession,
    ctx: Ctx,
    fact: OrderFact | None,
    shop_id: str | None,
    *,
    products: bool,
    host_id: str | None = None,
    sku_ids: list[str] | None = None,
) -> None:
    """Recomputes the shop, then the host, then the products (always in this order: locks in one order): the
    order's, as its fact knows them, else as the event told them (`host_id`, `sku_ids`)."""
    at = _when(ctx)
    if shop_id:
        await recompute(session, ctx.runtime, SHOP, shop_id, now=at)
    host = (fact.host_id if fact else None) or host_id
    if host:
        await recompute(session, ctx.runtime, HOST, host, now=at)
    if products:
        for sku in (fact.sku_ids if fact else None) or sku_ids or []:
            await recompute(session, ctx.runtime, PRODUCT, sku, now=at, shop_id=fact.shop_id if fact else shop_id)


# Every order's order.created, hundreds a second in a flash sale: the facts of each run of them a consumer batch
# gives are written with this one statement (a JSON array of them), not one round trip each.
_CREATED = func.jsonb_to_recordset(bindparam("facts", type_=JSONB)).table_valued(
    column("order_id", String), column("shop_id", String), column("host_id", String),
    column("sku_ids", JSONB), column("trust_rights", JSONB),
).render_derived(name="line", with_types=True)  # fmt: skip
_INSERT_CREATED = insert(OrderFact).from_select(list(_CREATED.c.keys()), select(*_CREATED.c))
_REMEMBER_CREATED = sql.Statement(
    _INSERT_CREATED.on_conflict_do_update(
        index_elements=["order_id"],
        set_={c: _INSERT_CREATED.excluded[c] for c in ("shop_id", "host_id", "sku_ids", "trust_rights")},
    )
)


async def on_orders_created(session: AsyncSession, items: list[tuple[oe.OrderCreated, Ctx]]) -> None:
    """Who the orders belong to and what they hold: what their later events are attributed by. One statement for
    them all; an order named twice keeps its last."""
    facts = {event.order_id: {"order_id": event.order_id, **_facts(event)} for event, _ in items}
    await _REMEMBER_CREATED.execute(await sql.driver(session), {"facts": list(facts.values())})


async def on_order_paid(session: AsyncSession, event: oe.OrderPaid, ctx: Ctx) -> None:
    """A paid order is the denominator of the after-sales rates of its shop, host and products."""
    fact, at, order_id = await _remember(session, event), _when(ctx), event.order_id
    await observe(
        session, SHOP, fact.shop_id, "aftersales_rate", at=at, den=1, source=f"paid:{order_id}", order_id=order_id
    )
    if fact.host_id:
        for indicator in ("host_aftersales_rate", "host_counterfeit_rate"):
            await observe(
                session,
                HOST,
                fact.host_id,
                indicator,
                at=at,
                den=1,
                source=f"paid:{order_id}:{indicator}",
                order_id=order_id,
            )
    for sku in fact.sku_ids:
        await observe(
            session,
            PRODUCT,
            sku,
            "product_quality_aftersales_rate",
            at=at,
            den=1,
            source=f"paid:{order_id}:{sku}",
            order_id=order_id,
        )
    if fact.host_id:
        await _host_case_before_the_order(session, fact.host_id, order_id)
    await _rescore(session, ctx, fact, fact.shop_id, products=True)


async def _host_case_before_the_order(session: AsyncSession, host_id: str, order_id: str) -> None:
    """A buyer's case consumed before the order's own events (another topic, e.g. while the service catches up
    after an outage) could not name the order's host then: it counts in the host's after-sales rate now, at the
    time it was asked, as it would have (the same source: counted once either way)."""
    asked = await session.scalar(
        select(func.min(col(CaseFact.requested_at))).where(
            col(CaseFact.order_id) == order_id, col(CaseFact.platform_case).is_(False)
        )
    )
    if asked is not None:
        await _case_against_host(session, host_id, order_id, asked)


async def _case_against_host(session: AsyncSession, host_id: str, order_id: str, at: datetime) -> None:
    """The order's buyer case in its host's after-sales rate, once per order (its source)."""
    await observe(
        session, HOST, host_id, "host_aftersales_rate", at=at, num=1, source=f"as:{order_id}:host", order_id=order_id
    )


async def on_order_shipped(session: AsyncSession, event: oe.OrderShipped, ctx: Ctx) -> None:
    """Shipped by the ship-by time or not (the first shipment of an order counts, to the warehouse or the buyer)."""
    fact, at = await _fact(session, event.order_id), _when(ctx)
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    if not shop_id:
        return
    late = 1.0 if fact is not None and fact.ship_by is not None and at > fact.ship_by else 0.0
    source = f"ship:{event.order_id}"
    if await observe(
        session, SHOP, shop_id, "on_time_shipment_rate", at=at, num=late, den=1, source=source, order_id=event.order_id
    ):
        await _rescore(session, ctx, None, shop_id, products=False)


async def on_order_shipping_late(session: AsyncSession, event: oe.OrderShippingLate, ctx: Ctx) -> None:
    """A missed FAST_SHIPPING promise: a late shipment (whenever it ships) and a FALSE_PROMISE violation."""
    fact, at = await _fact(session, event.order_id), _when(ctx)
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    if not shop_id:
        return
    order_id = event.order_id
    await observe(
        session,
        SHOP,
        shop_id,
        "on_time_shipment_rate",
        at=at,
        num=1,
        den=1,
        source=f"ship:{order_id}",
        order_id=order_id,
    )
    await violate(
        session,
        ctx.runtime,
        SHOP,
        shop_id,
        Violation.FALSE_PROMISE,
        source=f"late:{order_id}",
        at=at,
        order_id=order_id,
        shop_id=shop_id,
    )
    await _rescore(session, ctx, None, shop_id, products=False)


async def on_qc_passed(session: AsyncSession, event: qe.QcPassed, ctx: Ctx) -> None:
    fact = await _fact(session, event.order_id)
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    if shop_id and await observe(
        session,
        SHOP,
        shop_id,
        "qc_pass_rate",
        at=_when(ctx),
        den=1,
        source=f"qc:{event.case_id}",
        order_id=event.order_id,
    ):
        await _rescore(session, ctx, None, shop_id, products=False)


async def on_qc_failed(session: AsyncSession, event: qe.QcFailed, ctx: Ctx) -> None:
    """A failed verdict; a counterfeit is a finding against the shop and its host and climbs both ladders. The
    verdict names the host and products (from order.paid) itself: it may be consumed before the order's own events
    (another topic)."""
    fact, at, order_id = await _fact(session, event.order_id), _when(ctx), event.order_id
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    if not shop_id:
        return
    host = (fact.host_id if fact else None) or event.host_id
    skus = (fact.sku_ids if fact else None) or event.sku_ids
    await observe(
        session, SHOP, shop_id, "qc_pass_rate", at=at, num=1, den=1, source=f"qc:{event.case_id}", order_id=order_id
    )
    for sku in skus:
        await observe(
            session,
            PRODUCT,
            sku,
            "product_qc_failures",
            at=at,
            num=1,
            source=f"qcfail:{event.case_id}:{sku}",
            order_id=order_id,
        )
    if event.reason is QcFailureReason.COUNTERFEIT:
        await observe(
            session,
            SHOP,
            shop_id,
            "counterfeit_findings",
            at=at,
            num=1,
            source=f"cf:{event.case_id}",
            order_id=order_id,
        )
        await violate(
            session,
            ctx.runtime,
            SHOP,
            shop_id,
            Violation.COUNTERFEIT,
            source=f"cf:{event.case_id}",
            at=at,
            order_id=order_id,
            shop_id=shop_id,
        )
        if host:
            await observe(
                session,
                HOST,
                host,
                "host_counterfeit_rate",
                at=at,
                num=1,
                source=f"cf:{event.case_id}:host",
                order_id=order_id,
            )
            await violate(
                session,
                ctx.runtime,
                HOST,
                host,
                Violation.COUNTERFEIT,
                source=f"cf:{event.case_id}:host",
                at=at,
                order_id=order_id,
                shop_id=shop_id,
                host_id=host,
            )
    await _rescore(session, ctx, fact, shop_id, products=True, host_id=host, sku_ids=skus)


async def on_qc_expired(session: AsyncSession, event: qe.QcExpired, ctx: Ctx) -> None:
    fact = await _fact(session, event.order_id)
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    if shop_id:
        await violate(
            session,
            ctx.runtime,
            SHOP,
            shop_id,
            Violation.QC_EXPIRED,
            source=f"exp:{event.case_id}",
            at=_when(ctx),
            order_id=event.order_id,
            shop_id=shop_id,
        )


async def on_aftersale_requested(session: AsyncSession, event: ae.AfterSaleRequested, ctx: Ctx) -> None:
    """A buyer's case counts once per order in the after-sales rates (a quality one also in its products')."""
    fact, at, order_id = await _fact(session, event.order_id), _when(ctx), event.order_id
    shop_id = event.shop_id or (fact.shop_id if fact else None)
    platform = event.reason in PLATFORM_REASONS
    await session.execute(
        insert(CaseFact)
        .values(case_id=event.case_id, order_id=order_id, shop_id=shop_id, requested_at=at, platform_case=platform)
        .on_conflict_do_nothing(index_elements=["case_id"])
    )
    if platform or not shop_id:
        return
    await observe(session, SHOP, shop_id, "aftersales_rate", at=at, num=1, source=f"as:{order_id}", order_id=order_id)
    if fact is not None and fact.host_id:
        await _case_against_host(session, fact.host_id, order_id, at)
    # The order's products as its fact knows them, else the lines the case names (the fact may come later).
    skus = (fact.sku_ids if fact else None) or sorted({item.sku_id for item in event.items})
    if event.reason in QUALITY_REASONS:
        for sku in skus:
            await observe(
                session,
                PRODUCT,
                sku,
                "product_quality_aftersales_rate",
                at=at,
                num=1,
                source=f"asq:{order_id}:{sku}",
                order_id=order_id,
            )
    await _rescore(session, ctx, fact, shop_id, products=event.reason in QUALITY_REASONS, sku_ids=skus)


async def on_aftersale_escalated(session: AsyncSession, event: ae.AfterSaleEscalated, ctx: Ctx) -> None:
    await session.execute(
        insert(CaseFact)
        .values(case_id=event.case_id, order_id=event.order_id, shop_id=event.shop_id, escalated=True)
        .on_conflict_do_update(index_elements=["case_id"], set_={"escalated": True})
    )


async def on_aftersale_decided(
    session: AsyncSession, event: ae.AfterSaleApproved | ae.AfterSaleRejected | ae.AfterSaleRefunded, ctx: Ctx
) -> None:
    """The first decision on a buyer's case measures the response time; a refund after arbitration is a loss."""
    case = await session.get(CaseFact, event.case_id)
    if case is None or case.platform_case or not (shop_id := event.shop_id or case.shop_id):
        return
    at, order_id, changed = _when(ctx), event.order_id, False
    if case.requested_at is not None and not case.escalated and not isinstance(event, ae.AfterSaleRefunded):
        hours = max(0.0, (at - case.requested_at).total_seconds() / HOUR)
        changed |= await observe(
            session,
            SHOP,
            shop_id,
            "case_response_hours",
            at=at,
            num=hours,
            den=1,
            source=f"resp:{case.case_id}",
            order_id=order_id,
        )
    if case.escalated and not isinstance(event, ae.AfterSaleRejected):
        changed |= await observe(
            session, SHOP, shop_id, "arbitration_losses", at=at, num=1, source=f"arb:{case.case_id}", order_id=order_id
        )
        await violate(
            session,
            ctx.runtime,
            SHOP,
            shop_id,
            Violation.ARBITRATION_LOST,
            source=f"arb:{case.case_id}",
            at=at,
            order_id=order_id,
            shop_id=shop_id,
        )
    if changed:
        await _rescore(session, ctx, None, shop_id, products=False)
