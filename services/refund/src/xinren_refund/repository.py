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

from sqlalchemy import Executable, bindparam
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from xinren_shared.auth import Principal
from xinren_shared.contracts.vocabulary import TrustRight

from . import access, domain, listener
from .models import AfterSaleCase, Compensation, OrderView


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


async def upsert_view(
    s: AsyncSession,
    order_id: str,
    values: Mapping[str, Any],
    *,
    news: Mapping[str, Any] | None = None,
    announce: bool = False,
) -> OrderView:
    """The order's view, locked, in one statement: created on the first event that can (order.created / order.paid,
    a QC event) with `values`, an existing one keeping its own (ON CONFLICT … DO UPDATE locks it as FOR UPDATE
    would, on its latest version). `news`: what the event tells either way, written by the same statement.
    `announce`: the order's parties or payment are news for requests waiting on it (listener.py): they are told once
    the transaction commits."""
    news = news or {}
    params = {f"v_{name}": value for name, value in {**values, **news}.items()}
    params["v_order_id"] = order_id
    stmt = _upsert(tuple(sorted(values.keys() - news.keys())), tuple(sorted(news)))
    row = (await s.execute(stmt, params, execution_options={"populate_existing": True})).one()
    if announce:
        listener.announce(s, order_id)
    view: OrderView = row[0]
    return view


@functools.cache
def _upsert(values: tuple[str, ...], news: tuple[str, ...]) -> Executable:
    """`upsert_view`'s statement for one shape of its values and news (one per caller), built once: each event
    binds its own values (`v_<column>`), so that handling one is not building, and hashing anew, the statement."""
    columns = OrderView.__table__.c  # type: ignore[attr-defined]
    bound = {name: bindparam(f"v_{name}", type_=columns[name].type) for name in ("order_id", *values, *news)}
    stmt = insert(OrderView).values({"status": "CREATED", **bound})
    update = {name: stmt.excluded[name] for name in news} or {"order_id": stmt.excluded.order_id}
    return stmt.on_conflict_do_update(index_elements=["order_id"], set_=update).returning(OrderView)


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
