"""A case from order.paid to dispatch: opened, in transit, arrived, judged, dispatched; or cancelled, or expired."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.commands import UnitOfWork
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderCancelled, OrderPaid, OrderShipmentCorrected, OrderShipped
from xinren_shared.contracts.vocabulary import Destination
from xinren_shared.errors import Conflict
from xinren_shared.ids import new_id, utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from .. import domain, events_out
from ..domain import CASE, CaseStatus, StrikeReason
from ..models import QcCase, QcCaseEvent, Warehouse
from ..schemas import ArrivalIn, CasePublic, DispatchIn
from ..settings import QcSettings
from ..views import case_public
from .cases import INBOUND_DEADLINE, ORDER_SERVICE, SYSTEM, QcUnit, enter, lock_case_of_order, lock_own_case
from .enforcement import strike
from .routing import announce_opened, choose_warehouse, new_case, routed_to, routing_lock

log = logging.getLogger("xinren.qc")


class CaseBusy(Exception):
    """A timer met a case locked by a request: retried by the timer worker."""


# --- events from the order service --------------------------------------------------------------------------------


async def on_order_paid(session: AsyncSession, event: OrderPaid, ctx: EventContext[QcSettings]) -> None:
    """Opens the order's one case and routes it; a redelivery (any event id) finds the case and does nothing.

    Two statements when a warehouse inspects the category: what routing needs (`new_case`), then the case with its
    timeline entry, deadline and qc.case_opened (`announce_opened`). The case's unique index settles a race with
    another delivery of the order's payment: the loser's transaction fails, and its retry finds the case."""
    if not event.qc_required:
        return
    uow = UnitOfWork(session, ctx.runtime, utcnow())
    category = domain.normalize_category(event.category or (event.items[0].category if event.items else ""))
    routing = await new_case(session, event.order_id, category)
    if routing.has_case:
        await _paid_again(uow, event, ctx)
        return
    warehouse = await routing.choose(session, event.warehouse_id) if category else None
    if warehouse is None:
        # None found: the case waits under the routing lock (asking again for a category), so that a warehouse
        # created meanwhile either is seen here or sees this case waiting (its creation routes the waiting cases
        # under the lock, held exclusively).
        await routing_lock(session, exclusive=False)
        warehouse = await choose_warehouse(session, category, event.warehouse_id) if category else None
    status = CaseStatus.AWAITING_INBOUND if warehouse else CaseStatus.AWAITING_ROUTING
    case = QcCase(
        case_id=new_id("qc"),
        order_id=event.order_id,
        buyer_id=event.buyer_id,
        shop_id=event.shop_id,
        host_id=event.host_id,
        category=category,
        items=[item.model_dump(mode="json") for item in event.items],
        paid_fen=event.paid_fen,
        shipping_address=event.shipping_address.model_dump() if event.shipping_address else None,
        return_address=event.return_address.model_dump() if event.return_address else None,
        status=status,
        warehouse_id=warehouse.warehouse_id if warehouse else None,
        inbound_deadline=uow.now + uow.settings.inbound_deadline if warehouse else None,
        created_at=uow.now,
        updated_at=uow.now,
    )
    if warehouse is not None:
        await announce_opened(uow, case, warehouse, actor=ORDER_SERVICE, reason=routed_to(warehouse), new=True)
        return
    reason = f"no warehouse inspects category {category!r} yet"
    session.add(case)
    session.add(QcCaseEvent(case_id=case.case_id, at=uow.now, status=status, actor=ORDER_SERVICE, reason=reason))
    log.warning("qc case %s for order %s awaits a warehouse for category %r", case.case_id, event.order_id, category)


async def _paid_again(uow: QcUnit, event: OrderPaid, ctx: EventContext[QcSettings]) -> None:
    """The order already has its case. When the order asks again (its consistency repair found no case announced),
    a case still waiting for the item is announced once more; any later state is already on its way to the order
    through its own events."""
    existing = await lock_case_of_order(uow.session, event.order_id) if event.reask else None
    if existing is not None and existing.status == CaseStatus.AWAITING_INBOUND and existing.warehouse_id:
        known = await uow.session.get(Warehouse, existing.warehouse_id)
        if known is not None:
            await uow.runtime.outbox.add(uow.session, events_out.case_opened(existing, known))
            log.info("order %s asked again: qc case %s announced again", event.order_id, existing.case_id)
            return
    log.info("order %s already has a qc case; order.paid %s ignored", event.order_id, ctx.envelope.id)


async def on_order_shipped(session: AsyncSession, event: OrderShipped, ctx: EventContext[QcSettings]) -> None:
    if event.destination is not Destination.QC_WAREHOUSE:
        return
    case = await lock_case_of_order(session, event.order_id)
    if case is None:
        return  # not an order we inspect
    uow = UnitOfWork(session, ctx.runtime, utcnow())
    if case.inbound_tracking_no is None:
        case.inbound_carrier, case.inbound_tracking_no = event.carrier, event.tracking_no
        case.updated_at = uow.now
    if event.warehouse_id and case.warehouse_id and event.warehouse_id != case.warehouse_id:
        log.warning(
            "order %s shipped to warehouse %s, its case is at %s", event.order_id, event.warehouse_id, case.warehouse_id
        )
    # Any status but AWAITING_INBOUND: the item already arrived or the case ended; a stale event changes nothing.
    if CASE.can(case.status, CaseStatus.IN_TRANSIT):
        enter(uow, case, CaseStatus.IN_TRANSIT, ORDER_SERVICE, f"shipped by {event.carrier} {event.tracking_no}")


async def on_order_shipment_corrected(
    session: AsyncSession, event: OrderShipmentCorrected, ctx: EventContext[QcSettings]
) -> None:
    """The seller corrected the parcel on its way to us: arrival now expects the new number (and refuses the old)."""
    if event.destination is not Destination.QC_WAREHOUSE:
        return
    case = await lock_case_of_order(session, event.order_id)
    if case is None:
        return  # not an order we inspect
    status = CaseStatus(case.status)
    if status not in (CaseStatus.AWAITING_INBOUND, CaseStatus.IN_TRANSIT):
        # The item already arrived (under whatever number the warehouse saw) or the case ended: nothing to expect.
        log.info("order %s: shipment correction ignored, its qc case is %s", event.order_id, status)
        return
    if (case.inbound_carrier, case.inbound_tracking_no) == (event.carrier, event.tracking_no):
        return  # the same correction again
    uow = UnitOfWork(session, ctx.runtime, utcnow())
    before = f"{event.previous_carrier} {event.previous_tracking_no}"
    case.inbound_carrier, case.inbound_tracking_no = event.carrier, event.tracking_no
    case.updated_at = uow.now
    reason = f"shipment corrected by the seller: {before} -> {event.carrier} {event.tracking_no}"
    if CASE.can(status, CaseStatus.IN_TRANSIT):
        enter(uow, case, CaseStatus.IN_TRANSIT, ORDER_SERVICE, reason)  # order.shipped never reached us
    else:
        # Not a move: the case stays IN_TRANSIT, but its timeline shows which number arrival now expects.
        session.add(QcCaseEvent(case_id=case.case_id, at=uow.now, status=status, actor=ORDER_SERVICE, reason=reason))


async def on_order_cancelled(session: AsyncSession, event: OrderCancelled, ctx: EventContext[QcSettings]) -> None:
    case = await lock_case_of_order(session, event.order_id)
    if case is None or not CASE.can(case.status, CaseStatus.CANCELLED):
        return  # no case, or the item already arrived / the case ended
    uow = UnitOfWork(session, ctx.runtime, utcnow())
    enter(uow, case, CaseStatus.CANCELLED, ORDER_SERVICE, f"order cancelled by {event.by}: {event.reason}")
    await ctx.runtime.timers.cancel(session, INBOUND_DEADLINE, case.case_id)


# --- timers -------------------------------------------------------------------------------------------------------


async def on_inbound_deadline(session: AsyncSession, timer: DueTimer, runtime: ServiceRuntime[QcSettings]) -> None:
    """The seller missed the inbound deadline: EXPIRED, qc.expired, a strike."""
    # The worker already holds the timer row, and an arrival or a cancellation holds the case while it cancels
    # this timer: waiting here for the case would deadlock. Skip a busy case; the timer is retried shortly.
    case = (
        await session.scalars(select(QcCase).where(col(QcCase.case_id) == timer.key).with_for_update(skip_locked=True))
    ).one_or_none()
    if case is None:
        if (await session.execute(select(col(QcCase.case_id)).where(col(QcCase.case_id) == timer.key))).first():
            raise CaseBusy(f"qc case {timer.key} is being changed; the deadline is checked again shortly")
        return
    if not CASE.can(case.status, CaseStatus.EXPIRED):
        return  # the item arrived, or the case ended, before the timer fired
    uow = UnitOfWork(session, runtime, utcnow())
    enter(uow, case, CaseStatus.EXPIRED, SYSTEM, "the item did not reach the warehouse by the inbound deadline")
    await runtime.outbox.add(session, events_out.expired(case))
    await strike(uow, case, StrikeReason.EXPIRED)


# --- commands -----------------------------------------------------------------------------------------------------


async def record_arrival(uow: QcUnit, principal: Principal, case_id: str, body: ArrivalIn) -> CasePublic:
    case = await lock_own_case(uow.session, principal, case_id)
    if CaseStatus(case.status) is CaseStatus.IN_INSPECTION and case.arrival_tracking_no == body.tracking_no:
        return await case_public(uow.session, principal, case)  # the same arrival again
    CASE.require(case.status, CaseStatus.IN_INSPECTION)
    # Once order.shipped told us the parcel's number, only that parcel is the order's item; before that (arrival
    # may come first) the warehouse's word is all there is.
    expected = case.inbound_tracking_no
    if expected is not None and not domain.same_tracking_no(expected, body.tracking_no):
        raise Conflict(
            f"tracking number {body.tracking_no} is not this order's parcel: the seller shipped {expected}",
            code="TRACKING_MISMATCH",
            details={"tracking_no": body.tracking_no, "expected_tracking_no": expected},
        )
    enter(uow, case, CaseStatus.IN_INSPECTION, principal.actor, f"arrived with tracking {body.tracking_no}")
    case.arrival_tracking_no, case.arrived_at, case.arrived_by = body.tracking_no, uow.now, principal.sub
    await uow.runtime.timers.cancel(uow.session, INBOUND_DEADLINE, case.case_id)
    await uow.runtime.outbox.add(uow.session, events_out.item_received(case))
    return await case_public(uow.session, principal, case)


async def record_dispatch(uow: QcUnit, principal: Principal, case_id: str, body: DispatchIn) -> CasePublic:
    """A passed item goes on to the buyer's shipping address, a failed one back to the shop's return address."""
    case = await lock_own_case(uow.session, principal, case_id)
    status = CaseStatus(case.status)
    given = body.address.model_dump() if body.address else None
    same = (case.dispatch_carrier, case.dispatch_tracking_no) == (body.carrier, body.tracking_no)
    if status is CaseStatus.DISPATCHED and same and given in (None, case.dispatch_address):
        return await case_public(uow.session, principal, case)  # the same dispatch again
    to = domain.dispatch_target(status)
    if status is CaseStatus.FAILED and case.verdict_final_at is None:
        raise Conflict(
            "the seller may still appeal this failure: the item stays until the appeal window closes or a review "
            "decides",
            code="VERDICT_NOT_FINAL",
            details={"appeal_due_at": case.appeal_due_at.isoformat() if case.appeal_due_at else None},
        )
    address = domain.dispatch_address(to, shipping=case.shipping_address, returns=case.return_address, given=given)
    enter(uow, case, CaseStatus.DISPATCHED, principal.actor, f"to {to} by {body.carrier} {body.tracking_no}")
    case.dispatch_to, case.dispatch_carrier, case.dispatch_tracking_no = to, body.carrier, body.tracking_no
    case.dispatch_address = address
    case.dispatched_at, case.dispatched_by = uow.now, principal.sub
    await uow.runtime.outbox.add(uow.session, events_out.dispatched(case))
    return await case_public(uow.session, principal, case)
