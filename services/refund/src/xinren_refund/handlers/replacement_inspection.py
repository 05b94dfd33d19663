"""先验后发 for exchanges and reships: a QC product's replacement goes from the seller to the quality-check warehouse
(the case is REPLACEMENT_INSPECTING, the platform's to move: no timer completes it meanwhile). The warehouse's
qc.* events that name the case (`aftersale_case_id`) move it on: passed and dispatched to the buyer →
REPLACEMENT_SHIPPED (the forward parcel, delivered as any replacement); failed → AWAITING_REPLACEMENT (the item goes
back to the seller, who ships another by the usual deadline); not at the warehouse in time → ARBITRATION."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import EventContext
from xinren_shared.contracts.qc import (
    QcCaseOpened,
    QcDispatched,
    QcEvent,
    QcExpired,
    QcFailed,
    QcItemReceived,
    QcPassed,
)
from xinren_shared.contracts.vocabulary import DispatchTarget
from xinren_shared.errors import Conflict

from .. import events_out, repository
from ..domain import S
from ..models import AfterSaleCase, OrderView
from ..settings import RefundSettings
from . import cases
from .cases import CaseContext

log = logging.getLogger("xinren.refund")

Ctx = EventContext[RefundSettings]
QcHandler = Callable[[AsyncSession, Any, Ctx], Awaitable[None]]
QC_SERVICE = "qc-service"


# --- rules the replacement commands check -------------------------------------------------------------------------


def refuse_the_failed_parcel(case: AfterSaleCase, tracking_no: str) -> None:
    """After a failed inspection the seller ships another parcel: the one that failed is not a new replacement."""
    failed = case.replacement_qc_case_id is not None and case.replacement_tracking_no
    if failed and _plain(case.replacement_tracking_no or "") == _plain(tracking_no):
        raise Conflict(
            f"parcel {tracking_no} is the replacement that failed inspection; ship another replacement",
            code="REPLACEMENT_PARCEL_FAILED",
            details={"tracking_no": tracking_no, "inspection_case_id": case.replacement_qc_case_id},
        )


def refuse_while_at_the_warehouse(case: AfterSaleCase) -> None:
    """Nobody receives a replacement the quality-check warehouse has not shipped on yet."""
    if case.status == S.REPLACEMENT_INSPECTING:
        raise Conflict(
            "the replacement is at the quality-check warehouse: it is shipped to the buyer once it passes",
            code="REPLACEMENT_AT_WAREHOUSE",
            details={"status": case.status, "inspection_case_id": case.replacement_qc_case_id},
        )


def _plain(tracking_no: str) -> str:
    return "".join(tracking_no.split()).upper()


# --- routing: the order's item or a replacement ---------------------------------------------------------------------


def by_item(order_item: QcHandler | None, replacement: QcHandler) -> QcHandler:
    """A qc.* event goes to `order_item` when it is about the order's own item, to `replacement` when it names the
    after-sales case whose replacement was inspected (None: this service ignores the order's item's event)."""

    async def handle(s: AsyncSession, event: QcEvent, ctx: Ctx) -> None:
        if event.aftersale_case_id is not None:
            await replacement(s, event, ctx)
        elif order_item is not None:
            await order_item(s, event, ctx)

    return handle


async def _inspecting(
    s: AsyncSession, event: QcEvent, ctx: Ctx, *, opening: bool = False
) -> tuple[CaseContext, AfterSaleCase, OrderView] | None:
    """The after-sales case the event is about, locked, while its replacement is at the warehouse under this
    inspection (`opening`: the inspection of the parcel just shipped is announced, the case knows none yet); None
    (logged) for anything stale or unknown, e.g. a late event of an inspection that failed before."""
    assert event.aftersale_case_id is not None
    case, view = await repository.lock_case_with_order(s, event.aftersale_case_id)
    if case is None or view is None:
        log.warning("%s names after-sales case %s, unknown here", event.TYPE, event.aftersale_case_id)
        return None
    expected = None if opening else event.case_id
    current = case.status == S.REPLACEMENT_INSPECTING and case.replacement_qc_case_id == expected
    if not current:
        log.info(
            "%s of inspection %s: case %s is %s, nothing to move", event.TYPE, event.case_id, case.case_id, case.status
        )
        return None
    return CaseContext.of(s, ctx.runtime, QC_SERVICE), case, view


# --- the warehouse's steps ----------------------------------------------------------------------------------------


async def on_opened(s: AsyncSession, event: QcCaseOpened, ctx: Ctx) -> None:
    if (found := await _inspecting(s, event, ctx, opening=True)) is None:
        return
    cx, case, _ = found
    case.replacement_qc_case_id = event.case_id
    case.updated_at = cx.now
    cx.note(
        case,
        f"quality-check warehouse {event.warehouse_id} expects the replacement (inspection {event.case_id}) by "
        f"{event.inbound_deadline.isoformat()}",
    )


async def on_received(s: AsyncSession, event: QcItemReceived, ctx: Ctx) -> None:
    if (found := await _inspecting(s, event, ctx)) is None:
        return
    cx, case, _ = found
    cx.note(case, f"the replacement arrived at quality-check warehouse {event.warehouse_id}: being inspected")


async def on_passed(s: AsyncSession, event: QcPassed, ctx: Ctx) -> None:
    """Passed: certified; the case waits for the warehouse to ship it on (still REPLACEMENT_INSPECTING)."""
    if (found := await _inspecting(s, event, ctx)) is None:
        return
    cx, case, _ = found
    case.replacement_certificate_no = event.certificate_no
    case.updated_at = cx.now
    cx.note(case, f"the replacement passed inspection: certificate {event.certificate_no}")
    await cx.publish(events_out.replacement_inspected(case, "PASSED", warehouse_id=event.warehouse_id))


async def on_failed(s: AsyncSession, event: QcFailed, ctx: Ctx) -> None:
    """Failed (final): the item goes back to the seller, who must ship another (the ship deadline starts again)."""
    if (found := await _inspecting(s, event, ctx)) is None:
        return
    cx, case, _ = found
    note = (
        f"the replacement failed inspection ({event.reason.value}: {event.findings}); it goes back to the seller, "
        "who must ship another"
    )
    await cases.move(cx, case, S.AWAITING_REPLACEMENT, note[:2000], announce=False)
    failed = events_out.replacement_inspected(
        case, "FAILED", warehouse_id=event.warehouse_id, failure_reason=event.reason, findings=event.findings
    )
    await cx.publish(failed)


async def on_dispatched(s: AsyncSession, event: QcDispatched, ctx: Ctx) -> None:
    """To the buyer: the forward parcel is the replacement's now (REPLACEMENT_SHIPPED, delivered as any); back to
    the seller: a failed replacement's return, a note on the case."""
    if event.to is DispatchTarget.SELLER:
        case, _ = await repository.lock_case_with_order(s, event.aftersale_case_id or "")
        if case is not None:
            cx = CaseContext.of(s, ctx.runtime, QC_SERVICE)
            cx.note(case, f"the failed replacement goes back to the seller: {event.carrier} {event.tracking_no}")
        return
    if (found := await _inspecting(s, event, ctx)) is None:
        return
    cx, case, view = found
    case.replacement_carrier, case.replacement_tracking_no = event.carrier, event.tracking_no
    case.replacement_shipped_at = cx.now
    note = f"the quality-check warehouse shipped the replacement to the buyer: {event.carrier} {event.tracking_no}"
    await cases.move(cx, case, S.REPLACEMENT_SHIPPED, note, announce=False)
    await cx.publish(events_out.replacement_shipped(case, True, from_warehouse_id=event.warehouse_id))
    # The buyer holds the replacement now: a later claim on it is against its certificate.
    view.certificate_no = case.replacement_certificate_no or view.certificate_no
    view.updated_at = cx.now


async def on_expired(s: AsyncSession, event: QcExpired, ctx: Ctx) -> None:
    """The replacement did not reach the warehouse in time: the platform decides (aftersale.escalated)."""
    if (found := await _inspecting(s, event, ctx)) is None:
        return
    cx, case, _ = found
    await cases.move(cx, case, S.ARBITRATION, "the replacement did not reach the quality-check warehouse in time")
