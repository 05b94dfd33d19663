"""Loading and locking the service's rows, and what the service knows of an order; used by handlers and queries.

Locking: whatever touches an order's cases or reservations first locks its `order_view` row (FOR UPDATE), then
the case or compensation. Timer handlers lock it with NOWAIT: they already hold their timer row, and waiting for
the order while a request holding the order waits to cancel that timer would deadlock; a NOWAIT failure is simply
retried.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Executable, Text, bindparam, case, func, literal, or_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from xinren_shared import sql
from xinren_shared.auth import Principal
from xinren_shared.contracts.vocabulary import TrustRight

from . import access, domain, listener
from .models import VIEW_RANK, AfterSaleCase, Compensation, OrderView


async def lock_order(s: AsyncSession, order_id: str, *, nowait: bool = False) -> OrderView | None:
    stmt = (
        select(OrderView)
        .where(OrderView.order_id == order_id)
        .with_for_update(nowait=nowait)
        .execution_options(populate_existing=True)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def lock_case(s: AsyncSession, case_id: str) -> AfterSaleCase | None:
    stmt = (
        select(AfterSaleCase)
        .where(AfterSaleCase.case_id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await s.execute(stmt)).scalar_one_or_none()


async def lock_case_with_order(
    s: AsyncSession, case_id: str, *, nowait: bool = False
) -> tuple[AfterSaleCase, OrderView] | tuple[None, None]:
    """Order first, then case: the one lock order every writer follows."""
    order_id = (await s.execute(select(AfterSaleCase.order_id).where(AfterSaleCase.case_id == case_id))).scalar()
    if order_id is None:
        return None, None
    view = await lock_order(s, order_id, nowait=nowait)
    case = await lock_case(s, case_id)
    if view is None or case is None:
        return None, None
    return case, view


async def case_for_command(s: AsyncSession, principal: Principal, case_id: str) -> tuple[AfterSaleCase, OrderView]:
    """Locks a case the caller may act on; another tenant's case does not exist for the caller."""
    case, view = await lock_case_with_order(s, case_id)
    if case is None or view is None or not access.CASES.allows(principal, case):
        raise access.case_not_found(case_id)
    return case, view


async def lock_compensation(
    s: AsyncSession, compensation_id: str, *, order_id: str | None = None
) -> Compensation | None:
    stmt = select(Compensation).where(Compensation.compensation_id == compensation_id)
    if order_id is not None:
        stmt = stmt.where(Compensation.order_id == order_id)
    stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def upsert_view(s: AsyncSession, order_id: str, values: Mapping[str, Any]) -> OrderView:
    """The order's view, locked, in one statement: created with `values` if the order is new here, an existing one
    keeping its own (ON CONFLICT … DO UPDATE locks it as FOR UPDATE would, on its latest version)."""
    stmt = _upsert(tuple(sorted(values)))
    row = (await s.execute(stmt, _bound(order_id, values, {}), execution_options={"populate_existing": True})).one()
    view: OrderView = row[0]
    return view


async def note_on_view(s: AsyncSession, order_id: str, values: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    """What a QC event tells the order's view (`news`), in one statement on the driver (`xinren_shared.sql`): the
    view is created with `values` and the news if the order is new here. What the session holds unwritten is written
    first, in order."""
    await s.flush()
    stmt = _noted(tuple(sorted(values.keys() - news.keys())), tuple(sorted(news)))
    await stmt.execute(await sql.driver(s), _bound(order_id, values, news))


def _bound(order_id: str, values: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    params = {f"v_{name}": value for name, value in {**values, **news}.items()}
    params["v_order_id"] = order_id
    return params


@functools.cache
def _upsert(values: tuple[str, ...]) -> Executable:
    """The view's upsert for one shape of its values (one per caller), built once: each call binds its own values
    (`v_<column>`), so that handling one is not building, and hashing anew, the statement."""
    return _upsert_core(values, ()).returning(OrderView)


@functools.cache
def _noted(values: tuple[str, ...], news: tuple[str, ...]) -> sql.Statement:
    return sql.Statement(_upsert_core(values, news))


def _upsert_core(values: tuple[str, ...], news: tuple[str, ...]) -> Insert:
    columns = _VIEW.c
    bound = {name: bindparam(f"v_{name}", type_=columns[name].type) for name in ("order_id", *values, *news)}
    stmt = insert(OrderView).values({"status": "CREATED", **bound})  # the entity: upsert_view returns objects
    update = {name: stmt.excluded[name] for name in news} or {"order_id": stmt.excluded.order_id}
    return stmt.on_conflict_do_update(index_elements=["order_id"], set_=update)


_VIEW = OrderView.__table__  # type: ignore[attr-defined]

# What order.created and order.paid tell the view (`learn`), by column; order.paid adds _PAYMENT.
_LEARNED = (
    "order_id",
    "buyer_id",
    "shop_id",
    "items",
    "trust_rights",
    "total_fen",
    "qc_required",
    "status",
    "updated_at",
)
_PAYMENT = ("paid_fen", "paid_at", "return_address")


async def learn(s: AsyncSession, values: Mapping[str, Any], *, paid: bool) -> bool:
    """The parties, items and rights of an order (`values`, by column: _LEARNED, and _PAYMENT when `paid`), from
    whichever of its first two events arrives first, in one statement on the driver. The other only fills gaps (the
    rights the order was placed under: order.created's copy wins). The payment moves the view on to PAID (never
    back) and is news for requests waiting on the order (announced once the transaction commits). True when a QC
    outcome was waiting for the payment (`OrderView.pending_qc_outcome`)."""
    await s.flush()
    pending: bool = await _LEARN[paid].fetchval(await sql.driver(s), values)
    listener.announce(s, values["order_id"])
    return pending


def _learn(paid: bool) -> sql.Statement:
    v, columns = _VIEW, _VIEW.c
    names = _LEARNED + (_PAYMENT if paid else ())
    stmt = insert(_VIEW).values({name: bindparam(name, type_=columns[name].type) for name in names})
    new = stmt.excluded

    def gap(name: str) -> ColumnElement[Any]:  # the view's own, unless it has none
        return func.coalesce(func.nullif(v.c[name], ""), new[name])

    def empty(name: str) -> ColumnElement[Any]:
        return case((func.jsonb_array_length(v.c[name]) == 0, new[name]), else_=v.c[name])

    update: dict[str, Any] = {
        "buyer_id": gap("buyer_id"),
        "shop_id": gap("shop_id"),
        "items": empty("items"),
        "trust_rights": empty("trust_rights"),
        "qc_required": or_(v.c.qc_required, new.qc_required),
        "updated_at": new.updated_at,
    }
    if paid:
        # Positions count from 1: a status ranked below PAID, or one the view does not know (0), is at most PAID's rank.
        position = func.coalesce(func.array_position(literal(list(VIEW_RANK), ARRAY(Text)), v.c.status), 0)
        update |= {
            "paid_fen": new.paid_fen,
            "paid_at": func.coalesce(v.c.paid_at, new.paid_at),
            "return_address": func.coalesce(new.return_address, v.c.return_address),
            "status": case((position <= VIEW_RANK["PAID"], new.status), else_=v.c.status),
        }
    else:
        update["total_fen"] = func.coalesce(func.nullif(v.c.total_fen, 0), new.total_fen)
    upsert = stmt.on_conflict_do_update(index_elements=["order_id"], set_=update)
    return sql.Statement(upsert.returning(v.c.pending_qc_outcome.is_not(None)))


_LEARN = {paid: _learn(paid) for paid in (False, True)}


def rights(view: OrderView) -> frozenset[TrustRight]:
    return frozenset(TrustRight(r) for r in view.trust_rights if r in TrustRight.__members__)


def _lines(view: OrderView, cases: list[Any]) -> tuple[domain.Line, ...]:
    """The order's lines with what this service's cases refunded and hold on each, and how many buyer cases named
    each (a line bought twice in one order is one line)."""
    refunded: dict[str, int] = {}
    reserved: dict[str, int] = {}
    counts: dict[str, int] = {}
    for c in cases:
        for item in c.items or []:
            sku = item["sku_id"]
            if c.status in (domain.S.REFUNDED, domain.S.COMPLETED):  # COMPLETED: an exchange's price difference
                refunded[sku] = refunded.get(sku, 0) + int(item.get("amount_fen", 0))
            elif c.status in _RESERVING:
                reserved[sku] = reserved.get(sku, 0) + int(item.get("amount_fen", 0))
            if c.origin == "BUYER":
                counts[sku] = counts.get(sku, 0) + 1
    merged: dict[str, dict[str, Any]] = {}
    for item in view.items or []:
        line = merged.setdefault(item["sku_id"], {**item, "quantity": 0})
        line["quantity"] += int(item["quantity"])
    return tuple(
        domain.Line(
            sku_id=sku,
            title=str(i.get("title", "")),
            unit_price_fen=int(i["unit_price_fen"]),
            quantity=int(i["quantity"]),
            refunded_fen=refunded.get(sku, 0),
            reserved_fen=reserved.get(sku, 0),
            cases=counts.get(sku, 0),
        )
        for sku, i in merged.items()
    )


_RESERVING = frozenset(str(x) for x in domain.RESERVING)


async def facts(s: AsyncSession, view: OrderView, *, exclude_case_id: str | None = None) -> domain.OrderFacts:
    """What the rules need to know of an order, with its cases in one read."""
    columns = ("case_id", "status", "amount_fen", "items", "origin")
    table = AfterSaleCase.__table__  # type: ignore[attr-defined]
    stmt = sa_select(*(table.c[c] for c in columns)).where(table.c.order_id == view.order_id)
    if exclude_case_id is not None:
        stmt = stmt.where(table.c.case_id != exclude_case_id)
    cases = list((await s.execute(stmt)).all())
    return domain.OrderFacts(
        paid_fen=view.paid_fen,
        refunded_fen=view.refunded_total_fen,
        reserved_fen=sum(c.amount_fen for c in cases if c.status in _RESERVING),
        trust_rights=rights(view),
        shipped=view.shipped_at is not None or view.delivered_at is not None,
        delivered_at=view.delivered_at,
        certificate_no=view.certificate_no,
        lines=_lines(view, cases),
    )
