"""Loading rows, by commands and reads alike: a missing row, or one the principal may not see, is a 404."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

import sqlalchemy as sa
from fastapi import Response
from pydantic.fields import FieldInfo
from sqlalchemy import JSON, String, Text, any_, bindparam, func, literal, literal_column, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, exists, select

from xinren_shared import sql
from xinren_shared.auth import Principal
from xinren_shared.commands import OneStatement, with_key_answer, with_key_record
from xinren_shared.errors import NotFound
from xinren_shared.events import Event
from xinren_shared.outbox import insert_with
from xinren_shared.timers import Timers

from . import ledger, stock
from .access import ORDERS, reports_delivery
from .commission import CooperationStatus, Terms
from .models import AfterSaleCase, OrderTimelineEntry, Product, SalesOrder, Shop, infra, metadata


async def load_order(session: AsyncSession, order_id: str, *, lock: bool) -> SalesOrder | None:
    query = select(SalesOrder).where(SalesOrder.order_id == order_id)
    if lock:
        # A row read earlier in the same transaction is read again under the lock, not taken from the session.
        query = query.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(query)).scalar_one_or_none()


def order_not_found(order_id: str) -> NotFound:
    return NotFound(f"order {order_id} not found", code="ORDER_NOT_FOUND")


async def order_for(session: AsyncSession, principal: Principal, order_id: str, *, lock: bool = True) -> SalesOrder:
    """The order if it exists and is this principal's to see; otherwise 404 (another tenant's order is private)."""
    order = await load_order(session, order_id, lock=lock)
    if order is None or not ORDERS.allows(principal, order):
        raise order_not_found(order_id)
    return order


async def order_for_delivery(session: AsyncSession, principal: Principal, order_id: str) -> SalesOrder:
    """The order, locked, if the principal reports deliveries of its parcel (its carrier or its shop); else 404."""
    order = await load_order(session, order_id, lock=True)
    if order is None or not reports_delivery(principal, order):
        raise order_not_found(order_id)
    return order


async def order_to_pay(
    cmd: OneStatement[Any], principal: Principal, order_id: str
) -> tuple[SalesOrder, dict[str, Any] | None, list[OrderTimelineEntry]]:
    """The order (unsaved: read, not tracked; 404 as order_for), its shop's current return address and its timeline
    so far (unsaved entries, in the order written), in one query with the Idempotency-Key's answer (then given)."""
    row = (await cmd.read(_PAY_READ, {"order_id": order_id}))[0]
    if row["order_id"] is None:
        raise order_not_found(order_id)
    order = unsaved_order(**{name: row[name] for name in _ALL_ORDER_COLUMNS})
    if not ORDERS.allows(principal, order):
        raise order_not_found(order_id)
    entries = [unsaved_entry(**{**e, "at": datetime.fromisoformat(e["at"]).astimezone(UTC)}) for e in row["timeline"]]
    return order, row["shop_return_address"], entries


async def status_of(cmd: OneStatement[Any], order_id: str) -> tuple[str | None, str | None]:
    """The order's status and payment reference as they are now (a statement of its own); (None, None) when the
    order is not there."""
    row = await _STATUS.fetchrow(cmd.conn, {"order_id": order_id})
    return (row["status"], row["payment_ref"]) if row is not None else (None, None)


async def insert_new(session: AsyncSession, row: SQLModel) -> bool:
    """Inserts `row` unless a row with its primary key exists, committed or being written by another transaction
    (this one then waits for it): False then, and nothing written. Two requests creating the same id at once get
    one row and one False, where checking first and then inserting gave the second a unique violation (a 500)."""
    mapper = sa.inspect(type(row))
    table = mapper.local_table
    values = {attr.columns[0].name: getattr(row, attr.key) for attr in mapper.column_attrs}
    statement = (
        pg_insert(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=list(table.primary_key.columns))
        .returning(literal(True))
    )
    return bool(await session.scalar(statement))


async def load_shop(session: AsyncSession, shop_id: str, *, lock: bool = False) -> Shop | None:
    query = select(Shop).where(Shop.shop_id == shop_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def shop_for(session: AsyncSession, shop_id: str, *, lock: bool = False) -> Shop:
    shop = await load_shop(session, shop_id, lock=lock)
    if shop is None:
        raise NotFound(f"shop {shop_id} not found")
    return shop


async def product_for(session: AsyncSession, sku_id: str) -> Product:
    product = await session.get(Product, sku_id)
    if product is None:
        raise NotFound(f"product {sku_id} not found")
    return product


async def case_open(session: AsyncSession, order_id: str) -> bool:
    """Whether an after-sales case of the order is open (it pauses auto-confirm and blocks completion)."""
    query = select(exists().where(col(AfterSaleCase.order_id) == order_id, col(AfterSaleCase.open)))
    return bool((await session.execute(query)).scalar())


# --- Order intake and pay (POST /v1/orders, …/pay): their statements, built once so that each is compiled once -----
# Each is a read and a write on a connection with no transaction open (commands.OneStatement). The read takes no
# lock; the write commits on its own, and a new order's stock is taken as it commits (migration 0011's trigger), so
# that the hot product row is locked only inside PostgreSQL's commit.
_SHOP, _PRODUCT, _COOPERATION = (metadata.tables[name] for name in ("shop", "product", "cooperation"))
_ORDER, _TIMELINE = metadata.tables["sales_order"], metadata.tables["order_timeline_entry"]
_ENTRY_COLUMNS = ("order_id", "at", "from_status", "to_status", "actor", "reason")  # what a timeline entry says
# What creation writes of the order: its required columns and the optional ones it may set (the others stay null
# until a later step sets them, as the ORM leaves out a None).
_CREATION_SETS = ("host_id", "live_room_id", "warehouse_hint", "pay_by")
_ORDER_COLUMNS = tuple(c.name for c in _ORDER.columns if not c.nullable or c.name in _CREATION_SETS)


def _unsaved(model: type[SQLModel]) -> Callable[..., Any]:
    """A plain class with the columns of `model` as attributes, their defaults the model's: what intake shapes the
    answer and the event from and writes by one statement. An ORM instance would cost more to build than the rest
    of the request's Python (every attribute set goes through the mapper's instrumentation), and the session must
    not track it: the order is inserted by the intake statement, not flushed."""
    columns = [c.name for c in model.__table__.columns]  # type: ignore[attr-defined]
    fields = model.model_fields
    spec = [(n, Any, _default(fields[n])) for n in columns]
    return make_dataclass(f"Unsaved{model.__name__}", spec, slots=True, kw_only=True)


def _default(info: FieldInfo) -> Any:
    """The model field's default as a dataclass field, resolved once: pydantic's `get_default` inspects the factory's
    signature on every call, which cost more than the rest of building an order."""
    factory = info.default_factory
    if factory is not None:
        if info.default_factory_takes_validated_data:
            raise TypeError(f"{factory!r}: a default that depends on other fields cannot be resolved ahead")
        return field(default_factory=factory)  # type: ignore[arg-type]
    default = info.default
    if isinstance(default, (list, dict, set)):
        return field(default_factory=partial(copy.deepcopy, default))
    return field(default=default)


_UNSAVED_ORDER, _UNSAVED_ENTRY = _unsaved(SalesOrder), _unsaved(OrderTimelineEntry)


def unsaved_order(**values: Any) -> SalesOrder:
    """A new order's columns (see `_unsaved`); it reads as a SalesOrder, and is written by `intake_write`."""
    order: SalesOrder = _UNSAVED_ORDER(**values)
    return order


def unsaved_entry(**values: Any) -> OrderTimelineEntry:
    entry: OrderTimelineEntry = _UNSAVED_ENTRY(**values)
    return entry


@dataclass(frozen=True)
class IntakeProduct:
    sku_id: str
    shop_id: str
    title: str
    category: str
    price_fen: int
    stock_available: int


@dataclass(frozen=True)
class Intake:
    """What an order is made from, read in one query without a lock: the shop (None when it does not exist), the
    ordered products that exist, and the host's active cooperations with the shop (only when a host is named)."""

    shop_status: str | None
    trust_rights: list[str]
    products: dict[str, IntakeProduct]
    host_terms: list[Terms]


def _intake_read(with_host: bool) -> sa.Select[Any]:
    s, p = _SHOP, _PRODUCT
    columns: list[Any] = [s.c.status, s.c.trust_rights, p.c.sku_id, p.c.shop_id, p.c.title, p.c.category]
    columns += [p.c.price_fen, stock.total_of(p.c.sku_id).label("stock_available")]
    if with_host:
        c = _COOPERATION
        by_age = aggregate_order_by(
            func.json_build_array(c.c.cooperation_id, c.c.commission_bps, c.c.sku_ids),
            c.c.created_at,
            c.c.cooperation_id,
        )
        terms = (
            sa.select(func.coalesce(func.json_agg(by_age), literal_column("'[]'::json")))
            .where(
                c.c.shop_id == bindparam("shop_id"),
                c.c.host_id == bindparam("host_id"),
                c.c.status == CooperationStatus.ACTIVE.value,
            )
            .scalar_subquery()
        )
        columns.append(type_coerce(terms, JSON).label("host_terms"))
    # One row per product found, each with the shop's columns; one row of nulls when neither exists.
    one = sa.select(literal(1).label("one")).subquery("one")
    skus = bindparam("skus", type_=ARRAY(Text))
    joined = one.outerjoin(s, s.c.shop_id == bindparam("shop_id")).outerjoin(p, p.c.sku_id == any_(skus))
    return sa.select(*columns).select_from(joined)


# With the Idempotency-Key's answer, if one was recorded (the command's first read: commands.OneStatement).
_READ = {host: sql.Statement(with_key_answer(_intake_read(host), infra.idempotency)) for host in (False, True)}


async def intake_read(cmd: OneStatement[Any], shop_id: str, skus: list[str], host_id: str | None) -> Intake:
    params: dict[str, Any] = {"shop_id": shop_id, "skus": skus}
    if host_id is not None:
        params["host_id"] = host_id
    rows = await cmd.read(_READ[host_id is not None], params)
    first = rows[0]
    products = {
        r["sku_id"]: IntakeProduct(
            r["sku_id"], r["shop_id"], r["title"], r["category"], r["price_fen"], r["stock_available"]
        )
        for r in rows
        if r["sku_id"] is not None
    }
    terms = [
        Terms(cooperation_id, bps, frozenset(sku_ids) if sku_ids is not None else None)
        for cooperation_id, bps, sku_ids in (first["host_terms"] if host_id is not None else [])
    ]
    return Intake(first["status"], list(first["trust_rights"] or []), products, terms)


def _intake_write(timers: Timers) -> sa.Select[Any]:
    """The new order, its first timeline entry, its unpaid timer and its event in one statement (data-modifying
    CTEs). The order's columns are the bind parameters `o_<column>`, the
    event's `e_<name>` (`Outbox.embedded`). It takes no stock: the order's insert does, at commit (migration 0011's
    deferred trigger), so the hot product row is locked only inside the commit."""
    entry = sa.insert(_TIMELINE).values(
        order_id=bindparam("o_order_id"),
        at=bindparam("o_created_at"),
        from_status=None,
        to_status=bindparam("o_status"),
        actor=bindparam("actor"),
        reason=bindparam("reason"),
    )
    timer = timers.schedule_statement(bindparam("timer_kind"), bindparam("o_order_id"), bindparam("o_pay_by"))
    order = sa.insert(_ORDER).values(
        {name: bindparam(f"o_{name}", type_=_ORDER.c[name].type) for name in _ORDER_COLUMNS}
    )
    others = (order.cte("new_order"), entry.cte("new_entry"), timer.cte("new_timer"))
    return insert_with(infra.outbox, "e_", *others)


# With the Idempotency-Key's answer, when there is a key (commands.OneStatement).
_WRITE = sql.Statement(with_key_record(_intake_write(Timers(infra.timer)), infra.idempotency))


def _pay_read() -> sa.Select[Any]:
    """The order's columns, its shop's current return address (`shop_return_address`) and its timeline so far
    (`timeline`, JSON in the order written): no row for an order that does not exist."""
    o, t = _ORDER, _TIMELINE
    entry = func.json_build_object(*(part for name in _ENTRY_COLUMNS[1:] for part in (name, t.c[name])))
    timeline = sa.select(
        type_coerce(func.coalesce(func.json_agg(aggregate_order_by(entry, t.c.id)), sa.text("'[]'::json")), JSON)
    ).where(t.c.order_id == o.c.order_id)
    return (
        sa.select(*o.columns, _SHOP.c.return_address.label("shop_return_address"), timeline.label("timeline"))
        .join_from(o, _SHOP, _SHOP.c.shop_id == o.c.shop_id)
        .where(o.c.order_id == bindparam("order_id"))
    )


_ALL_ORDER_COLUMNS = tuple(c.name for c in _ORDER.columns)
_PAY_READ = sql.Statement(with_key_answer(_pay_read(), infra.idempotency))
_STATUS = sql.Statement(
    sa.select(_ORDER.c.status, _ORDER.c.payment_ref).where(_ORDER.c.order_id == bindparam("order_id"))
)
# What paying changes on the order's row.
PAID_SETS = (
    "status",
    "paid_fen",
    "paid_at",
    "payment_method",
    "payment_ref",
    "return_address",
    "ship_by",
    "updated_at",
)
# The refusal of a payment whose order left the status it was read in before the payment's one statement ran.
ORDER_MOVED = "ORDER_MOVED"


def _pay_write(timers: Timers, *, late: bool) -> sa.Select[Any]:
    """Everything paying writes, in one statement that commits on its own: the order's row (`p_<column>` of
    PAID_SETS, only while the order is still in the status it was read in, `p_from`), the ledger's payment
    (`ledger.posting`, bind parameters `l_<name>`), the PAID timeline entry (`t_<column>`), the unpaid timer's
    cancellation, the shipping-late timer when the shop promises fast shipping (`late`), order.paid (`e_<name>`)
    and the Idempotency-Key's answer. An order that moved meanwhile (cancelled as it was being paid) refuses the
    whole statement (`xinren_refuse`, migration 0012): nothing of it is written."""
    o = _ORDER
    paid = (
        sa.update(o)
        .where(o.c.order_id == bindparam("t_order_id"), o.c.status == bindparam("p_from"))
        .values({name: bindparam(f"p_{name}", type_=o.c[name].type) for name in PAID_SETS})
        .returning(o.c.order_id)
        .cte("paid")
    )
    txn, entries = ledger.posting("l_")
    entry = sa.insert(_TIMELINE).values({name: bindparam(f"t_{name}") for name in _ENTRY_COLUMNS})
    unpaid = timers.cancel_statement(bindparam("unpaid_kind"), bindparam("t_order_id"))
    others = [paid, txn, entries, entry.cte("paid_entry"), unpaid.cte("unpaid")]
    if late:
        due = timers.schedule_statement(
            bindparam("late_kind"), bindparam("t_order_id"), bindparam("late_due"), bindparam("late_payload")
        )
        others.append(due.cte("shipping_late"))
    moved = func.json_build_object("code", ORDER_MOVED, "message", "the order changed while it was being paid")
    still = sa.case((sa.exists(sa.select(paid.c.order_id)), sa.true()), else_=func.xinren_refuse(moved))
    return insert_with(infra.outbox, "e_", *others).add_columns(still.label("paid"))


_PAY_WRITE = {
    late: sql.Statement(with_key_record(_pay_write(Timers(infra.timer), late=late), infra.idempotency))
    for late in (False, True)
}


async def pay_write(
    cmd: OneStatement[Any],
    order: SalesOrder,
    previous: str,
    entry: OrderTimelineEntry,
    event: Event,
    answer: Any,
    *,
    posting: ledger.Posting,
    unpaid_timer: str,
    shipping_late: tuple[str, datetime, dict[str, Any]] | None,
) -> Response:
    """Writes everything paying an order writes, in one statement that commits on its own (`_pay_write`): the
    order's row as `order` has it now (while it is still `previous`), the ledger's `posting`, `entry`, `event`,
    `shipping_late` (the timer's kind, due time and payload), if any, and the Idempotency-Key's `answer`
    (returned as the route gives it)."""
    outbox = cmd.runtime.outbox
    _, params = outbox.params(event, prefix="e_")
    params.update(ledger.posting_params("l_", **posting))
    params.update({f"t_{name}": getattr(entry, name) for name in _ENTRY_COLUMNS})
    params.update({f"p_{name}": getattr(order, name) for name in PAID_SETS})
    params["p_from"] = previous
    params["unpaid_kind"] = unpaid_timer
    if shipping_late is not None:
        params["late_kind"], params["late_due"], params["late_payload"] = shipping_late
    return await cmd.write(_PAY_WRITE[shipping_late is not None], params, answer, wakes=(outbox.channel,))


async def intake_write(
    cmd: OneStatement[Any],
    order: SalesOrder,
    event: Event,
    answer: Any,
    *,
    actor: str,
    reason: str,
    timer_kind: str,
) -> Response:
    """Writes the order (its columns by name), its first timeline entry, its unpaid timer (due at its pay_by),
    `event` to the outbox and the Idempotency-Key's `answer`, in one statement that commits on its own (returned:
    the answer as the route gives it). Its lines' stock is taken as it commits; a line short of it then fails it,
    answered as 409 OUT_OF_STOCK (the database's refusal, `xinren_shared.errors.refusal_of`)."""
    outbox = cmd.runtime.outbox
    _, params = outbox.params(event, prefix="e_")
    params.update({f"o_{name}": getattr(order, name) for name in _ORDER_COLUMNS})
    params.update(actor=actor, reason=reason, timer_kind=timer_kind)
    return await cmd.write(_WRITE, params, answer, wakes=(outbox.channel,))


# --- A QC event's move of the order, in one statement ---------------------------------------------------------------


@dataclass(frozen=True)
class QcMove:
    """A move of the order that a QC event makes: from `from_status` to `to` (only an order requiring QC, when
    `qc_orders_only`), setting `notes` (columns the event tells), and the case's own status from one of `qc_from`
    to `qc_to` when the event is about the order's case (its `qc_case_id`, or the one the notes set)."""

    from_status: str
    to: str
    notes: tuple[str, ...]
    qc_from: frozenset[str | None]
    qc_to: str
    qc_orders_only: bool


async def move_by_qc(session: AsyncSession, move: QcMove, params: dict[str, Any]) -> bool:
    """The move, its timeline entry, and the case's status in one statement on the driver: whether the order moved
    (False: unknown here, or not in the status the move starts from). `params`: order_id, case_id, at, actor,
    reason, and each note as `n_<column>`. What the session holds unwritten (an earlier event's move of the order, in
    the same batch) is written first."""
    await session.flush()
    moved: int = await _qc_move(move).fetchval(await sql.driver(session), params)
    return moved > 0


@cache
def _qc_move(move: QcMove) -> sql.Statement:
    o = _ORDER
    ours = sa.true() if "qc_case_id" in move.notes else o.c.qc_case_id == bindparam("case_id")
    known = sorted(s for s in move.qc_from if s is not None)
    applies = o.c.qc_status == any_(literal(known, ARRAY(Text)))
    if None in move.qc_from:
        applies = sa.or_(o.c.qc_status.is_(None), applies)
    where = [o.c.order_id == bindparam("order_id"), o.c.status == literal(move.from_status)]
    if move.qc_orders_only:
        where.append(o.c.qc_required)
    values: dict[str, Any] = {name: bindparam(f"n_{name}", type_=o.c[name].type) for name in move.notes}
    values |= {
        "status": literal(move.to),
        "updated_at": bindparam("at", type_=o.c.updated_at.type),
        "qc_status": sa.case((sa.and_(ours, applies), literal(move.qc_to)), else_=o.c.qc_status),
    }
    moved = sa.update(o).where(*where).values(values).returning(o.c.order_id).cte("moved")
    said = (bindparam("at", type_=_TIMELINE.c.at.type), literal(move.from_status), literal(move.to))
    entry = sa.select(moved.c.order_id, *said, bindparam("actor", type_=String), bindparam("reason", type_=String))
    written = sa.insert(_TIMELINE).from_select(list(_ENTRY_COLUMNS), entry).cte("entry")
    return sql.Statement(sa.select(func.count()).select_from(moved).add_cte(written))
