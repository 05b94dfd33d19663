"""How the order follows the quality-check service: one table (event -> from-states, to-state, reason) and one
handler. An unknown order, or a stale or out-of-order event, does not move the order; the QC service's own event is
the record of the move, so none is published here, except order.shipped when the warehouse dispatches to the buyer
(which starts auto-confirm). The order also keeps the case's status as the QC service names it
(domain.QC_CASE_MOVES), for the order screen, whether the order moved or not."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts import qc as qe
from xinren_shared.contracts.vocabulary import Destination, DispatchTarget
from xinren_shared.ids import utcnow

from .. import events_out
from ..domain import QC_CASE_MOVES, OrderStatus, next_qc_status
from ..models import SalesOrder
from ..repository import QcMove, load_order, move_by_qc
from ..settings import OrderSettings
from .aftersales import on_replacement_inspection
from .lifecycle import move, start_auto_confirm

log = logging.getLogger("xinren.order")

S = OrderStatus
Hook = Callable[[AsyncSession, SalesOrder, Any, EventContext[OrderSettings], datetime], Awaitable[None]]


def _every_event(event: Any) -> bool:
    return True


@dataclass(frozen=True)
class QcReaction:
    # Each from-state may move to `to` (tests hold the table to the state machine).
    from_states: frozenset[OrderStatus]
    to: OrderStatus
    reason: Callable[[Any], str]
    # Events that concern the order at all (a dispatch back to the seller does not move it).
    concerns: Callable[[Any], bool] = _every_event
    # What the move also records on the order (its columns, from the event), and what else it does or publishes.
    notes: Callable[[Any], dict[str, Any]] = lambda event: {}
    then: Hook | None = None
    qc_orders_only: bool = False

    def in_one_statement(self, event: qe.QcEvent) -> QcMove | None:
        """The move as one statement (`repository.move_by_qc`), for a reaction that concerns every event of its
        type, starts from one status and does nothing beyond its notes; None for the others, which load the order."""
        if self.then is not None or self.concerns is not _every_event or len(self.from_states) != 1:
            return None
        qc_from, qc_to = QC_CASE_MOVES[type(event).__name__]
        (from_status,) = self.from_states
        notes = tuple(sorted(self.notes(event)))
        return QcMove(from_status.value, self.to.value, notes, qc_from, qc_to, self.qc_orders_only)


def _case_noted(event: qe.QcCaseOpened) -> dict[str, Any]:
    return {
        "qc_case_id": event.case_id,
        "warehouse_id": event.warehouse_id,
        "warehouse_address": event.warehouse_address,
        "qc_inbound_deadline": event.inbound_deadline,
    }


async def _shipped_to_buyer(
    session: AsyncSession, order: SalesOrder, event: qe.QcDispatched, ctx: EventContext[OrderSettings], at: datetime
) -> None:
    order.shipment_destination = Destination.BUYER.value
    order.carrier, order.tracking_no, order.shipped_at = event.carrier, event.tracking_no, at
    await start_auto_confirm(session, ctx.runtime, order, shipped_at=at)
    shipped = events_out.shipped(order, Destination.BUYER, carrier=event.carrier, tracking_no=event.tracking_no)
    await ctx.runtime.outbox.add(session, shipped)


REACTIONS: dict[type[qe.QcEvent], QcReaction] = {
    qe.QcCaseOpened: QcReaction(
        frozenset({S.PAID}),
        S.AWAITING_QC_INBOUND,
        lambda e: f"QC case opened at {e.warehouse_id}; inbound by {e.inbound_deadline.isoformat()}",
        notes=_case_noted,
        qc_orders_only=True,
    ),
    qe.QcItemReceived: QcReaction(
        frozenset({S.IN_TRANSIT_TO_QC, S.AWAITING_QC_INBOUND}), S.IN_QC, lambda e: "item received at the QC warehouse"
    ),
    qe.QcPassed: QcReaction(
        frozenset({S.IN_QC}),
        S.QC_PASSED,
        lambda e: f"passed, certificate {e.certificate_no}",
        notes=lambda e: {"certificate_no": e.certificate_no},
    ),
    qe.QcFailed: QcReaction(frozenset({S.IN_QC}), S.QC_FAILED, lambda e: f"{e.reason.value}: {e.findings}"[:500]),
    qe.QcExpired: QcReaction(
        frozenset({S.AWAITING_QC_INBOUND, S.IN_TRANSIT_TO_QC}),
        S.QC_FAILED,
        lambda e: "QC_EXPIRED: the item did not reach the warehouse in time",
    ),
    qe.QcDispatched: QcReaction(
        frozenset({S.QC_PASSED}),
        S.SHIPPED,
        lambda e: f"dispatched to the buyer by {e.carrier} {e.tracking_no}",
        concerns=lambda e: e.to is DispatchTarget.BUYER,
        then=_shipped_to_buyer,
    ),
}


async def on_qc_event(session: AsyncSession, event: qe.QcEvent, ctx: EventContext[OrderSettings]) -> None:
    if event.aftersale_case_id is not None:
        # The inspection of an exchange's or reship's replacement: a step of that after-sales case on the order
        # screen; neither the order nor its own QC case moves.
        await on_replacement_inspection(session, event, ctx)
        return
    reaction = REACTIONS[type(event)]
    at, actor, reason = utcnow(), f"qc:{event.case_id}", reaction.reason(event)
    one = reaction.in_one_statement(event)
    if one is not None:
        params = {"order_id": event.order_id, "case_id": event.case_id, "at": at, "actor": actor, "reason": reason}
        params |= {f"n_{name}": value for name, value in reaction.notes(event).items()}
        if not await move_by_qc(session, one, params):
            log.info(
                "not moving order %s on %s: unknown, or not %s (stale or out of order)",
                event.order_id,
                event.TYPE,
                one.from_status,
            )
            if (order := await load_order(session, event.order_id, lock=True)) is not None:
                _follow_case(order, event)
        return
    order = await load_order(session, event.order_id, lock=True)
    if order is None:
        log.info("ignoring %s for unknown order %s", event.TYPE, event.order_id)
        return
    if not reaction.concerns(event):
        _follow_case(order, event)  # a failed item dispatched back to the seller: the case moves, the order not
        return
    if order.status not in reaction.from_states or (reaction.qc_orders_only and not order.qc_required):
        log.info("not moving order %s in %s on %s (stale or out of order)", order.order_id, order.status, event.TYPE)
        _follow_case(order, event)
        return
    move(session, order, reaction.to, at=at, actor=actor, reason=reason)
    for name, value in reaction.notes(event).items():
        setattr(order, name, value)
    if reaction.then is not None:
        await reaction.then(session, order, event, ctx, at)
    _follow_case(order, event)


def _follow_case(order: SalesOrder, event: qe.QcEvent) -> None:
    """The case's own status, for the order's case only (noted when it opened), and only along QC_CASE_MOVES. It
    follows the case even when the order does not move: the refund a verdict causes comes on another topic
    (xinren.aftersales.v1) and may be consumed first, leaving the order REFUNDED while its case goes on to FAILED
    and DISPATCHED; a stale or repeated step is not along QC_CASE_MOVES and changes nothing."""
    if order.qc_case_id != event.case_id:
        return
    order.qc_status = next_qc_status(order.qc_status, type(event).__name__) or order.qc_status
