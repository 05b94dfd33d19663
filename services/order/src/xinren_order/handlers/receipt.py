"""The buyer's side of receiving: extending the time to confirm receipt, once (confirming is in orders)."""

from __future__ import annotations

from datetime import timedelta

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.errors import Conflict

from .. import domain, events_out, schemas
from ..repository import order_for
from ..settings import OrderSettings
from ..views import order_view
from .lifecycle import TIMER_AUTO_CONFIRM, run_auto_confirm


class AlreadyExtended(Conflict):
    code = "ALREADY_EXTENDED"


class NotAwaitingReceipt(Conflict):
    code = "NOT_AWAITING_RECEIPT"


async def extend_receipt(uow: UnitOfWork[OrderSettings], principal: Principal, order_id: str) -> schemas.OrderPublic:
    """Adds receipt_extension_seconds to auto-confirm, once per order, while the parcel is shipped or delivered. While
    an after-sales case pauses the clock, the time left grows (the event tells when it would fire if resumed now)."""
    session, settings, now = uow.session, uow.settings, uow.now
    order = await order_for(session, principal, order_id)
    if order.status not in domain.AWAITING_RECEIPT:
        raise NotAwaitingReceipt(
            "only a shipped or delivered order that is not yet confirmed can have its receipt time extended",
            details={"current_status": order.status},
        )
    if order.receipt_extended_at is not None:
        raise AlreadyExtended(
            "the time to confirm receipt can be extended once",
            details={"extended_at": order.receipt_extended_at.isoformat()},
        )
    more = timedelta(seconds=settings.receipt_extension_seconds)
    order.receipt_extended_at = order.updated_at = now
    if order.auto_confirm_remaining_seconds is not None:
        order.auto_confirm_remaining_seconds += more.total_seconds()
        due = now + timedelta(seconds=order.auto_confirm_remaining_seconds)
    else:
        current = order.auto_confirm_at or await uow.runtime.timers.pending(session, TIMER_AUTO_CONFIRM, order_id)
        # An order shipped before auto-confirm counted from shipment has no clock yet: it starts from its shipment.
        base = current or (order.shipped_at or now) + timedelta(seconds=settings.auto_confirm_after_shipment_seconds)
        due = base + more
        await run_auto_confirm(session, uow.runtime, order, due, now=now)
    await uow.runtime.outbox.add(session, events_out.receipt_extended(order, due))
    return await order_view(session, principal, order)
