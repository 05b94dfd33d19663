"""One function per command or event, one transaction each: load, apply the domain rule, persist, add events."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.auth import Principal, Role
from xinren_shared.consumer import EventContext
from xinren_shared.contracts.orders import OrderCancelled, OrderPaid, OrderShipped
from xinren_shared.contracts.qc import (
    QcCaseOpened,
    QcDispatched,
    QcExpired,
    QcFailed,
    QcItemReceived,
    QcPassed,
    QcShopSuspended,
)
from xinren_shared.contracts.vocabulary import Destination, QcFailureReason
from xinren_shared.errors import Conflict, Forbidden, NotFound, Unprocessable
from xinren_shared.pagination import InvalidCursor, decode_cursor, encode_cursor
from xinren_shared.timers import DueTimer

from . import domain
from .domain import CaseStatus, ShopStatus, StrikeReason, VerdictResult
from .models import QcCase, QcCaseEvent, ShopEnforcement, Strike, Warehouse
from .schemas import ArrivalIn, DispatchIn, RouteIn, VerdictIn, WarehouseCreate

log = logging.getLogger("xinren.qc")

INBOUND_DEADLINE = "qc_inbound_deadline"  # timer kind, key = case_id
SYSTEM = "system"
ORDER_SERVICE = "order-service"

# Routing and warehouse creation meet under this lock (order.paid shared, warehouse creation exclusive), so a case
# that finds no warehouse is always seen by the creation of the warehouse that could take it.
_ROUTING_LOCK = 7_301_996

_cases = QcCase.__table__
_warehouses = Warehouse.__table__


class CaseBusy(Exception):
    """A timer met a case locked by a request: retried by the timer worker."""


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(principal: Principal) -> str:
    return f"{principal.role}:{principal.sub}"


async def _routing_lock(session: AsyncSession, *, exclusive: bool) -> None:
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {fn}(:k)"), {"k": _ROUTING_LOCK})


def _parties(case: QcCase) -> dict[str, Any]:
    return {
        "order_id": case.order_id,
        "case_id": case.case_id,
        "shop_id": case.shop_id,
        "buyer_id": case.buyer_id,
        "warehouse_id": case.warehouse_id,
    }


def _enter(
    session: AsyncSession, case: QcCase, target: CaseStatus, actor: str, now: datetime, reason: str | None = None
) -> None:
    """Moves the case through the state machine and appends the move to its timeline."""
    case.status = domain.transition(CaseStatus(case.status), target)
    case.updated_at = now
    session.add(QcCaseEvent(case_id=case.case_id, at=now, status=target, actor=actor, reason=reason))


async def _lock_case(session: AsyncSession, case_id: str) -> QcCase:
    case = (
        await session.execute(select(QcCase).where(QcCase.case_id == case_id).with_for_update())
    ).scalar_one_or_none()
    if case is None:
        raise NotFound(f"qc case {case_id} not found", code="CASE_NOT_FOUND")
    return case


async def _lock_case_of_order(session: AsyncSession, order_id: str) -> QcCase | None:
    return (
        await session.execute(select(QcCase).where(QcCase.order_id == order_id).with_for_update())
    ).scalar_one_or_none()


def _require_own_warehouse(principal: Principal, case: QcCase) -> None:
    if case.warehouse_id is None or case.warehouse_id != principal.warehouse_id:
        raise Forbidden("this case belongs to another warehouse", code="OTHER_WAREHOUSE")


async def _open_counts(session: AsyncSession, warehouse_ids: list[str]) -> dict[str, int]:
    if not warehouse_ids:
        return {}
    rows = await session.execute(
        select(QcCase.warehouse_id, func.count())
        .where(QcCase.warehouse_id.in_(warehouse_ids), QcCase.status.in_([str(s) for s in domain.OPEN]))
        .group_by(QcCase.warehouse_id)
    )
    counts = {wid: 0 for wid in warehouse_ids}
    counts.update({wid: n for wid, n in rows.all()})
    return counts


async def _warehouses_listing(session: AsyncSession, category: str) -> list[Warehouse]:
    rows = await session.execute(select(Warehouse).where(_warehouses.c.categories.contains([category])))
    return list(rows.scalars().all())


async def _choose_warehouse(session: AsyncSession, category: str, hint: str | None) -> Warehouse | None:
    inspecting = await _warehouses_listing(session, category)
    if not inspecting:
        inspecting = await _warehouses_listing(session, domain.ANY_CATEGORY)
    counts = await _open_counts(session, [w.warehouse_id for w in inspecting])
    chosen = domain.pick_warehouse((domain.Candidate(wid, n) for wid, n in counts.items()), hint)
    return next((w for w in inspecting if w.warehouse_id == chosen), None)


async def _route(session: AsyncSession, runtime, case: QcCase, warehouse: Warehouse, actor: str, now: datetime) -> None:
    """AWAITING_ROUTING → AWAITING_INBOUND at `warehouse`: deadline timer and qc.case_opened."""
    case.warehouse_id = warehouse.warehouse_id
    case.inbound_deadline = now + runtime.settings.inbound_deadline
    _enter(session, case, CaseStatus.AWAITING_INBOUND, actor, now, f"routed to warehouse {warehouse.warehouse_id}")
    await _opened(session, runtime, case, warehouse)


async def _opened(session: AsyncSession, runtime, case: QcCase, warehouse: Warehouse) -> None:
    await runtime.timers.schedule(
        session, INBOUND_DEADLINE, case.case_id, case.inbound_deadline, {"order_id": case.order_id}
    )
    await runtime.outbox.add(
        session,
        QcCaseOpened(
            **_parties(case),
            warehouse_address=warehouse.address,
            inbound_deadline=case.inbound_deadline,
        ),
    )


async def _strike(session: AsyncSession, runtime, case: QcCase, reason: StrikeReason, now: datetime) -> None:
    """Records a strike (once per case) and suspends the shop once it reaches the threshold within the window."""
    settings = runtime.settings
    # Every strike of a shop is counted under the lock of the shop's enforcement row: one suspension, ever.
    await session.execute(
        insert(ShopEnforcement.__table__)
        .values(shop_id=case.shop_id, status=ShopStatus.ACTIVE)
        .on_conflict_do_nothing(index_elements=["shop_id"])
    )
    enforcement = (
        await session.execute(select(ShopEnforcement).where(ShopEnforcement.shop_id == case.shop_id).with_for_update())
    ).scalar_one()
    # The time of the strike is taken under the lock, so strikes are counted in the order they are recorded: a
    # moment taken before waiting for the lock could precede a strike recorded meanwhile and miss it in the window.
    now = max(now, _now())
    inserted = await session.execute(
        insert(Strike.__table__)
        .values(
            strike_id=f"sk_{uuid.uuid4().hex}",
            shop_id=case.shop_id,
            case_id=case.case_id,
            order_id=case.order_id,
            reason=reason,
            struck_at=now,
        )
        .on_conflict_do_nothing(index_elements=["case_id"])
        .returning(Strike.__table__.c.strike_id)
    )
    if inserted.first() is None:
        return
    struck = (
        (
            await session.execute(
                select(Strike.struck_at).where(
                    Strike.shop_id == case.shop_id, Strike.struck_at > now - settings.strike_window
                )
            )
        )
        .scalars()
        .all()
    )
    active = domain.strikes_in_window(struck, now, settings.strike_window)
    if domain.should_suspend(ShopStatus(enforcement.status), active, settings.strike_threshold):
        enforcement.status = ShopStatus.SUSPENDED
        enforcement.suspended_at = now
        enforcement.strikes_at_suspension = active
        enforcement.updated_at = now
        await runtime.outbox.add(session, QcShopSuspended(shop_id=case.shop_id, strikes=active))
        log.warning("shop %s suspended after %d strikes", case.shop_id, active)


# --- events from the order service --------------------------------------------------------------------------------


async def on_order_paid(session: AsyncSession, event: OrderPaid, ctx: EventContext) -> None:
    """Opens the order's one case and routes it; a redelivery (any event id) finds the case and does nothing."""
    if not event.qc_required:
        return
    runtime, now = ctx.runtime, _now()
    await _routing_lock(session, exclusive=False)
    category = domain.normalize_category(event.category or (event.items[0].category if event.items else ""))
    warehouse = await _choose_warehouse(session, category, event.warehouse_id) if category else None
    case_id = f"qc_{uuid.uuid4().hex}"
    status = CaseStatus.AWAITING_INBOUND if warehouse else CaseStatus.AWAITING_ROUTING
    inserted = await session.execute(
        insert(_cases)
        .values(
            case_id=case_id,
            order_id=event.order_id,
            buyer_id=event.buyer_id,
            shop_id=event.shop_id,
            category=category,
            items=[item.model_dump(mode="json") for item in event.items],
            paid_fen=event.paid_fen,
            status=status,
            warehouse_id=warehouse.warehouse_id if warehouse else None,
            inbound_deadline=now + runtime.settings.inbound_deadline if warehouse else None,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["order_id"])
        .returning(_cases.c.case_id)
    )
    if inserted.first() is None:
        log.info("order %s already has a qc case; order.paid %s ignored", event.order_id, ctx.envelope.id)
        return
    reason = (
        f"routed to warehouse {warehouse.warehouse_id}"
        if warehouse
        else f"no warehouse inspects category {category!r} yet"
    )
    session.add(QcCaseEvent(case_id=case_id, at=now, status=status, actor=ORDER_SERVICE, reason=reason))
    if warehouse is None:
        log.warning("qc case %s for order %s awaits a warehouse for category %r", case_id, event.order_id, category)
        return
    case = (await session.execute(select(QcCase).where(QcCase.case_id == case_id))).scalar_one()
    await _opened(session, runtime, case, warehouse)


async def on_order_shipped(session: AsyncSession, event: OrderShipped, ctx: EventContext) -> None:
    if event.destination is not Destination.QC_WAREHOUSE:
        return
    case = await _lock_case_of_order(session, event.order_id)
    if case is None:
        return  # not an order we inspect
    if case.inbound_tracking_no is None:
        case.inbound_carrier, case.inbound_tracking_no = event.carrier, event.tracking_no
        case.updated_at = _now()
    if event.warehouse_id and case.warehouse_id and event.warehouse_id != case.warehouse_id:
        log.warning(
            "order %s shipped to warehouse %s, its case is at %s", event.order_id, event.warehouse_id, case.warehouse_id
        )
    if CaseStatus(case.status) is CaseStatus.AWAITING_INBOUND:
        _enter(
            session,
            case,
            CaseStatus.IN_TRANSIT,
            ORDER_SERVICE,
            _now(),
            f"shipped by {event.carrier} {event.tracking_no}",
        )
    # Any later status: the item already arrived or the case ended; a stale event changes nothing.


async def on_order_cancelled(session: AsyncSession, event: OrderCancelled, ctx: EventContext) -> None:
    case = await _lock_case_of_order(session, event.order_id)
    if case is None or CaseStatus(case.status) not in domain.CANCELLABLE:
        return  # no case, or the item already arrived / the case ended
    _enter(session, case, CaseStatus.CANCELLED, ORDER_SERVICE, _now(), f"order cancelled by {event.by}: {event.reason}")
    await ctx.runtime.timers.cancel(session, INBOUND_DEADLINE, case.case_id)


# --- timers -------------------------------------------------------------------------------------------------------


async def on_inbound_deadline(session: AsyncSession, timer: DueTimer, runtime) -> None:
    """The seller missed the inbound deadline: EXPIRED, qc.expired, a strike."""
    # The worker already holds the timer row, and an arrival or a cancellation holds the case while it cancels
    # this timer: waiting here for the case would deadlock. Skip a busy case; the timer is retried shortly.
    case = (
        await session.execute(select(QcCase).where(QcCase.case_id == timer.key).with_for_update(skip_locked=True))
    ).scalar_one_or_none()
    if case is None:
        if (await session.execute(select(QcCase.case_id).where(QcCase.case_id == timer.key))).first() is not None:
            raise CaseBusy(f"qc case {timer.key} is being changed; the deadline is checked again shortly")
        return
    if CaseStatus(case.status) not in domain.AWAITING_ITEM:
        return
    now = _now()
    _enter(
        session, case, CaseStatus.EXPIRED, SYSTEM, now, "the item did not reach the warehouse by the inbound deadline"
    )
    await runtime.outbox.add(session, QcExpired(**_parties(case)))
    await _strike(session, runtime, case, StrikeReason.EXPIRED, now)


# --- commands -----------------------------------------------------------------------------------------------------


@dataclass
class CreatedWarehouse:
    warehouse: Warehouse
    routed_case_ids: list[str]


async def create_warehouse(runtime, principal: Principal, body: WarehouseCreate) -> CreatedWarehouse:
    principal.require(Role.ADMIN)
    now = _now()
    async with runtime.transaction() as session:
        await _routing_lock(session, exclusive=True)
        warehouse_id = body.warehouse_id or f"wh_{uuid.uuid4().hex}"
        inserted = await session.execute(
            insert(_warehouses)
            .values(
                warehouse_id=warehouse_id,
                name=body.name,
                address=body.address,
                categories=body.categories,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["warehouse_id"])
            .returning(_warehouses.c.warehouse_id)
        )
        if inserted.first() is None:
            raise Conflict(f"warehouse {warehouse_id} already exists", code="WAREHOUSE_EXISTS")
        warehouse = (
            await session.execute(select(Warehouse).where(Warehouse.warehouse_id == warehouse_id))
        ).scalar_one()
        waiting = (
            (
                await session.execute(
                    select(QcCase)
                    .where(
                        QcCase.status == CaseStatus.AWAITING_ROUTING,
                        true() if domain.ANY_CATEGORY in body.categories else QcCase.category.in_(body.categories),
                    )
                    .order_by(QcCase.created_at, QcCase.case_id)
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        for case in waiting:
            await _route(session, runtime, case, warehouse, _actor(principal), now)
        return CreatedWarehouse(warehouse, [c.case_id for c in waiting])


async def route_case(runtime, principal: Principal, case_id: str, body: RouteIn) -> QcCase:
    """Admin override for a case that waits for routing: send it to a named warehouse."""
    principal.require(Role.ADMIN)
    now = _now()
    async with runtime.transaction() as session:
        await _routing_lock(session, exclusive=True)
        case = await _lock_case(session, case_id)
        if CaseStatus(case.status) is CaseStatus.AWAITING_INBOUND and case.warehouse_id == body.warehouse_id:
            return case  # the same request again
        warehouse = (
            await session.execute(select(Warehouse).where(Warehouse.warehouse_id == body.warehouse_id))
        ).scalar_one_or_none()
        if warehouse is None:
            raise Unprocessable(f"warehouse {body.warehouse_id} does not exist", code="UNKNOWN_WAREHOUSE")
        domain.transition(CaseStatus(case.status), CaseStatus.AWAITING_INBOUND)
        await _route(session, runtime, case, warehouse, _actor(principal), now)
        return case


async def record_arrival(runtime, principal: Principal, case_id: str, body: ArrivalIn) -> QcCase:
    principal.require(Role.WAREHOUSE)
    now = _now()
    async with runtime.transaction() as session:
        case = await _lock_case(session, case_id)
        _require_own_warehouse(principal, case)
        if CaseStatus(case.status) is CaseStatus.IN_INSPECTION and case.arrival_tracking_no == body.tracking_no:
            return case  # the same arrival again
        _enter(
            session, case, CaseStatus.IN_INSPECTION, _actor(principal), now, f"arrived with tracking {body.tracking_no}"
        )
        case.arrival_tracking_no, case.arrived_at, case.arrived_by = body.tracking_no, now, principal.sub
        await runtime.timers.cancel(session, INBOUND_DEADLINE, case.case_id)
        await runtime.outbox.add(session, QcItemReceived(**_parties(case)))
        return case


def _same_verdict(case: QcCase, principal: Principal, body: VerdictIn) -> bool:
    return (
        case.verdict_result == body.result
        and case.failure_reason == body.failure_reason
        and case.findings == body.findings
        and case.photos == [str(p) for p in body.photos]
        and case.inspector_id == principal.sub
    )


async def record_verdict(runtime, principal: Principal, case_id: str, body: VerdictIn) -> QcCase:
    principal.require(Role.INSPECTOR)
    now = _now()
    async with runtime.transaction() as session:
        case = await _lock_case(session, case_id)
        _require_own_warehouse(principal, case)
        if case.verdict_result is not None and _same_verdict(case, principal, body):
            return case  # the same verdict again
        target = domain.verdict_status(body.result)
        reason = f"{body.result}" + (f": {body.failure_reason}" if body.failure_reason else "")
        _enter(session, case, target, _actor(principal), now, reason)
        case.verdict_result = body.result
        case.failure_reason = body.failure_reason
        case.findings = body.findings
        case.photos = [str(p) for p in body.photos]
        case.inspector_id = principal.sub
        case.verdict_at = now
        if body.result is VerdictResult.PASSED:
            case.certificate_no = domain.new_certificate_no()
            await runtime.outbox.add(session, QcPassed(**_parties(case), certificate_no=case.certificate_no))
        else:
            failure = QcFailureReason(body.failure_reason)
            await runtime.outbox.add(session, QcFailed(**_parties(case), reason=failure, findings=body.findings))
            strike = domain.strike_reason_for_failure(failure)
            if strike is not None:
                await _strike(session, runtime, case, strike, now)
        return case


async def record_dispatch(runtime, principal: Principal, case_id: str, body: DispatchIn) -> QcCase:
    principal.require(Role.WAREHOUSE)
    now = _now()
    async with runtime.transaction() as session:
        case = await _lock_case(session, case_id)
        _require_own_warehouse(principal, case)
        status = CaseStatus(case.status)
        if status is CaseStatus.DISPATCHED and (case.dispatch_carrier, case.dispatch_tracking_no) == (
            body.carrier,
            body.tracking_no,
        ):
            return case  # the same dispatch again
        to = domain.dispatch_target(status)
        _enter(
            session,
            case,
            CaseStatus.DISPATCHED,
            _actor(principal),
            now,
            f"to {to} by {body.carrier} {body.tracking_no}",
        )
        case.dispatch_to, case.dispatch_carrier, case.dispatch_tracking_no = to, body.carrier, body.tracking_no
        case.dispatched_at, case.dispatched_by = now, principal.sub
        await runtime.outbox.add(
            session, QcDispatched(**_parties(case), to=to, carrier=body.carrier, tracking_no=body.tracking_no)
        )
        return case


# --- reads --------------------------------------------------------------------------------------------------------

CASE_READERS = (Role.ADMIN, Role.WAREHOUSE, Role.INSPECTOR, Role.BUYER, Role.SELLER)


def _visible(principal: Principal, case: QcCase) -> bool:
    match principal.role:
        case Role.ADMIN:
            return True
        case Role.WAREHOUSE | Role.INSPECTOR:
            return case.warehouse_id is not None and case.warehouse_id == principal.warehouse_id
        case Role.BUYER:
            return case.buyer_id == principal.sub
        case Role.SELLER:
            return case.shop_id == principal.shop_id
    return False


async def timelines(session: AsyncSession, case_ids: list[str]) -> dict[str, list[QcCaseEvent]]:
    found: dict[str, list[QcCaseEvent]] = {cid: [] for cid in case_ids}
    if case_ids:
        rows = await session.execute(
            select(QcCaseEvent).where(QcCaseEvent.case_id.in_(case_ids)).order_by(QcCaseEvent.case_id, QcCaseEvent.id)
        )
        for entry in rows.scalars():
            found[entry.case_id].append(entry)
    return found


async def get_case(runtime, principal: Principal, case_id: str) -> tuple[QcCase, list[QcCaseEvent]]:
    principal.require(*CASE_READERS)
    async with runtime.transaction() as session:
        case = (await session.execute(select(QcCase).where(QcCase.case_id == case_id))).scalar_one_or_none()
        if case is None or not _visible(principal, case):
            raise NotFound(f"qc case {case_id} not found", code="CASE_NOT_FOUND")
        return case, (await timelines(session, [case_id]))[case_id]


async def list_cases(
    runtime,
    principal: Principal,
    *,
    order_id: str | None,
    status: CaseStatus | None,
    warehouse_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[QcCase], dict[str, list[QcCaseEvent]], str | None]:
    principal.require(*CASE_READERS)
    conditions = []
    match principal.role:
        case Role.WAREHOUSE | Role.INSPECTOR:
            if warehouse_id is not None and warehouse_id != principal.warehouse_id:
                raise Forbidden("you may list only your own warehouse's cases", code="OTHER_WAREHOUSE")
            conditions.append(QcCase.warehouse_id == principal.warehouse_id)
        case Role.BUYER | Role.SELLER:
            if order_id is None:
                raise Unprocessable("buyers and sellers list cases by order_id", code="ORDER_ID_REQUIRED")
            conditions.append(
                QcCase.buyer_id == principal.sub
                if principal.role is Role.BUYER
                else QcCase.shop_id == principal.shop_id
            )
    if order_id is not None:
        conditions.append(QcCase.order_id == order_id)
    if status is not None:
        conditions.append(QcCase.status == status)
    if warehouse_id is not None:
        conditions.append(QcCase.warehouse_id == warehouse_id)
    if cursor is not None:
        created_raw, after_id = decode_cursor(cursor, 2)
        try:
            created = datetime.fromisoformat(created_raw)
        except (TypeError, ValueError):
            raise InvalidCursor("the cursor is not one this API gave out") from None
        conditions.append(tuple_(QcCase.created_at, QcCase.case_id) < tuple_(created, str(after_id)))
    async with runtime.transaction() as session:
        rows = (
            (
                await session.execute(
                    select(QcCase)
                    .where(and_(*conditions))
                    .order_by(QcCase.created_at.desc(), QcCase.case_id.desc())
                    .limit(limit + 1)
                )
            )
            .scalars()
            .all()
        )
        page, more = list(rows[:limit]), len(rows) > limit
        lines = await timelines(session, [c.case_id for c in page])
    next_cursor = encode_cursor(page[-1].created_at.isoformat(), page[-1].case_id) if more else None
    return page, lines, next_cursor


@dataclass
class Certificate:
    case: QcCase
    warehouse: Warehouse


async def get_certificate(runtime, certificate_no: str) -> Certificate:
    async with runtime.transaction() as session:
        row = (
            await session.execute(
                select(QcCase, Warehouse)
                .join(Warehouse, Warehouse.warehouse_id == QcCase.warehouse_id)
                .where(QcCase.certificate_no == certificate_no)
            )
        ).first()
    if row is None:
        raise NotFound("no certificate with this number", code="CERTIFICATE_NOT_FOUND")
    return Certificate(row[0], row[1])


async def list_warehouses(
    runtime, principal: Principal, *, category: str | None, limit: int, cursor: str | None
) -> tuple[list[Warehouse], dict[str, int], str | None]:
    conditions = []
    if category:
        conditions.append(_warehouses.c.categories.contains([domain.normalize_category(category)]))
    if cursor is not None:
        (after,) = decode_cursor(cursor, 1)
        conditions.append(Warehouse.warehouse_id > str(after))
    async with runtime.transaction() as session:
        rows = (
            (
                await session.execute(
                    select(Warehouse).where(and_(*conditions)).order_by(Warehouse.warehouse_id).limit(limit + 1)
                )
            )
            .scalars()
            .all()
        )
        page, more = list(rows[:limit]), len(rows) > limit
        counts = await _open_counts(session, [w.warehouse_id for w in page])
    return page, counts, encode_cursor(page[-1].warehouse_id) if more else None


async def get_warehouse(runtime, principal: Principal, warehouse_id: str) -> tuple[Warehouse, int]:
    async with runtime.transaction() as session:
        warehouse = (
            await session.execute(select(Warehouse).where(Warehouse.warehouse_id == warehouse_id))
        ).scalar_one_or_none()
        if warehouse is None:
            raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
        return warehouse, (await _open_counts(session, [warehouse_id]))[warehouse_id]


@dataclass
class ShopRecord:
    shop_id: str
    status: ShopStatus
    suspended_at: datetime | None
    strikes_at_suspension: int | None
    strikes: list[Strike]
    active_ids: set[str]


async def shop_strikes(runtime, principal: Principal, shop_id: str) -> ShopRecord:
    principal.require(Role.ADMIN, Role.SELLER)
    if principal.role is Role.SELLER and principal.shop_id != shop_id:
        raise Forbidden("sellers see only their own shop's strikes", code="OTHER_SHOP")
    now = _now()
    window = runtime.settings.strike_window
    async with runtime.transaction() as session:
        enforcement = (
            await session.execute(select(ShopEnforcement).where(ShopEnforcement.shop_id == shop_id))
        ).scalar_one_or_none()
        strikes = (
            (
                await session.execute(
                    select(Strike).where(Strike.shop_id == shop_id).order_by(Strike.struck_at.desc(), Strike.strike_id)
                )
            )
            .scalars()
            .all()
        )
    active = {s.strike_id for s in strikes if domain.strikes_in_window([s.struck_at], now, window)}
    return ShopRecord(
        shop_id=shop_id,
        status=ShopStatus(enforcement.status) if enforcement else ShopStatus.ACTIVE,
        suspended_at=enforcement.suspended_at if enforcement else None,
        strikes_at_suspension=enforcement.strikes_at_suspension if enforcement else None,
        strikes=list(strikes),
        active_ids=active,
    )
