"""The order's own commands: create, pay, cancel, ship, record delivery, confirm receipt."""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import Response

from xinren_shared.auth import Principal
from xinren_shared.commands import OneStatement, UnitOfWork
from xinren_shared.contracts.vocabulary import Destination, TrustRight
from xinren_shared.errors import Conflict, DomainError, Unprocessable
from xinren_shared.ids import new_id

from .. import commission, domain, events_out, ledger, schemas
from ..commission import Terms
from ..domain import ORDER, Line, OrderStatus, ShopStatus
from ..payments import PaymentProvider
from ..repository import (
    ORDER_MOVED,
    Intake,
    IntakeProduct,
    case_open,
    intake_read,
    intake_write,
    order_for,
    order_for_delivery,
    order_to_pay,
    pay_write,
    status_of,
    unsaved_entry,
    unsaved_order,
)
from ..settings import OrderSettings
from ..views import format_address, order_public, order_view
from .aftersales import variants_of
from .lifecycle import (
    TIMER_SHIPPING_LATE,
    TIMER_UNPAID,
    auto_confirm_after_delivery,
    cancel,
    cancel_timers,
    move,
    moved,
    start_auto_confirm,
)
from .settlement import complete

log = logging.getLogger("xinren.order")


class OutOfStock(Conflict):
    code = "OUT_OF_STOCK"


class ShopSuspended(Conflict):
    code = "SHOP_SUSPENDED"


async def create_order(cmd: OneStatement[OrderSettings], principal: Principal, body: schemas.OrderCreate) -> Response:
    """Two round trips, in no transaction of their own (commands.OneStatement): the read, with the Idempotency-Key's
    answer if one was recorded; then the order's writes with its event and the key's answer, one statement that
    commits on its own. Nothing is locked until that commit, which takes the stock (the order's deferred trigger): a
    flash sale's hot product row is locked only inside PostgreSQL's commit."""
    settings = cmd.settings
    policy = settings.qc_policy()
    if len(principal.sub) > 200:
        raise Unprocessable("the buyer id (token subject) is longer than 200 characters", code="INVALID_BUYER")
    skus = [i.sku_id for i in body.items]
    intake = await intake_read(cmd, body.shop_id, skus, body.host_id)
    _check_shop(intake, body.shop_id)
    terms = _host_terms(intake, principal, body) if body.host_id else {}
    products = _products_of(intake, body.shop_id, skus)
    quantities = {i.sku_id: i.quantity for i in body.items}
    _check_stock(products, quantities)
    lines = [
        Line(
            p.sku_id,
            p.category,
            p.price_fen,
            i.quantity,
            policy.requires_qc(p.category, p.price_fen),
            host_bps=terms[p.sku_id].commission_bps if terms else 0,
        )
        for i in body.items
        for p in [products[i.sku_id]]
    ]
    category = domain.main_category(lines)
    qc_required = any(line.qc_required for line in lines)
    pay_by = cmd.now + timedelta(seconds=settings.unpaid_timeout_seconds)
    order = unsaved_order(
        order_id=new_id("ord"),
        buyer_id=principal.sub,
        shop_id=body.shop_id,
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
                **(
                    {"host_commission_bps": line.host_bps, "cooperation_id": terms[line.sku_id].cooperation_id}
                    if terms
                    else {}
                ),
            }
            for line in lines
        ],
        total_fen=sum(line.subtotal_fen for line in lines),
        qc_required=qc_required,
        category=category,
        trust_rights=intake.trust_rights,
        shipping_address=body.shipping_address.model_dump(),
        host_commission_bps=commission.order_rate_bps([(line.subtotal_fen, line.host_bps) for line in lines]),
        warehouse_hint=policy.warehouse_hint(category) if qc_required else None,
        pay_by=pay_by,
        created_at=cmd.now,
        updated_at=cmd.now,
    )
    placed = unsaved_entry(
        order_id=order.order_id,
        at=cmd.now,
        from_status=None,
        to_status=order.status,
        actor=principal.actor,
        reason="order placed",
    )
    # Shaped from what is written, not read back (a new order's timeline is its one entry, and no after-sales case
    # can name it yet).
    answer = order_public(order, principal, [placed], case_open=False)
    # The order, its first timeline entry, its unpaid timer, its event and the key's answer in one statement; the
    # stock is taken as it commits.
    return await intake_write(
        cmd,
        order,
        events_out.created(order),
        answer,
        actor=placed.actor,
        reason="order placed",
        timer_kind=TIMER_UNPAID,
    )


def _check_shop(intake: Intake, shop_id: str) -> None:
    if intake.shop_status is None:
        raise Unprocessable(f"shop {shop_id} does not exist", code="UNKNOWN_SHOP")
    if intake.shop_status == ShopStatus.SUSPENDED:
        raise ShopSuspended(f"shop {shop_id} is suspended and takes no new orders", details={"shop_id": shop_id})


def _host_terms(intake: Intake, principal: Principal, body: schemas.OrderCreate) -> dict[str, Terms]:
    """The cooperation covering each ordered sku: the host must be bound to the shop for every one of them by an
    active cooperation (read with the order's products), and is never the buyer."""
    assert body.host_id is not None
    if body.host_id == principal.sub:
        raise Unprocessable("a buyer cannot be the host of its own order", code="HOST_IS_BUYER")
    skus = [i.sku_id for i in body.items]
    terms = commission.covering(intake.host_terms, skus)
    uncovered = [sku for sku in skus if sku not in terms]
    if uncovered:
        raise Unprocessable(
            f"host {body.host_id} has no active cooperation with shop {body.shop_id} covering these products",
            code="HOST_NOT_COOPERATING",
            details={"host_id": body.host_id, "sku_ids": uncovered},
        )
    return terms


def _products_of(intake: Intake, shop_id: str, skus: list[str]) -> dict[str, IntakeProduct]:
    products = intake.products
    missing = [s for s in skus if s not in products]
    if missing:
        raise Unprocessable("unknown products", code="UNKNOWN_SKU", details={"sku_ids": missing})
    foreign = [s for s in skus if products[s].shop_id != shop_id]
    if foreign:
        raise Unprocessable("products of another shop", code="SKU_NOT_IN_SHOP", details={"sku_ids": foreign})
    return products


def _check_stock(products: dict[str, IntakeProduct], quantities: dict[str, int]) -> None:
    """Refuses the order at the first line (in sku order) short of stock as read: nothing was locked or written
    yet. Stock read enough may still be gone when it is taken (intake_write), which refuses the same way."""
    for sku in sorted(quantities):
        if products[sku].stock_available < quantities[sku]:
            raise _out_of_stock(sku, quantities[sku], products[sku].stock_available)


def _out_of_stock(sku: str, requested: int, available: int) -> OutOfStock:
    return OutOfStock(
        f"not enough stock of {sku}", details={"sku_id": sku, "requested": requested, "available": available}
    )


async def pay_order(
    cmd: OneStatement[OrderSettings],
    provider: PaymentProvider,
    principal: Principal,
    order_id: str,
    body: schemas.PayRequest,
) -> Response:
    """Two round trips, in no transaction of their own (commands.OneStatement): the order read with its shop's
    return address as it is now (it travels with order.paid), its timeline (the answer's, with the PAID entry
    added) and the Idempotency-Key's answer if one was recorded; then, after the capture, one statement that writes
    everything paying writes and commits on its own, provided the order is still as read."""
    order, return_address, timeline = await order_to_pay(cmd, principal, order_id)
    ORDER.require(order.status, OrderStatus.PAID)
    if body.amount_fen != order.total_fen:
        raise Unprocessable(
            "the amount must equal the order total",
            code="AMOUNT_MISMATCH",
            details={"total_fen": order.total_fen, "amount_fen": body.amount_fen},
        )
    # Captured before anything is written, nothing held meanwhile: the capture is idempotent per order, and the
    # write below pays the order only if it is still in the status read (else the capture is given back).
    capture = await provider.capture(
        idempotency_key=f"pay:{order.order_id}", amount_fen=order.total_fen, method=body.method
    )
    previous = order.status
    entry = moved(order, OrderStatus.PAID, at=cmd.now, actor=principal.actor, reason=f"paid by {body.method}")
    order.paid_fen = capture.amount_fen
    order.paid_at = capture.captured_at
    order.payment_method = body.method
    order.payment_ref = capture.reference
    order.return_address = return_address
    fast = TrustRight.FAST_SHIPPING in order.trust_rights
    window = cmd.settings.fast_shipping_seconds if fast else cmd.settings.ship_window_seconds
    order.ship_by = capture.captured_at + timedelta(seconds=window)
    posting = ledger.Posting(
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
    late = (TIMER_SHIPPING_LATE, order.ship_by, {"promised_by": order.ship_by.isoformat()}) if fast else None
    # Just paid: no after-sales case can name the order yet (the refund service opens one only for a paid order).
    answer = order_public(order, principal, [*timeline, entry], case_open=False)
    try:
        return await pay_write(
            cmd,
            order,
            previous,
            entry,
            events_out.paid(order),
            answer,
            posting=posting,
            unpaid_timer=TIMER_UNPAID,
            shipping_late=late,
        )
    except DomainError as exc:
        # Refused whole: nothing of the payment was written. Unless another payment of the order (another key, the
        # same capture: it is one per order) paid it meanwhile, the order does not hold the buyer's money, and the
        # capture goes back to the buyer before the refusal is answered.
        status, payment_ref = await status_of(cmd, order_id)
        if payment_ref != capture.reference:
            try:
                await provider.void(capture, idempotency_key=f"void:{order.order_id}")
            except Exception:  # the refusal is still the answer; the capture is left to reconcile by its reference
                log.exception(
                    "payment %s of order %s refused after its capture (%s), and its void failed: reconcile it",
                    capture.reference,
                    order_id,
                    exc.code,
                )
            else:
                log.warning(
                    "payment %s of order %s refused after its capture (%s): the capture is voided",
                    capture.reference,
                    order_id,
                    exc.code,
                )
        if exc.code == ORDER_MOVED:
            # Cancelled (say) since it was read: refused as it would have been, had it been read after.
            ORDER.require(status or previous, OrderStatus.PAID)
        raise


async def cancel_order(
    uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str, reason: str | None
) -> schemas.OrderPublic:
    order = await order_for(uow.session, principal, order_id)
    by = principal.role.value
    await cancel(
        uow.session,
        uow.runtime,
        order,
        at=uow.now,
        by=by,
        actor=principal.actor,
        reason=reason or f"cancelled by the {by}",
    )
    return await order_view(uow.session, principal, order)


async def ship_order(
    uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str, body: schemas.ShipmentCreate
) -> schemas.ShipmentPublic:
    session = uow.session
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
        target, destination, address = OrderStatus.SHIPPED, Destination.BUYER, format_address(order.shipping_address)
    reason = f"shipped by {body.carrier} {body.tracking_no}"
    move(session, order, target, at=uow.now, actor=principal.actor, reason=reason)
    order.shipment_destination = destination.value
    order.carrier, order.tracking_no, order.shipped_at = body.carrier, body.tracking_no, uow.now
    await cancel_timers(session, uow.runtime, order.order_id, TIMER_SHIPPING_LATE)
    if destination is Destination.BUYER:
        await start_auto_confirm(session, uow.runtime, order, shipped_at=uow.now)
    else:
        order.qc_status = domain.next_qc_status(order.qc_status, "shipped_to_warehouse") or order.qc_status
    shipped = events_out.shipped(order, destination, carrier=body.carrier, tracking_no=body.tracking_no)
    await uow.runtime.outbox.add(session, shipped)
    return schemas.ShipmentPublic(
        order_id=order.order_id,
        status=order.status,
        destination=destination,
        address=address,
        warehouse_id=shipped.warehouse_id,
        carrier=body.carrier,
        tracking_no=body.tracking_no,
        shipped_at=uow.now,
        auto_confirm_at=order.auto_confirm_at,
    )


async def record_delivery(
    uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str, body: schemas.DeliveryCreate
) -> schemas.OrderPublic:
    session, settings = uow.session, uow.settings
    skew = timedelta(seconds=settings.delivery_clock_skew_seconds)
    delivered_at = body.delivered_at or uow.now
    if delivered_at > uow.now + skew:
        raise Unprocessable("delivered_at lies in the future", code="DELIVERED_AT_IN_FUTURE")
    order = await order_for_delivery(session, principal, order_id)  # its carrier's or its shop's partner, else 404
    ORDER.require(order.status, OrderStatus.DELIVERED)  # before the shipment's checks: a second delivery is a 409
    if body.tracking_no != order.tracking_no:
        raise Unprocessable(
            "the tracking number is not this order's shipment",
            code="TRACKING_MISMATCH",
            details={"tracking_no": body.tracking_no},
        )
    if order.shipped_at is not None and delivered_at < order.shipped_at - skew:
        raise Unprocessable("delivered_at lies before the shipment", code="DELIVERED_BEFORE_SHIPPED")
    reason = f"delivered ({body.tracking_no})"
    move(session, order, OrderStatus.DELIVERED, at=uow.now, actor=principal.actor, reason=reason)
    order.delivered_at = delivered_at
    await auto_confirm_after_delivery(session, uow.runtime, order, delivered_at, now=uow.now)
    variants = await variants_of(session, order)
    await uow.runtime.outbox.add(session, events_out.delivered(order, delivered_at, variants))
    return await order_view(session, principal, order)


async def confirm_receipt(uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str) -> schemas.OrderPublic:
    order = await order_for(uow.session, principal, order_id)
    ORDER.require(order.status, OrderStatus.COMPLETED)  # before the case check: only a shipped order completes
    if await case_open(uow.session, order.order_id):
        raise Conflict(
            "an after-sales case of this order is open: it must end before the order completes",
            code="AFTERSALE_OPEN",
            details={"current_status": order.status},
        )
    order.auto_confirm_at = None
    await complete(uow.session, uow.runtime, order, at=uow.now, auto=False, actor=principal.actor)
    return await order_view(uow.session, principal, order)
