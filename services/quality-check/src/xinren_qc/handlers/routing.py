"""Where a case is inspected: warehouses, routing a case to one, and the admin's override."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Select, String, bindparam, exists, literal, select, text, true
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared import sql
from xinren_shared.auth import Principal
from xinren_shared.errors import Conflict, Unprocessable
from xinren_shared.ids import new_id
from xinren_shared.outbox import insert_with
from xinren_shared.timers import Timers

from .. import domain, events_out
from ..domain import CaseStatus
from ..models import QcCase, QcCaseEvent, Warehouse, infra
from ..schemas import CasePublic, RouteIn, WarehouseCreate, WarehouseCreated
from ..views import case_public, open_counts, warehouse_public
from .cases import INBOUND_DEADLINE, QcUnit, lock_case, move

# Routing and warehouse creation meet under this lock (order.paid shared, warehouse creation exclusive), so a case
# that finds no warehouse is always seen by the creation of the warehouse that could take it.
_ROUTING_LOCK = 7_301_996


async def routing_lock(session: AsyncSession, *, exclusive: bool) -> None:
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await session.execute(text(f"SELECT {fn}(:k)"), {"k": _ROUTING_LOCK})


def _inspecting(found: list[Warehouse], category: str) -> list[Warehouse]:
    """Of the warehouses found for a category, those listing it, else those inspecting any."""
    listing = [w for w in found if category in w.categories]
    return listing or [w for w in found if domain.ANY_CATEGORY in w.categories]


def _either(category: Any) -> Any:
    """The category or "any", as an array to match a warehouse's categories against (&&)."""
    return array([category, literal(domain.ANY_CATEGORY, String)])


async def choose_warehouse(session: AsyncSession, category: str, hint: str | None) -> Warehouse | None:
    """A warehouse inspecting the category (else one inspecting any), the hint when it fits, else the least loaded."""
    categories = Warehouse.__table__.c.categories  # type: ignore[attr-defined]
    query = select(Warehouse).where(categories.overlap(_either(category)))
    found = list((await session.execute(query)).scalars().all())
    return await _least_loaded(session, _inspecting(found, category), hint)


@dataclass(frozen=True)
class NewCase:
    """What routing a paid order's case needs to know first: whether the order already has its case, and the
    warehouses that could inspect its category (those listing it, else those inspecting any)."""

    has_case: bool
    inspecting: list[Warehouse]

    async def choose(self, session: AsyncSession, hint: str | None) -> Warehouse | None:
        return await _least_loaded(session, self.inspecting, hint)


async def new_case(session: AsyncSession, order_id: str, category: str) -> NewCase:
    """One statement, and no lock: a warehouse found is a warehouse to route to (a change of its categories takes
    effect for the next routing). Finding none is the only answer the routing lock must protect (the caller takes it
    and asks `choose_warehouse` again)."""
    rows = await _NEW_CASE.fetch(await sql.driver(session), {"order_id": order_id, "category": category})
    found = [Warehouse(**{name: row[name] for name in _WAREHOUSE_COLUMNS}) for row in rows if row["warehouse_id"]]
    return NewCase(rows[0]["has_case"], _inspecting(found, category))


_WAREHOUSE_COLUMNS = ("warehouse_id", "name", "address", "categories", "capacity")


def _new_case() -> Select[Any]:
    case, warehouse = QcCase.__table__, Warehouse.__table__  # type: ignore[attr-defined]
    own = exists().where(case.c.order_id == bindparam("order_id"), case.c.aftersale_case_id.is_(None))
    held = select(own.label("has_case")).subquery("held")
    columns = [warehouse.c[name] for name in _WAREHOUSE_COLUMNS]
    inspecting = held.outerjoin(warehouse, warehouse.c.categories.overlap(_either(bindparam("category", type_=String))))
    return select(held.c.has_case, *columns).select_from(inspecting)


_NEW_CASE = sql.Statement(_new_case())


async def _least_loaded(session: AsyncSession, inspecting: list[Warehouse], hint: str | None) -> Warehouse | None:
    """The hint when it fits, else the least loaded. The only one inspecting is chosen without counting its open
    cases (a scan of all of them, per paid order)."""
    if len(inspecting) == 1:
        return inspecting[0]
    counts = await open_counts(session, [w.warehouse_id for w in inspecting])
    capacity = {w.warehouse_id: w.capacity for w in inspecting}
    chosen = domain.pick_warehouse((domain.Candidate(wid, n, capacity[wid]) for wid, n in counts.items()), hint)
    return next((w for w in inspecting if w.warehouse_id == chosen), None)


def routed_to(warehouse: Warehouse) -> str:
    """The timeline's reason for a case routed to `warehouse`."""
    return f"routed to warehouse {warehouse.warehouse_id}"


async def announce_opened(
    uow: QcUnit, case: QcCase, warehouse: Warehouse, *, actor: str, reason: str, new: bool = False
) -> None:
    """A case just routed to `warehouse` (AWAITING_INBOUND): its timeline entry, the seller's inbound deadline and
    qc.case_opened, which tells everyone where, in one statement. `new`: the case is not written yet (`case`, not
    in the session, holds its columns): that statement inserts it too."""
    assert case.inbound_deadline is not None  # set with the warehouse
    _, params = uow.runtime.outbox.embedded(uow.session, events_out.case_opened(case, warehouse), prefix="e_")
    params.update(
        case_id=case.case_id,
        at=uow.now,
        status=case.status,
        actor=actor,
        reason=reason,
        timer_kind=INBOUND_DEADLINE,
        due_at=case.inbound_deadline,
        timer_payload={"order_id": case.order_id},
    )
    if new:
        params.update({f"c_{name}": getattr(case, name) for name in _NEW_CASE_COLUMNS})
    await _OPENED[new].execute(await sql.driver(uow.session), params)


# What a paid order's case is opened with (the other columns start empty).
_NEW_CASE_COLUMNS = (
    "case_id",
    "order_id",
    "buyer_id",
    "shop_id",
    "host_id",
    "category",
    "items",
    "paid_fen",
    "shipping_address",
    "return_address",
    "status",
    "warehouse_id",
    "inbound_deadline",
    "created_at",
    "updated_at",
)


def _opened(new: bool) -> Select[Any]:
    entry = insert(QcCaseEvent).values(
        case_id=bindparam("case_id"),
        at=bindparam("at"),
        status=bindparam("status"),
        actor=bindparam("actor"),
        reason=bindparam("reason"),
    )
    deadline = Timers(infra.timer).schedule_statement(
        bindparam("timer_kind", type_=String),
        bindparam("case_id"),
        bindparam("due_at", type_=DateTime(timezone=True)),
        bindparam("timer_payload", type_=infra.timer.c.payload.type),
    )
    others = [entry.cte("entry"), deadline.cte("deadline")]
    if new:
        columns = QcCase.__table__.c  # type: ignore[attr-defined]
        values = {name: bindparam(f"c_{name}", type_=columns[name].type) for name in _NEW_CASE_COLUMNS}
        others.insert(0, insert(QcCase).values(values).cte("opened"))
    return insert_with(infra.outbox, "e_", *others)


_OPENED = {new: sql.Statement(_opened(new)) for new in (False, True)}


async def _route(uow: QcUnit, case: QcCase, warehouse: Warehouse, actor: str) -> None:
    """AWAITING_ROUTING → AWAITING_INBOUND at `warehouse`: timeline, deadline timer and qc.case_opened."""
    move(uow, case, CaseStatus.AWAITING_INBOUND)
    case.warehouse_id = warehouse.warehouse_id
    case.inbound_deadline = uow.now + uow.settings.inbound_deadline
    await announce_opened(uow, case, warehouse, actor=actor, reason=routed_to(warehouse))


async def create_warehouse(uow: QcUnit, principal: Principal, body: WarehouseCreate) -> WarehouseCreated:
    """A new warehouse; the cases that waited for one inspecting its categories are routed to it at once."""
    session = uow.session
    await routing_lock(session, exclusive=True)
    warehouse_id = body.warehouse_id or new_id("wh")
    warehouse = (
        await session.scalars(
            insert(Warehouse)
            .values(
                warehouse_id=warehouse_id,
                name=body.name,
                address=body.address,
                categories=body.categories,
                created_at=uow.now,
            )
            .on_conflict_do_nothing(index_elements=["warehouse_id"])
            .returning(Warehouse)
        )
    ).one_or_none()
    if warehouse is None:
        raise Conflict(f"warehouse {warehouse_id} already exists", code="WAREHOUSE_EXISTS")
    routed = await route_waiting(uow, warehouse, body.categories, principal.actor)
    public = warehouse_public(warehouse, len(routed))
    return WarehouseCreated(**public.model_dump(), routed_case_ids=routed)


async def route_waiting(uow: QcUnit, warehouse: Warehouse, categories: list[str], actor: str) -> list[str]:
    """Routes every case that waits for a warehouse inspecting one of `categories` to `warehouse` (the caller holds
    the routing lock exclusively); the ids routed."""
    waiting = (
        (
            await uow.session.execute(
                select(QcCase)
                .where(
                    col(QcCase.status) == CaseStatus.AWAITING_ROUTING,
                    true() if domain.ANY_CATEGORY in categories else col(QcCase.category).in_(categories),
                )
                .order_by(col(QcCase.created_at), col(QcCase.case_id))
                .with_for_update()
            )
        )
        .scalars()
        .all()
    )
    for case in waiting:
        await _route(uow, case, warehouse, actor)
    return [case.case_id for case in waiting]


async def route_case(uow: QcUnit, principal: Principal, case_id: str, body: RouteIn) -> CasePublic:
    """Admin override for a case that waits for routing: send it to a named warehouse."""
    session = uow.session
    await routing_lock(session, exclusive=True)
    case = await lock_case(session, case_id)
    if CaseStatus(case.status) is CaseStatus.AWAITING_INBOUND and case.warehouse_id == body.warehouse_id:
        return await case_public(session, principal, case)  # the same request again
    warehouse = await session.get(Warehouse, body.warehouse_id)
    if warehouse is None:
        raise Unprocessable(f"warehouse {body.warehouse_id} does not exist", code="UNKNOWN_WAREHOUSE")
    await _route(uow, case, warehouse, principal.actor)
    return await case_public(session, principal, case)
