"""One function per command, event and timer of the order service; each runs in one transaction.

Commands take the runtime and open their own transaction; event and timer handlers get the consumer's or the
timer worker's session. Every real status transition appends to the timeline and adds exactly one event to the
outbox (QC-driven transitions are the exception: their event is the QC service's own, on xinren.qc.v1).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal, Role
from xinren_shared.consumer import EventContext
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts import qc as qe
from xinren_shared.contracts.vocabulary import AfterSaleStatus, Destination, DispatchTarget, TrustRight
from xinren_shared.errors import Conflict, Forbidden, IllegalTransition, NotFound, Unprocessable
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from . import domain, ledger, schemas
from .domain import FundingSource, Line, OrderStatus
from .models import AfterSaleCase, CompensationRecord, OrderTimelineEntry, Product, RefundRecord, SalesOrder, Shop
from .payments import PaymentProvider
from .settings import OrderSettings
from .views import format_address, order_view, product_public, shop_public

log = logging.getLogger("xinren.order")

TIMER_UNPAID = "order.unpaid_cancel"
TIMER_AUTO_CONFIRM = "order.auto_confirm"
TIMER_SHIPPING_LATE = "order.shipping_late"

SHOP_ACTIVE, SHOP_SUSPENDED = "ACTIVE", "SUSPENDED"
MAX_STOCK = 2_000_000_000  # the column is a 32-bit integer
_product = Product.__table__
_TERMINAL_CASE = {AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED, AfterSaleStatus.CANCELLED}


class OutOfStock(Conflict):
    code = "OUT_OF_STOCK"


class ShopSuspended(Conflict):
    code = "SHOP_SUSPENDED"


def _now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def request_key(order_id: str, ident: str) -> str:
    """The idempotency key of a money request, scoped to its order and short enough for any key column."""
    key = f"{order_id}:{ident}"
    return key if len(key) <= 180 else f"{order_id}:sha256:{hashlib.sha256(ident.encode()).hexdigest()}"


def actor_of(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.sub}"


def settings_of(runtime: ServiceRuntime) -> OrderSettings:
    return runtime.settings  # type: ignore[return-value]


def qc_policy(settings: OrderSettings) -> domain.QcPolicy:
    return domain.QcPolicy(
        frozenset(settings.qc_categories), settings.qc_value_threshold_fen, dict(settings.qc_warehouse_by_category)
    )


def _lines(order: SalesOrder) -> list[Line]:
    return [
        Line(i["sku_id"], i["category"], i["unit_price_fen"], i["quantity"], i.get("qc_required", False))
        for i in order.items
    ]


def _event_items(order: SalesOrder) -> list[oe.OrderItem]:
    return [
        oe.OrderItem(
            sku_id=i["sku_id"],
            title=i["title"],
            category=i["category"],
            unit_price_fen=i["unit_price_fen"],
            quantity=i["quantity"],
        )
        for i in order.items
    ]


# --- loading and authorising ------------------------------------------------------------------------------


async def load_order(session: AsyncSession, order_id: str, *, lock: bool) -> SalesOrder | None:
    query = select(SalesOrder).where(SalesOrder.order_id == order_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def _visible(principal: Principal, order: SalesOrder) -> bool:
    match principal.role:
        case Role.ADMIN | Role.PARTNER:
            return True
        case Role.BUYER:
            return order.buyer_id == principal.sub
        case Role.SELLER:
            return order.shop_id == principal.shop_id
        case Role.HOST:
            return order.host_id == principal.sub
    return False


async def order_for(session: AsyncSession, principal: Principal, order_id: str, *, lock: bool = True) -> SalesOrder:
    """The order if it exists and is this principal's to see; otherwise 404 (another tenant's order is private)."""
    order = await load_order(session, order_id, lock=lock)
    if order is None or not _visible(principal, order):
        raise NotFound(f"order {order_id} not found")
    return order


async def load_shop(session: AsyncSession, shop_id: str, *, lock: bool = False) -> Shop | None:
    query = select(Shop).where(Shop.shop_id == shop_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def _case_open(session: AsyncSession, order_id: str) -> bool:
    return bool(
        (await session.execute(select(exists().where(AfterSaleCase.order_id == order_id, AfterSaleCase.open)))).scalar()
    )


# --- state changes ----------------------------------------------------------------------------------------


async def _move(
    session: AsyncSession, order: SalesOrder, target: OrderStatus, *, actor: str, reason: str | None
) -> None:
    new = domain.transition(order.status, target)
    at = _now()
    session.add(
        OrderTimelineEntry(
            order_id=order.order_id, at=at, from_status=order.status, to_status=new.value, actor=actor, reason=reason
        )
    )
    order.status = new.value
    order.updated_at = at


async def _release_stock(session: AsyncSession, order: SalesOrder) -> None:
    if order.stock_released:
        return
    for item in sorted(order.items, key=lambda i: i["sku_id"]):
        await session.execute(
            update(_product)
            .where(_product.c.sku_id == item["sku_id"])
            .values(stock_available=_product.c.stock_available + item["quantity"])
        )
    order.stock_released = True


async def _cancel_timers(session: AsyncSession, runtime: ServiceRuntime, order_id: str, *kinds: str) -> None:
    for kind in kinds:
        await runtime.timers.cancel(session, kind, order_id)


async def _cancel(
    session: AsyncSession, runtime: ServiceRuntime, order: SalesOrder, *, by: str, actor: str, reason: str
) -> None:
    await _move(session, order, OrderStatus.CANCELLED, actor=actor, reason=reason)
    order.cancelled_at = _now()
    await _release_stock(session, order)
    await _cancel_timers(session, runtime, order.order_id, TIMER_UNPAID, TIMER_SHIPPING_LATE)
    # A paid order's money goes back through the refund service (REFUND_ONLY case -> refund.requested).
    await runtime.outbox.add(
        session,
        oe.OrderCancelled(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            reason=reason,
            by=by,
            was_paid=order.paid_fen > 0,
        ),
    )


async def _complete(
    session: AsyncSession, runtime: ServiceRuntime, order: SalesOrder, *, auto: bool, actor: str
) -> domain.ReleaseSplit:
    settings = settings_of(runtime)
    escrow = domain.escrow_account(order.order_id)
    held = await ledger.balance(session, escrow)
    split = domain.split_release(held, _lines(order), settings.platform_commission_bps, order.host_commission_bps)
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
    await _move(
        session,
        order,
        OrderStatus.COMPLETED,
        actor=actor,
        reason="auto-confirmed" if auto else "buyer confirmed receipt",
    )
    order.completed_at = _now()
    order.auto_confirm_remaining_seconds = None
    await _cancel_timers(session, runtime, order.order_id, TIMER_AUTO_CONFIRM)
    await runtime.outbox.add(
        session,
        oe.OrderCompleted(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            host_id=order.host_id,
            auto=auto,
            seller_fen=split.seller_fen,
            host_fen=split.host_fen,
            platform_fen=split.platform_fen,
        ),
    )
    await _repay_guarantee(session, order.shop_id, key=f"repay:{order.order_id}", order_id=order.order_id)
    return split


async def _repay_guarantee(session: AsyncSession, shop_id: str, *, key: str, order_id: str | None) -> None:
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


# --- shops and products -----------------------------------------------------------------------------------


async def create_shop(runtime: ServiceRuntime, principal: Principal, body: schemas.ShopCreate) -> schemas.ShopPublic:
    shop_id = body.shop_id or new_id("shop")
    async with runtime.transaction() as session:
        if await load_shop(session, shop_id) is not None:
            raise Conflict(f"shop {shop_id} already exists", code="SHOP_EXISTS")
        shop = Shop(
            shop_id=shop_id, name=body.name, trust_rights=[r.value for r in body.trust_rights], created_at=_now()
        )
        session.add(shop)
        await session.flush()
        if body.deposit_fen:
            await ledger.post(
                session,
                key=f"deposit:{shop_id}:initial",
                kind="DEPOSIT",
                entries=[
                    (domain.EXTERNAL_PAYMENTS, -body.deposit_fen),
                    (domain.deposit_account(shop_id), body.deposit_fen),
                ],
                shop_id=shop_id,
                memo="initial deposit",
            )
        return shop_public(shop, principal, body.deposit_fen, 0)


async def top_up_deposit(
    runtime: ServiceRuntime, principal: Principal, shop_id: str, amount_fen: int, key: str
) -> schemas.ShopPublic:
    async with runtime.transaction() as session:
        shop = await load_shop(session, shop_id, lock=True)
        if shop is None:
            raise NotFound(f"shop {shop_id} not found")
        await ledger.post(
            session,
            # Scoped to the caller, as Idempotency-Keys are; hashed so that any key fits the column.
            key=f"deposit:{shop_id}:" + hashlib.sha256(f"{actor_of(principal)}\n{key}".encode()).hexdigest(),
            kind="DEPOSIT",
            entries=[(domain.EXTERNAL_PAYMENTS, -amount_fen), (domain.deposit_account(shop_id), amount_fen)],
            shop_id=shop_id,
            memo=f"deposit top-up by {actor_of(principal)}",
        )
        deposit = await ledger.balance(session, domain.deposit_account(shop_id))
        seller = await ledger.balance(session, domain.seller_account(shop_id))
        return shop_public(shop, principal, deposit, seller)


async def reinstate_shop(runtime: ServiceRuntime, principal: Principal, shop_id: str) -> schemas.ShopPublic:
    async with runtime.transaction() as session:
        shop = await load_shop(session, shop_id, lock=True)
        if shop is None:
            raise NotFound(f"shop {shop_id} not found")
        shop.status, shop.suspended_at = SHOP_ACTIVE, None
        return shop_public(shop, principal)


def ensure_own_shop(principal: Principal, shop_id: str) -> None:
    if principal.role is Role.SELLER and principal.shop_id != shop_id:
        raise Forbidden("a seller manages only its own shop")


async def add_product(
    runtime: ServiceRuntime, principal: Principal, shop_id: str, body: schemas.ProductCreate
) -> schemas.ProductPublic:
    ensure_own_shop(principal, shop_id)
    policy = qc_policy(settings_of(runtime))
    sku_id = body.sku_id or new_id("sku")
    async with runtime.transaction() as session:
        if await load_shop(session, shop_id) is None:
            raise NotFound(f"shop {shop_id} not found")
        if await session.get(Product, sku_id) is not None:
            raise Conflict(f"product {sku_id} already exists", code="PRODUCT_EXISTS")
        product = Product(
            sku_id=sku_id,
            shop_id=shop_id,
            title=body.title,
            category=body.category,
            price_fen=body.price_fen,
            stock_available=body.stock,
            qc_required=policy.requires_qc(body.category, body.price_fen),
            created_at=_now(),
        )
        session.add(product)
        await session.flush()
        return product_public(product, policy)


async def add_stock(runtime: ServiceRuntime, principal: Principal, sku_id: str, quantity: int) -> schemas.ProductPublic:
    async with runtime.transaction() as session:
        product = await session.get(Product, sku_id, with_for_update=True)
        if product is None:
            raise NotFound(f"product {sku_id} not found")
        ensure_own_shop(principal, product.shop_id)
        if product.stock_available + quantity > MAX_STOCK:
            raise Unprocessable(f"stock may not exceed {MAX_STOCK}", code="STOCK_TOO_HIGH")
        product.stock_available += quantity
        await session.flush()
        return product_public(product, qc_policy(settings_of(runtime)))


# --- orders: commands -------------------------------------------------------------------------------------


async def create_order(runtime: ServiceRuntime, principal: Principal, body: schemas.OrderCreate) -> schemas.OrderPublic:
    settings = settings_of(runtime)
    policy = qc_policy(settings)
    if len(principal.sub) > 200:
        raise Unprocessable("the buyer id (token subject) is longer than 200 characters", code="INVALID_BUYER")
    async with runtime.transaction() as session:
        shop = await load_shop(session, body.shop_id)
        if shop is None:
            raise Unprocessable(f"shop {body.shop_id} does not exist", code="UNKNOWN_SHOP")
        if shop.status == SHOP_SUSPENDED:
            raise ShopSuspended(
                f"shop {shop.shop_id} is suspended and takes no new orders", details={"shop_id": shop.shop_id}
            )
        skus = [i.sku_id for i in body.items]
        products = {
            p.sku_id: p for p in (await session.execute(select(Product).where(Product.sku_id.in_(skus)))).scalars()
        }
        missing = [s for s in skus if s not in products]
        if missing:
            raise Unprocessable("unknown products", code="UNKNOWN_SKU", details={"sku_ids": missing})
        foreign = [s for s in skus if products[s].shop_id != shop.shop_id]
        if foreign:
            raise Unprocessable("products of another shop", code="SKU_NOT_IN_SHOP", details={"sku_ids": foreign})
        # Reserve atomically, one conditional UPDATE per line, in sku order so that two orders never deadlock.
        for item in sorted(body.items, key=lambda i: i.sku_id):
            reserved = await session.execute(
                update(_product)
                .where(_product.c.sku_id == item.sku_id, _product.c.stock_available >= item.quantity)
                .values(stock_available=_product.c.stock_available - item.quantity)
                .returning(_product.c.stock_available)
            )
            if reserved.first() is None:
                available = (
                    await session.execute(select(_product.c.stock_available).where(_product.c.sku_id == item.sku_id))
                ).scalar()
                raise OutOfStock(
                    f"not enough stock of {item.sku_id}",
                    details={"sku_id": item.sku_id, "requested": item.quantity, "available": available},
                )
        lines = [
            Line(p.sku_id, p.category, p.price_fen, i.quantity, policy.requires_qc(p.category, p.price_fen))
            for i in body.items
            for p in [products[i.sku_id]]
        ]
        category = domain.main_category(lines)
        qc_required = any(line.qc_required for line in lines)
        now = _now()
        order = SalesOrder(
            order_id=new_id("ord"),
            buyer_id=principal.sub,
            shop_id=shop.shop_id,
            host_id=body.host_id,
            live_room_id=body.live_room_id,
            status=OrderStatus.CREATED.value,
            items=[
                {
                    "sku_id": line.sku_id,
                    "title": products[line.sku_id].title,
                    "category": line.category,
                    "unit_price_fen": line.unit_price_fen,
                    "quantity": line.quantity,
                    "qc_required": line.qc_required,
                }
                for line in lines
            ],
            total_fen=sum(line.subtotal_fen for line in lines),
            qc_required=qc_required,
            category=category,
            trust_rights=list(shop.trust_rights),
            shipping_address=body.shipping_address.model_dump(),
            host_commission_bps=settings.host_commission_bps if body.host_id else 0,
            warehouse_hint=policy.warehouse_hint(category) if qc_required else None,
            created_at=now,
            updated_at=now,
        )
        session.add(order)
        session.add(
            OrderTimelineEntry(
                order_id=order.order_id,
                at=now,
                from_status=None,
                to_status=order.status,
                actor=actor_of(principal),
                reason="order placed",
            )
        )
        await runtime.timers.schedule(
            session, TIMER_UNPAID, order.order_id, now + timedelta(seconds=settings.unpaid_timeout_seconds)
        )
        await runtime.outbox.add(
            session,
            oe.OrderCreated(
                order_id=order.order_id,
                buyer_id=order.buyer_id,
                shop_id=order.shop_id,
                host_id=order.host_id,
                live_room_id=order.live_room_id,
                items=_event_items(order),
                total_fen=order.total_fen,
                qc_required=qc_required,
                trust_rights=[TrustRight(r) for r in order.trust_rights],
            ),
        )
        return await order_view(session, principal, order)


async def pay_order(
    runtime: ServiceRuntime, provider: PaymentProvider, principal: Principal, order_id: str, body: schemas.PayRequest
) -> schemas.OrderPublic:
    settings = settings_of(runtime)
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id)
        if order.status != OrderStatus.CREATED:
            raise IllegalTransition("order", order.status, OrderStatus.PAID.value)
        if body.amount_fen != order.total_fen:
            raise Unprocessable(
                "the amount must equal the order total",
                code="AMOUNT_MISMATCH",
                details={"total_fen": order.total_fen, "amount_fen": body.amount_fen},
            )
        capture = await provider.capture(
            idempotency_key=f"pay:{order.order_id}", amount_fen=order.total_fen, method=body.method
        )
        await ledger.post(
            session,
            key=f"payment:{order.order_id}",
            kind="PAYMENT",
            entries=[
                (domain.EXTERNAL_PAYMENTS, -capture.amount_fen),
                (domain.escrow_account(order.order_id), capture.amount_fen),
            ],
            order_id=order.order_id,
            shop_id=order.shop_id,
            memo=f"{provider.name} capture {capture.reference}",
        )
        order.paid_fen = capture.amount_fen
        order.paid_at = capture.captured_at
        order.payment_method = body.method
        order.payment_ref = capture.reference
        await _move(session, order, OrderStatus.PAID, actor=actor_of(principal), reason=f"paid by {body.method}")
        await _cancel_timers(session, runtime, order.order_id, TIMER_UNPAID)
        if TrustRight.FAST_SHIPPING in order.trust_rights:
            promised_by = capture.captured_at + timedelta(seconds=settings.fast_shipping_seconds)
            await runtime.timers.schedule(
                session, TIMER_SHIPPING_LATE, order.order_id, promised_by, {"promised_by": promised_by.isoformat()}
            )
        await runtime.outbox.add(
            session,
            oe.OrderPaid(
                order_id=order.order_id,
                buyer_id=order.buyer_id,
                shop_id=order.shop_id,
                host_id=order.host_id,
                items=_event_items(order),
                paid_fen=order.paid_fen,
                qc_required=order.qc_required,
                category=order.category,
                trust_rights=[TrustRight(r) for r in order.trust_rights],
                warehouse_id=order.warehouse_hint,
                paid_at=order.paid_at,
            ),
        )
        return await order_view(session, principal, order)


async def cancel_order(
    runtime: ServiceRuntime, principal: Principal, order_id: str, reason: str | None
) -> schemas.OrderPublic:
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id)
        if order.status not in domain.CANCELLABLE:
            raise IllegalTransition("order", order.status, OrderStatus.CANCELLED.value)
        by = principal.role.value
        await _cancel(
            session, runtime, order, by=by, actor=actor_of(principal), reason=reason or f"cancelled by the {by}"
        )
        return await order_view(session, principal, order)


async def ship_order(
    runtime: ServiceRuntime, principal: Principal, order_id: str, body: schemas.ShipmentCreate
) -> schemas.ShipmentPublic:
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id)
        if order.qc_required:
            if order.status == OrderStatus.PAID:
                raise Conflict(
                    "this order goes through a QC warehouse: ship once the QC case is open and its warehouse known",
                    code="QC_CASE_NOT_OPEN",
                    details={"current_status": order.status, "requested_status": OrderStatus.IN_TRANSIT_TO_QC.value},
                )
            target, destination, address = (
                OrderStatus.IN_TRANSIT_TO_QC,
                Destination.QC_WAREHOUSE,
                order.warehouse_address or "",
            )
        else:
            target, destination, address = (
                OrderStatus.SHIPPED,
                Destination.BUYER,
                format_address(order.shipping_address),
            )
        await _move(
            session, order, target, actor=actor_of(principal), reason=f"shipped by {body.carrier} {body.tracking_no}"
        )
        order.shipment_destination = destination.value
        order.carrier, order.tracking_no, order.shipped_at = body.carrier, body.tracking_no, _now()
        await _cancel_timers(session, runtime, order.order_id, TIMER_SHIPPING_LATE)
        await runtime.outbox.add(
            session,
            oe.OrderShipped(
                order_id=order.order_id,
                buyer_id=order.buyer_id,
                shop_id=order.shop_id,
                destination=destination,
                carrier=body.carrier,
                tracking_no=body.tracking_no,
                warehouse_id=order.warehouse_id if destination is Destination.QC_WAREHOUSE else None,
            ),
        )
        return schemas.ShipmentPublic(
            order_id=order.order_id,
            status=order.status,
            destination=destination,
            address=address,
            warehouse_id=order.warehouse_id if destination is Destination.QC_WAREHOUSE else None,
            carrier=body.carrier,
            tracking_no=body.tracking_no,
            shipped_at=order.shipped_at,
        )


async def record_delivery(
    runtime: ServiceRuntime, principal: Principal, order_id: str, body: schemas.DeliveryCreate
) -> schemas.OrderPublic:
    settings = settings_of(runtime)
    now = _now()
    delivered_at = body.delivered_at or now
    if delivered_at > now + timedelta(seconds=settings.delivery_clock_skew_seconds):
        raise Unprocessable("delivered_at lies in the future", code="DELIVERED_AT_IN_FUTURE")
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id)
        if order.status != OrderStatus.SHIPPED:
            raise IllegalTransition("order", order.status, OrderStatus.DELIVERED.value)
        if body.tracking_no != order.tracking_no:
            raise Unprocessable(
                "the tracking number is not this order's shipment",
                code="TRACKING_MISMATCH",
                details={"tracking_no": body.tracking_no},
            )
        if order.shipped_at is not None and delivered_at < order.shipped_at - timedelta(
            seconds=settings.delivery_clock_skew_seconds
        ):
            raise Unprocessable("delivered_at lies before the shipment", code="DELIVERED_BEFORE_SHIPPED")
        await _move(
            session, order, OrderStatus.DELIVERED, actor=actor_of(principal), reason=f"delivered ({body.tracking_no})"
        )
        order.delivered_at = delivered_at
        if await _case_open(session, order.order_id):
            order.auto_confirm_remaining_seconds = settings.auto_confirm_seconds  # paused until the case ends
        else:
            await runtime.timers.schedule(
                session,
                TIMER_AUTO_CONFIRM,
                order.order_id,
                delivered_at + timedelta(seconds=settings.auto_confirm_seconds),
            )
        await runtime.outbox.add(
            session,
            oe.OrderDelivered(
                order_id=order.order_id, buyer_id=order.buyer_id, shop_id=order.shop_id, delivered_at=delivered_at
            ),
        )
        return await order_view(session, principal, order)


async def confirm_receipt(runtime: ServiceRuntime, principal: Principal, order_id: str) -> schemas.OrderPublic:
    async with runtime.transaction() as session:
        order = await order_for(session, principal, order_id)
        if order.status != OrderStatus.DELIVERED:
            raise IllegalTransition("order", order.status, OrderStatus.COMPLETED.value)
        if await _case_open(session, order.order_id):
            raise Conflict(
                "an after-sales case of this order is open: it must end before the order completes",
                code="AFTERSALE_OPEN",
                details={"current_status": order.status},
            )
        await _complete(session, runtime, order, auto=False, actor=actor_of(principal))
        return await order_view(session, principal, order)


# --- events from quality-check ----------------------------------------------------------------------------


async def _follow(
    session: AsyncSession,
    order_id: str,
    allowed_from: set[OrderStatus],
    target: OrderStatus,
    *,
    actor: str,
    reason: str,
) -> SalesOrder | None:
    """Moves an order along another service's event; an unknown order or a stale event changes nothing."""
    order = await load_order(session, order_id, lock=True)
    if order is None:
        log.info("ignoring %s for unknown order %s", target, order_id)
        return None
    if order.status not in allowed_from or not domain.can_transition(order.status, target):
        log.info("ignoring move of order %s from %s to %s (stale or out of order)", order_id, order.status, target)
        return None
    await _move(session, order, target, actor=actor, reason=reason)
    return order


async def on_qc_case_opened(session: AsyncSession, event: qe.QcCaseOpened, ctx: EventContext) -> None:
    order = await load_order(session, event.order_id, lock=True)
    if order is None or not order.qc_required or order.status != OrderStatus.PAID:
        log.info("ignoring qc.case_opened for order %s", event.order_id)
        return
    order.qc_case_id = event.case_id
    order.warehouse_id = event.warehouse_id
    order.warehouse_address = event.warehouse_address
    await _move(
        session,
        order,
        OrderStatus.AWAITING_QC_INBOUND,
        actor=f"qc:{event.case_id}",
        reason=f"QC case opened at {event.warehouse_id}; inbound by {event.inbound_deadline.isoformat()}",
    )


async def on_qc_item_received(session: AsyncSession, event: qe.QcItemReceived, ctx: EventContext) -> None:
    await _follow(
        session,
        event.order_id,
        {OrderStatus.IN_TRANSIT_TO_QC, OrderStatus.AWAITING_QC_INBOUND},
        OrderStatus.IN_QC,
        actor=f"qc:{event.case_id}",
        reason="item received at the QC warehouse",
    )


async def on_qc_passed(session: AsyncSession, event: qe.QcPassed, ctx: EventContext) -> None:
    order = await _follow(
        session,
        event.order_id,
        {OrderStatus.IN_QC},
        OrderStatus.QC_PASSED,
        actor=f"qc:{event.case_id}",
        reason=f"passed, certificate {event.certificate_no}",
    )
    if order is not None:
        order.certificate_no = event.certificate_no


async def on_qc_failed(session: AsyncSession, event: qe.QcFailed, ctx: EventContext) -> None:
    await _follow(
        session,
        event.order_id,
        {OrderStatus.IN_QC},
        OrderStatus.QC_FAILED,
        actor=f"qc:{event.case_id}",
        reason=f"{event.reason.value}: {event.findings}"[:500],
    )


async def on_qc_expired(session: AsyncSession, event: qe.QcExpired, ctx: EventContext) -> None:
    await _follow(
        session,
        event.order_id,
        {OrderStatus.AWAITING_QC_INBOUND, OrderStatus.IN_TRANSIT_TO_QC},
        OrderStatus.QC_FAILED,
        actor=f"qc:{event.case_id}",
        reason="QC_EXPIRED: the item did not reach the warehouse in time",
    )


async def on_qc_dispatched(session: AsyncSession, event: qe.QcDispatched, ctx: EventContext) -> None:
    if event.to is not DispatchTarget.BUYER:
        return  # back to the seller after a failure: no order state changes
    order = await _follow(
        session,
        event.order_id,
        {OrderStatus.QC_PASSED},
        OrderStatus.SHIPPED,
        actor=f"qc:{event.case_id}",
        reason=f"dispatched to the buyer by {event.carrier} {event.tracking_no}",
    )
    if order is None:
        return
    order.shipment_destination = Destination.BUYER.value
    order.carrier, order.tracking_no, order.shipped_at = event.carrier, event.tracking_no, _now()
    await ctx.runtime.outbox.add(
        session,
        oe.OrderShipped(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            destination=Destination.BUYER,
            carrier=event.carrier,
            tracking_no=event.tracking_no,
            warehouse_id=order.warehouse_id,
        ),
    )


async def on_shop_suspended(session: AsyncSession, event: qe.QcShopSuspended, ctx: EventContext) -> None:
    shop = await load_shop(session, event.shop_id, lock=True)
    if shop is None:
        log.info("ignoring suspension of unknown shop %s", event.shop_id)
        return
    shop.strikes = max(shop.strikes, event.strikes)
    if shop.status != SHOP_SUSPENDED:
        shop.status, shop.suspended_at = SHOP_SUSPENDED, _now()


# --- events from after-sales ------------------------------------------------------------------------------


async def on_aftersale_event(session: AsyncSession, event: ae.AfterSaleEvent, ctx: EventContext) -> None:
    """Tracks which cases of an order are open: an open case pauses auto-confirm, the last one ending resumes it."""
    runtime: ServiceRuntime = ctx.runtime
    order = await load_order(session, event.order_id, lock=True)  # serialises with confirm and auto-confirm
    if order is None:
        return
    ends = event.TYPE in (ae.AfterSaleRefunded.TYPE, ae.AfterSaleClosed.TYPE) or event.status in _TERMINAL_CASE
    case = await session.get(AfterSaleCase, event.case_id, with_for_update=True)
    if case is None:
        case = AfterSaleCase(
            case_id=event.case_id, order_id=order.order_id, status=event.status.value, open=not ends, updated_at=_now()
        )
        session.add(case)
    elif not case.open:
        return  # a case that ended stays ended
    else:
        case.status, case.open, case.updated_at = event.status.value, not ends, _now()
    await session.flush()
    if not ends:
        await _pause_auto_confirm(session, runtime, order)
    elif not await _case_open(session, order.order_id):
        await _resume_auto_confirm(session, runtime, order)


async def _pause_auto_confirm(session: AsyncSession, runtime: ServiceRuntime, order: SalesOrder) -> None:
    if order.status != OrderStatus.DELIVERED or order.auto_confirm_remaining_seconds is not None:
        return
    due = await runtime.timers.pending(session, TIMER_AUTO_CONFIRM, order.order_id)
    if due is None:
        return
    await runtime.timers.cancel(session, TIMER_AUTO_CONFIRM, order.order_id)
    order.auto_confirm_remaining_seconds = max(0.0, (due - _now()).total_seconds())


async def _resume_auto_confirm(session: AsyncSession, runtime: ServiceRuntime, order: SalesOrder) -> None:
    if order.status != OrderStatus.DELIVERED or order.auto_confirm_remaining_seconds is None:
        return
    due = _now() + timedelta(seconds=order.auto_confirm_remaining_seconds)
    await runtime.timers.schedule(session, TIMER_AUTO_CONFIRM, order.order_id, due)
    order.auto_confirm_remaining_seconds = None


async def on_refund_requested(session: AsyncSession, event: ae.RefundRequested, ctx: EventContext) -> None:
    """Moves a refund once per refund_id (else case_id): escrow first; after release the seller's balance, the
    deposit, then the platform guarantee (the shop then owes it). More than remains refundable moves nothing."""
    runtime: ServiceRuntime = ctx.runtime
    key = request_key(event.order_id, event.refund_id or f"case:{event.case_id}")
    order = await load_order(session, event.order_id, lock=True)
    if order is None:
        log.info("ignoring refund.requested for unknown order %s", event.order_id)
        return
    if await session.get(RefundRecord, key) is not None:
        return  # answered before: the same request again moves nothing
    refundable = domain.refundable_fen(order.paid_fen, order.refunded_fen)
    common = {
        "order_id": order.order_id,
        "buyer_id": order.buyer_id,
        "shop_id": order.shop_id,
        "case_id": event.case_id,
        "refund_id": event.refund_id,
    }
    if event.amount_fen <= 0 or event.amount_fen > refundable:
        reason = "INVALID_AMOUNT" if event.amount_fen <= 0 else "EXCEEDS_REFUNDABLE"
        session.add(
            RefundRecord(
                refund_key=key,
                order_id=order.order_id,
                case_id=event.case_id,
                amount_fen=event.amount_fen,
                outcome="REJECTED",
                source=reason,
                refundable_fen=refundable,
            )
        )
        await runtime.outbox.add(
            session,
            oe.OrderRefundRejected(**common, amount_fen=event.amount_fen, refundable_fen=refundable, reason=reason),
        )
        return
    shop = await load_shop(session, order.shop_id, lock=True)
    escrow = domain.escrow_account(order.order_id)
    plan = domain.plan_refund(
        event.amount_fen,
        await ledger.balance(session, escrow),
        await ledger.balance(session, domain.seller_account(order.shop_id)),
        await ledger.balance(session, domain.deposit_account(order.shop_id)),
    )
    entries = [(domain.source_account(s, order_id=order.order_id, shop_id=order.shop_id), -a) for s, a in plan.parts]
    txn_id = await ledger.post(
        session,
        key=f"refund:{key}",
        kind="REFUND",
        entries=[*entries, (domain.EXTERNAL_PAYOUTS, event.amount_fen)],
        order_id=order.order_id,
        shop_id=order.shop_id,
        memo=f"refund for case {event.case_id}",
    )
    if shop is not None:
        shop.guarantee_debt_fen += plan.amount(FundingSource.PLATFORM_GUARANTEE)
    order.refunded_fen += event.amount_fen
    order.updated_at = _now()
    session.add(
        RefundRecord(
            refund_key=key,
            order_id=order.order_id,
            case_id=event.case_id,
            amount_fen=event.amount_fen,
            outcome="REFUNDED",
            source=plan.label,
            refundable_fen=refundable,
            ledger_transaction_id=txn_id,
        )
    )
    if order.refunded_fen >= order.paid_fen and domain.can_transition(order.status, OrderStatus.REFUNDED):
        goods_never_left = order.status in (OrderStatus.PAID, OrderStatus.AWAITING_QC_INBOUND)
        await _move(
            session, order, OrderStatus.REFUNDED, actor=f"aftersales:{event.case_id}", reason="refunded in full"
        )
        order.auto_confirm_remaining_seconds = None
        await _cancel_timers(session, runtime, order.order_id, TIMER_AUTO_CONFIRM, TIMER_SHIPPING_LATE, TIMER_UNPAID)
        if goods_never_left:
            await _release_stock(session, order)
    await runtime.outbox.add(
        session,
        oe.OrderRefunded(
            **common, amount_fen=event.amount_fen, refunded_total_fen=order.refunded_fen, source=plan.label
        ),
    )


async def on_compensation_granted(session: AsyncSession, event: ae.CompensationGranted, ctx: EventContext) -> None:
    """Pays a compensation once per compensation_id: SHOP_DEPOSIT from the deposit (the guarantee covering a
    shortfall, owed by the shop), PLATFORM from the platform subsidy. Not part of "refunds never exceed paid"."""
    runtime: ServiceRuntime = ctx.runtime
    order = await load_order(session, event.order_id, lock=True)
    if order is None:
        log.info("ignoring compensation.granted for unknown order %s", event.order_id)
        return
    key = request_key(order.order_id, event.compensation_id)
    if await session.get(CompensationRecord, key) is not None:
        return
    if event.amount_fen <= 0:
        log.warning("ignoring compensation %s of %d fen", event.compensation_id, event.amount_fen)
        return
    shop = await load_shop(session, order.shop_id, lock=True)
    plan = domain.plan_compensation(
        event.amount_fen, event.payer.value, await ledger.balance(session, domain.deposit_account(order.shop_id))
    )
    entries = [(domain.source_account(s, order_id=order.order_id, shop_id=order.shop_id), -a) for s, a in plan.parts]
    txn_id = await ledger.post(
        session,
        key=f"compensation:{key}",
        kind="COMPENSATION",
        entries=[*entries, (domain.EXTERNAL_PAYOUTS, event.amount_fen)],
        order_id=order.order_id,
        shop_id=order.shop_id,
        memo=f"{event.kind.value} compensation",
    )
    if shop is not None:
        shop.guarantee_debt_fen += plan.amount(FundingSource.PLATFORM_GUARANTEE)
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
    await runtime.outbox.add(
        session,
        oe.OrderCompensationPaid(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            compensation_id=event.compensation_id,
            kind=event.kind,
            amount_fen=event.amount_fen,
            payer=event.payer,
        ),
    )


# --- timers -----------------------------------------------------------------------------------------------


async def on_unpaid_timeout(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime) -> None:
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status != OrderStatus.CREATED:
        return
    await _cancel(session, runtime, order, by="system", actor="system", reason="UNPAID_TIMEOUT")


async def on_auto_confirm(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime) -> None:
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status != OrderStatus.DELIVERED or await _case_open(session, order.order_id):
        return
    await _complete(session, runtime, order, auto=True, actor="system")


async def on_shipping_late(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime) -> None:
    order = await load_order(session, timer.key, lock=True)
    if order is None or order.status not in domain.NOT_YET_SHIPPED or order.shipping_late_at is not None:
        return
    order.shipping_late_at = _now()
    promised_by = (
        datetime.fromisoformat(timer.payload["promised_by"]) if "promised_by" in timer.payload else timer.due_at
    )
    await runtime.outbox.add(
        session,
        oe.OrderShippingLate(
            order_id=order.order_id,
            buyer_id=order.buyer_id,
            shop_id=order.shop_id,
            promised_by=promised_by,
            paid_fen=order.paid_fen,
        ),
    )
