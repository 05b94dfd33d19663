"""Reads of settlement: a shop's balances and statements, a host's earnings, the platform's money (never imports
from handlers/)."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.errors import NotFound
from xinren_shared.pagination import keyset_page
from xinren_shared.runtime import ServiceRuntime

from . import domain, ledger
from . import settlement_schemas as s
from .models import Host, Payout, Shop, Statement
from .settings import OrderSettings
from .statement_rules import COLUMNS

Runtime = ServiceRuntime[OrderSettings]


class StatementNotFound(NotFound):
    code = "STATEMENT_NOT_FOUND"


async def _payouts_by_status(session: AsyncSession, kind: str | None, party_id: str | None) -> dict[str, int]:
    query = select(col(Payout.status), func.sum(col(Payout.amount_fen))).group_by(col(Payout.status))
    if kind is not None:
        query = query.where(col(Payout.party_kind) == kind, col(Payout.party_id) == party_id)
    return {status: int(fen) for status, fen in (await session.execute(query)).all()}


async def shop_balances(runtime: Runtime, shop_id: str) -> s.ShopBalances:
    async with runtime.snapshot() as session:
        shop = await session.get(Shop, shop_id)
        if shop is None:
            raise NotFound(f"shop {shop_id} not found", code="UNKNOWN_SHOP")
        pending, available = await ledger.balances(
            session, domain.seller_pending_account(shop_id), domain.seller_account(shop_id)
        )
        paid = await _payouts_by_status(session, "SHOP", shop_id)
    return s.ShopBalances(
        shop_id=shop_id, pending_fen=pending, available_fen=available, in_payout_fen=paid.get("SENDING", 0),
        paid_out_fen=paid.get("PAID", 0), guarantee_debt_fen=shop.guarantee_debt_fen,
    )  # fmt: skip


_HOST_ORDERS = text("""
SELECT t.order_id, o.live_room_id,
       COALESCE(SUM(e.amount_fen) FILTER (WHERE e.account = :pending), 0)::bigint AS pending_fen,
       COALESCE(SUM(e.amount_fen) FILTER (WHERE e.account = :available AND (p.status IS NULL OR p.status = 'FAILED')),
                0)::bigint AS available_fen,
       COALESCE(SUM(e.amount_fen) FILTER (WHERE e.account = :available AND p.status = 'SENDING'), 0)::bigint
         AS in_payout_fen,
       COALESCE(SUM(e.amount_fen) FILTER (WHERE e.account = :available AND p.status = 'PAID'), 0)::bigint
         AS paid_out_fen
FROM ledger_entry e JOIN ledger_transaction t ON t.id = e.transaction_id
LEFT JOIN sales_order o ON o.order_id = t.order_id
LEFT JOIN statement_entry se ON se.ledger_entry_id = e.id
LEFT JOIN settlement_statement st ON st.statement_id = se.statement_id
LEFT JOIN payout p ON p.payout_id = st.payout_id
WHERE e.account IN (:pending, :available) AND t.order_id IS NOT NULL
GROUP BY t.order_id, o.live_room_id
ORDER BY t.order_id
LIMIT :limit""")

_FIELDS = ("pending_fen", "available_fen", "in_payout_fen", "paid_out_fen")


async def host_earnings(runtime: Runtime, host_id: str, limit: int) -> s.HostEarnings:
    """What the host earned per order and per live room (orders first by id, up to `limit`) and in all."""
    pending_account, available_account = domain.host_pending_account(host_id), domain.host_account(host_id)
    async with runtime.snapshot() as session:
        if await session.get(Host, host_id) is None:
            raise NotFound(f"host {host_id} not found", code="HOST_NOT_FOUND")
        rows = (
            await session.execute(
                _HOST_ORDERS, {"pending": pending_account, "available": available_account, "limit": limit}
            )
        ).mappings()
        orders = [s.OrderEarnings(**dict(r)) for r in rows]
        pending, available = await ledger.balances(session, pending_account, available_account)
        paid = await _payouts_by_status(session, "HOST", host_id)
    rooms: dict[str | None, dict[str, int]] = {}
    for o in orders:
        room = rooms.setdefault(o.live_room_id, dict.fromkeys(_FIELDS, 0))
        for f in _FIELDS:
            room[f] += getattr(o, f)
    totals = s.Earnings(
        pending_fen=pending, available_fen=available, in_payout_fen=paid.get("SENDING", 0),
        paid_out_fen=paid.get("PAID", 0),
    )  # fmt: skip
    return s.HostEarnings(
        host_id=host_id,
        totals=totals,
        live_rooms=[s.RoomEarnings(live_room_id=k, **v) for k, v in sorted(rooms.items(), key=lambda kv: str(kv[0]))],
        orders=orders,
    )


async def _summary(session: AsyncSession, st: Statement) -> s.StatementSummary:
    payout = await session.get(Payout, st.payout_id)
    return s.StatementSummary(
        statement_id=st.statement_id, party_kind=st.party_kind, party_id=st.party_id, period=st.period,
        payout_id=st.payout_id, payout_fen=st.payout_fen, payout_status=payout.status if payout else "UNKNOWN",
        created_at=st.created_at,
    )  # fmt: skip


async def list_statements(
    runtime: Runtime, party_kind: str, party_id: str, *, limit: int, cursor: str | None
) -> tuple[list[s.StatementSummary], str | None]:
    query = select(Statement).where(col(Statement.party_kind) == party_kind, col(Statement.party_id) == party_id)
    columns = [col(Statement.created_at), col(Statement.statement_id)]
    async with runtime.snapshot() as session:
        rows, nxt = await keyset_page(session, query, columns, cursor, limit, descending=True)
        return [await _summary(session, r) for r in rows], nxt


async def get_statement(runtime: Runtime, party_kind: str, party_id: str, statement_id: str) -> s.StatementPublic:
    async with runtime.snapshot() as session:
        st = await session.get(Statement, statement_id)
        if st is None or st.party_kind != party_kind or st.party_id != party_id:
            raise StatementNotFound(f"statement {statement_id} not found")
        summary = await _summary(session, st)
    lines = [s.StatementLine(**line) for line in st.lines]
    totals = {c: sum(getattr(line, c) for line in lines) for c in (*COLUMNS, "payout_fen")}
    return s.StatementPublic(**summary.model_dump(), lines=lines, totals=totals)


def statement_csv(statement: s.StatementPublic) -> str:
    """The statement as CSV: a header, one row per line, a TOTAL row (the same figures as the JSON)."""
    out = io.StringIO()
    names = ["statement_id", "period", "kind", "order_id", "sku_id", "live_room_id", *COLUMNS, "payout_fen"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for line in statement.lines:
        row: dict[str, Any] = {"statement_id": statement.statement_id, "period": statement.period, **line.model_dump()}
        writer.writerow(["" if row[n] is None else row[n] for n in names])
    total: dict[str, Any] = {"statement_id": statement.statement_id, "period": statement.period, "kind": "TOTAL"}
    writer.writerow([total.get(n, statement.totals.get(n, "")) for n in names])
    return out.getvalue()


async def platform_finance(runtime: Runtime) -> s.PlatformFinance:
    async with runtime.snapshot() as session:
        commission, fines, subsidy, guarantee, settled = await ledger.balances(
            session,
            domain.PLATFORM_COMMISSION,
            domain.PLATFORM_FINES,
            domain.PLATFORM_SUBSIDY,
            domain.PLATFORM_GUARANTEE,
            domain.EXTERNAL_SETTLEMENTS,
        )
        by_kind: dict[str, int] = dict(
            (
                await session.execute(
                    text("""SELECT split_part(account, ':', 1) AS kind, SUM(amount_fen)::bigint FROM ledger_entry
                            WHERE split_part(account, ':', 1) IN ('seller', 'host', 'seller_pending', 'host_pending',
                                                                  'payout')
                            GROUP BY 1""")
                )
            ).all()
        )
        owed = (await session.execute(select(func.coalesce(func.sum(col(Shop.guarantee_debt_fen)), 0)))).scalar_one()
    fund = s.GuaranteeFund(balance_fen=guarantee, owed_by_shops_fen=int(owed), position_fen=guarantee + int(owed))
    return s.PlatformFinance(
        commission_income_fen=commission, fines_income_fen=fines, subsidy_spent_fen=-subsidy, guarantee_fund=fund,
        pending_fen=int(by_kind.get("seller_pending", 0)) + int(by_kind.get("host_pending", 0)),
        available_fen=int(by_kind.get("seller", 0)) + int(by_kind.get("host", 0)),
        in_payout_fen=int(by_kind.get("payout", 0)), paid_out_fen=settled,
    )  # fmt: skip
