"""Correcting a shipment: the seller fixes the carrier or tracking number of a parcel that has not arrived yet."""

from __future__ import annotations

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.errors import Conflict

from .. import events_out, schemas
from ..domain import OrderStatus
from ..models import SalesOrder
from ..repository import order_for
from ..settings import OrderSettings
from ..views import format_address
from .lifecycle import add_timeline


class ShipmentNotCorrectable(Conflict):
    code = "SHIPMENT_NOT_CORRECTABLE"


def _correctable(order: SalesOrder) -> Destination:
    """The destination of the seller's own parcel while it is still on its way: to the buyer until delivered (a QC
    warehouse's dispatch is the warehouse's to correct), to the warehouse until the warehouse records its arrival."""
    own = not order.qc_required or order.shipment_destination == Destination.QC_WAREHOUSE
    if own and order.shipment_destination == Destination.BUYER and order.status == OrderStatus.SHIPPED:
        return Destination.BUYER
    if order.shipment_destination == Destination.QC_WAREHOUSE and order.status == OrderStatus.IN_TRANSIT_TO_QC:
        return Destination.QC_WAREHOUSE
    raise ShipmentNotCorrectable(
        "only the seller's own parcel can be corrected, and only before it is delivered or received",
        details={"current_status": order.status, "destination": order.shipment_destination},
    )


async def correct_shipment(
    uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str, body: schemas.ShipmentCreate
) -> schemas.ShipmentPublic:
    session = uow.session
    order = await order_for(session, principal, order_id)
    destination = _correctable(order)
    previous_carrier, previous_tracking_no = order.carrier or "", order.tracking_no or ""
    if (body.carrier, body.tracking_no) != (previous_carrier, previous_tracking_no):  # the same again: a no-op
        order.carrier, order.tracking_no, order.updated_at = body.carrier, body.tracking_no, uow.now
        reason = f"shipment corrected: {previous_carrier} {previous_tracking_no} -> {body.carrier} {body.tracking_no}"
        add_timeline(session, order, order.status, at=uow.now, actor=principal.actor, reason=reason)
        corrected = events_out.shipment_corrected(
            order, destination, previous_carrier=previous_carrier, previous_tracking_no=previous_tracking_no
        )
        await uow.runtime.outbox.add(session, corrected)
    to_buyer = destination is Destination.BUYER
    return schemas.ShipmentPublic(
        order_id=order.order_id,
        status=order.status,
        destination=destination,
        address=format_address(order.shipping_address) if to_buyer else order.warehouse_address or "",
        warehouse_id=order.warehouse_id,
        carrier=body.carrier,
        tracking_no=body.tracking_no,
        shipped_at=order.shipped_at or uow.now,
        auto_confirm_at=order.auto_confirm_at if to_buyer else None,
    )
