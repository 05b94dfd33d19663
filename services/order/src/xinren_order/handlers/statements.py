"""Cutting a statement: the ledger entries on a seller's or host's available account that no statement settled yet
(their sum is what the payout pays), turned into lines per order line and adjustments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import domain
from ..models import SalesOrder, metadata
from ..statement_rules import ADJUSTMENT_KINDS, LineWeights, Party, Posting, StatementLine, figures_of, order_lines

_txn = metadata.tables["ledger_transaction"]
_entry = metadata.tables["ledger_entry"]
_stamp = metadata.tables["statement_entry"]

# Kinds whose entry on the available account brings the order's release (and the refunds of its hold) along.
_RELEASING = ("HOLD_RELEASE", "RELEASE")


@dataclass(frozen=True)
class Cut:
    party: Party
    amount_fen: int
    entry_ids: list[int]
    lines: list[StatementLine]


async def unsettled(session: AsyncSession, party: Party) -> list[tuple[int, int, str, int, str | None, str]]:
    """(entry id, transaction id, kind, amount, order id, account) of the party's entries no statement settled yet: on
    its available account, and for a shop the fines its deposit paid."""
    wanted = _entry.c.account == party.available
    if party.kind == "SHOP":
        wanted = or_(wanted, and_(_entry.c.account == domain.deposit_account(party.party_id), _txn.c.kind == "FINE"))
    rows = await session.execute(
        select(_entry.c.id, _txn.c.id, _txn.c.kind, _entry.c.amount_fen, _txn.c.order_id, _entry.c.account)
        .join(_txn, _txn.c.id == _entry.c.transaction_id)
        .outerjoin(_stamp, _stamp.c.ledger_entry_id == _entry.c.id)
        .where(wanted, _stamp.c.ledger_entry_id.is_(None))
        .order_by(_entry.c.id)
    )
    return [(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in rows.all()]


async def cut(session: AsyncSession, party: Party, platform_rates: dict[str, int]) -> Cut:
    rows = await unsettled(session, party)
    amount = sum(fen for _, _, _, fen, _, account in rows if account == party.available)
    attributed: dict[str | None, set[int]] = defaultdict(set)
    adjustments: list[tuple[int, str, str | None]] = []
    releasing: set[str] = set()
    for _, txn_id, kind, _, order_id, _ in rows:
        if kind in ("REFUND", "COMPENSATION", "GUARANTEE_COMPENSATION", *_RELEASING) and order_id:
            attributed[order_id].add(txn_id)
            if kind in _RELEASING:
                releasing.add(order_id)
        elif (txn_id, kind, order_id) not in adjustments:
            adjustments.append((txn_id, kind, order_id))
    postings = await _postings(session, party, attributed, releasing, {txn_id for txn_id, _, _ in adjustments})
    orders = await _orders(session, list(attributed))
    lines: list[StatementLine] = []
    for order_id in sorted(attributed, key=str):
        if order_id is None:
            continue
        figures = figures_of(party, [p for p in postings if p.transaction_id in attributed[order_id]])
        order = orders.get(order_id)
        weights = _weights(order, party, platform_rates) if order is not None else []
        for line in order_lines(order_id, figures, weights):
            line.live_room_id = order.live_room_id if order is not None else None
            lines.append(line)
    for txn_id, kind, order_id in adjustments:
        figures = figures_of(party, [p for p in postings if p.transaction_id == txn_id])
        lines.append(StatementLine(ADJUSTMENT_KINDS.get(kind, "ADJUSTMENT"), order_id, None, figures))
    return Cut(party, amount, [entry_id for entry_id, *_ in rows], lines)


async def _postings(
    session: AsyncSession,
    party: Party,
    attributed: dict[str | None, set[int]],
    releasing: set[str],
    adjustments: set[int],
) -> list[Posting]:
    """Every entry of the attributed transactions, plus, for an order released in this statement, its release and the
    refunds of its hold (they touched its pending and commission accounts, never the available one)."""
    direct = {txn_id for ids in attributed.values() for txn_id in ids} | adjustments
    query = select(_txn.c.id, _txn.c.kind, _txn.c.order_id, _entry.c.account, _entry.c.amount_fen).join(
        _entry, _entry.c.transaction_id == _txn.c.id
    )
    conditions: list[ColumnElement[bool]] = [_txn.c.id.in_(direct)] if direct else []
    if releasing:
        conditions.append(and_(_txn.c.order_id.in_(releasing), _txn.c.kind.in_(["RELEASE", "REFUND"])))
    if not conditions:
        return []
    rows = (await session.execute(query.where(or_(*conditions)))).all()
    by_txn: dict[int, list[tuple[str, str | None, str, int]]] = defaultdict(list)
    for txn_id, kind, order_id, account, fen in rows:
        by_txn[txn_id].append((kind, order_id, account, int(fen)))
    postings: list[Posting] = []
    for txn_id, entries in by_txn.items():
        kind, order_id = entries[0][0], entries[0][1]
        accounts = {account for _, _, account, _ in entries}
        if txn_id not in direct:
            # A refund of the order's hold: it moved pending or commission money, never the available account nor
            # only the escrow (a refund before completion is not part of the release).
            held = any(a.startswith(("seller_pending:", "host_pending:", "platform:commission")) for a in accounts)
            if kind == "REFUND" and (party.available in accounts or not held):
                continue
            if order_id is not None:
                attributed[order_id].add(txn_id)
        postings.extend(Posting(txn_id, kind, account, fen) for kind, _, account, fen in entries)
    return postings


async def _orders(session: AsyncSession, order_ids: list[str | None]) -> dict[str, SalesOrder]:
    ids = [o for o in order_ids if o]
    if not ids:
        return {}
    rows = (await session.execute(select(SalesOrder).where(SalesOrder.order_id.in_(ids)))).scalars().all()  # type: ignore[attr-defined]
    return {o.order_id: o for o in rows}


def _weights(order: SalesOrder, party: Party, platform_rates: dict[str, int]) -> list[LineWeights]:
    default_host_bps = order.host_commission_bps if order.host_id else 0
    return [
        LineWeights(
            sku_id=i["sku_id"],
            subtotal_fen=int(i["unit_price_fen"]) * int(i["quantity"]),
            platform_bps=domain.commission_rate_bps(platform_rates, i["category"]),
            host_bps=int(i.get("host_commission_bps", default_host_bps)),
        )
        for i in order.items
    ]
