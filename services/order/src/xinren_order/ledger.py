"""The escrow ledger: double-entry transactions written once under a unique key, balances, and the invariant check.

Sign convention: an entry's `amount_fen` is what flows INTO its account (positive) or OUT of it (negative); the
entries of one transaction sum to zero, and an account's balance is the sum of its entries. So:
- `external:payments` goes negative by what buyers (and shops, for deposits) paid in from the outside world;
  `external:payouts` goes positive by what was paid out to buyers (refunds, compensation).
- `escrow:{order}` holds a paid order's money until completion; `seller:{shop}` is the shop's available balance,
  `deposit:{shop}` its 保证金, `host:{host}` a host's commission, `platform:commission` the platform's fee.
- `platform:subsidy` and `platform:guarantee` start at zero and go negative by what the platform paid from them
  (subsidised compensation; refunds/compensation the shop's own money did not cover). What a shop owes the
  guarantee is kept on the shop row (`guarantee_debt_fen`, shown as the `receivable:{shop}` balance), not as a
  ledger account: it is a claim, not a movement. It is repaid from the shop's later releases (seller balance ->
  platform:guarantee), and `/v1/ledger/check` verifies it equals minus the guarantee entries booked for the shop.
  A GUARANTEE_COMPENSATION (a certified item found counterfeit: the QC warehouse's error) is the platform's own
  liability: it debits only platform:guarantee and is owed by nobody.
- A refund after the release takes back from `platform:commission` and `host:{host}` their share of the refunded
  money (commission.clawback), in the REFUND transaction itself. Per order, what a refund takes from an account is
  bounded by what the order's release credited it, and nothing else debits a `host:` account, so a host's balance
  never goes negative (NEGATIVE_BALANCE covers `host:`; a payout of host balances, when there is one, must keep it
  so by holding back what could still be clawed back, or book the shortfall as the host's debt).

Transaction kinds: DEPOSIT, PAYMENT, RELEASE, REFUND, COMPENSATION, GUARANTEE_COMPENSATION, DEBT_REPAYMENT.
Balances are derived from the entries; a movement that must not overdraw an account runs while its owner's row
is locked (the order for escrow, the shop for seller and deposit balances).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy import CTE, BigInteger, Select, Text, bindparam, func, select, text, true
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared import sql

from . import domain
from .commission import ReleasedShares
from .models import metadata
from .settlement_checks import SETTLEMENT_CHECKS

_txn = metadata.tables["ledger_transaction"]
_entry = metadata.tables["ledger_entry"]
_host = metadata.tables["host"]


class UnbalancedTransaction(ValueError):
    pass


class Posting(TypedDict):
    """One balanced transaction as its callers give it: a key unique to it, its kind, its (account, amount) entries,
    and what it concerns."""

    key: str
    kind: str
    entries: Sequence[tuple[str, int]]
    order_id: NotRequired[str | None]
    shop_id: NotRequired[str | None]
    memo: NotRequired[str | None]


async def post(session: AsyncSession, **posting: Unpack[Posting]) -> int | None:
    """Writes one balanced transaction; returns its id, or None when `key` was already posted (nothing written)."""
    txn_id: int | None = await _POST.fetchval(await sql.driver(session), posting_params(**posting))
    return txn_id


def posting_params(prefix: str = "", **posting: Unpack[Posting]) -> dict[str, Any]:
    """The bind parameters of `posting(prefix)` for one balanced transaction (refused when it does not balance or
    names something that is not an account)."""
    key = posting["key"]
    lines = [(account, amount) for account, amount in posting["entries"] if amount != 0]
    if not lines or sum(amount for _, amount in lines) != 0:
        raise UnbalancedTransaction(f"transaction {key} does not balance: {lines}")
    for account, _ in lines:
        if not domain.is_account(account):
            raise ValueError(f"not a ledger account: {account!r}")
    params = {
        "key": key,
        "kind": posting["kind"],
        "order_id": posting.get("order_id"),
        "shop_id": posting.get("shop_id"),
        "memo": posting.get("memo"),
        "accounts": [account for account, _ in lines],
        "amounts": [amount for _, amount in lines],
    }
    return {f"{prefix}{name}": value for name, value in params.items()}


def posting(prefix: str = "") -> tuple[CTE, CTE]:
    """A transaction and its entries as data-modifying CTEs (its bind parameters `posting_params(prefix)`): the
    entries only when the transaction is new (its key unused), written in the order given (their ids follow it).
    For a statement that writes them with other rows in one round trip; `post` sends them alone."""
    txn = (
        insert(_txn)
        .values(
            idempotency_key=bindparam(f"{prefix}key"),
            kind=bindparam(f"{prefix}kind"),
            order_id=bindparam(f"{prefix}order_id"),
            shop_id=bindparam(f"{prefix}shop_id"),
            memo=bindparam(f"{prefix}memo"),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(_txn.c.id)
        .cte(f"{prefix}txn")
    )
    line = (
        func.unnest(
            bindparam(f"{prefix}accounts", type_=ARRAY(Text)), bindparam(f"{prefix}amounts", type_=ARRAY(BigInteger))
        )
        .table_valued("account", "amount_fen", with_ordinality="n")
        .render_derived(name=f"{prefix}line")
    )
    lines = select(txn.c.id, line.c.account, line.c.amount_fen).select_from(txn).join(line, true())
    entries = insert(_entry).from_select(["transaction_id", "account", "amount_fen"], lines.order_by(line.c.n))
    return txn, entries.cte(f"{prefix}entries")


def _post() -> Select[Any]:
    txn, entries = posting()
    return select(txn.c.id).add_cte(entries)


_POST = sql.Statement(_post())


async def balances(session: AsyncSession, *accounts: str) -> list[int]:
    """The balances of `accounts`, in their order, read in one query (an account without entries is 0)."""
    sums = await session.execute(
        select(_entry.c.account, func.sum(_entry.c.amount_fen))
        .where(_entry.c.account.in_(accounts))
        .group_by(_entry.c.account)
    )
    by_account = {account: int(fen) for account, fen in sums.all()}
    return [by_account.get(account, 0) for account in accounts]


async def balance(session: AsyncSession, account: str) -> int:
    (fen,) = await balances(session, account)
    return fen


async def locked_balance(session: AsyncSession, account: str, *, host_id: str) -> int:
    """A host account's balance, read with the host's row locked: a payout and a clawback never both spend it."""
    await session.execute(select(_host.c.host_id).where(_host.c.host_id == host_id).with_for_update())
    return await balance(session, account)


async def entries_of(session: AsyncSession, transaction_ids: Sequence[int]) -> dict[int, list[tuple[str, int]]]:
    """The (account, amount) entries of each transaction, in the order they were written."""
    if not transaction_ids:
        return {}
    rows = (
        await session.execute(select(_entry).where(_entry.c.transaction_id.in_(transaction_ids)).order_by(_entry.c.id))
    ).all()
    by_txn: dict[int, list[tuple[str, int]]] = {}
    for r in rows:
        by_txn.setdefault(r.transaction_id, []).append((r.account, r.amount_fen))
    return by_txn


@dataclass(frozen=True)
class OrderMoney:
    """An order's settlement as its ledger tells it: what the release paid and the refunds took back (`shares`), the
    seller's and the host's shares still pending, and whether the release went to pending accounts (`held`) and the
    hold has ended (`hold_released`)."""

    shares: ReleasedShares
    seller_pending_fen: int = 0
    host_pending_fen: int = 0
    held: bool = False
    hold_released: bool = False

    @property
    def in_hold(self) -> bool:
        return self.held and not self.hold_released


async def order_money(session: AsyncSession, order_id: str, shop_id: str, host_id: str | None) -> OrderMoney:
    """The order's settlement figures (one query over its own transactions)."""
    escrow = domain.escrow_account(order_id)
    seller_pending = domain.seller_pending_account(shop_id)
    accounts = [escrow, domain.EXTERNAL_PAYOUTS, domain.PLATFORM_COMMISSION, seller_pending]
    hosts: list[str] = []
    if host_id:
        hosts = [domain.host_account(host_id), domain.host_pending_account(host_id)]
        accounts.extend(hosts)
    rows = await session.execute(
        select(_txn.c.kind, _entry.c.account, func.sum(_entry.c.amount_fen))
        .join(_txn, _txn.c.id == _entry.c.transaction_id)
        .where(_txn.c.order_id == order_id, _entry.c.account.in_(accounts))
        .group_by(_txn.c.kind, _entry.c.account)
    )
    sums = {(kind, account): int(fen) for kind, account, fen in rows.all()}

    def total(kinds: tuple[str, ...], *of: str) -> int:
        return sum(fen for (kind, account), fen in sums.items() if kind in kinds and account in of)

    shares = ReleasedShares(
        released_fen=-sums.get(("RELEASE", escrow), 0),
        platform_fen=sums.get(("RELEASE", domain.PLATFORM_COMMISSION), 0),
        host_fen=total(("RELEASE",), *hosts),
        platform_clawed_fen=-sums.get(("REFUND", domain.PLATFORM_COMMISSION), 0),
        host_clawed_fen=-total(("REFUND",), *hosts),
        # Refunded in all, less what came out of escrow (before the release).
        refunded_after_release_fen=sums.get(("REFUND", domain.EXTERNAL_PAYOUTS), 0) + sums.get(("REFUND", escrow), 0),
    )
    kinds = {kind for kind, _ in sums}
    pending_accounts = [seller_pending, *hosts[1:]]
    return OrderMoney(
        shares=shares,
        seller_pending_fen=sum(fen for (_, account), fen in sums.items() if account == seller_pending),
        host_pending_fen=sum(fen for (_, account), fen in sums.items() if hosts and account == hosts[1]),
        held=any(("RELEASE", account) in sums for account in pending_accounts),
        hold_released="HOLD_RELEASE" in kinds,
    )


_CLOSED_SQL = "(o.status IN ('COMPLETED', 'REFUNDED') OR (o.status = 'CANCELLED' AND o.refunded_fen >= o.paid_fen))"

# What each order was paid into escrow and refunded to the outside world, as the ledger books them.
_PAID_AND_REFUNDED = """WITH paid AS (
    SELECT t.order_id, SUM(e.amount_fen) AS fen FROM ledger_transaction t
    JOIN ledger_entry e ON e.transaction_id = t.id
    WHERE t.kind = 'PAYMENT' AND e.account = 'escrow:' || t.order_id GROUP BY t.order_id),
refunded AS (
    SELECT t.order_id, SUM(e.amount_fen) AS fen FROM ledger_transaction t
    JOIN ledger_entry e ON e.transaction_id = t.id
    WHERE t.kind = 'REFUND' AND e.account = 'external:payouts' GROUP BY t.order_id)"""

_CHECKS: list[tuple[str, str]] = [
    (
        "TRANSACTION_UNBALANCED",
        """SELECT t.id AS transaction_id, t.idempotency_key AS key, COALESCE(SUM(e.amount_fen), 0)::bigint AS sum_fen,
                  COUNT(e.id) AS entries
           FROM ledger_transaction t LEFT JOIN ledger_entry e ON e.transaction_id = t.id
           GROUP BY t.id HAVING COALESCE(SUM(e.amount_fen), 0) <> 0 OR COUNT(e.id) < 2""",
    ),
    (
        "NEGATIVE_BALANCE",
        """SELECT account, SUM(amount_fen)::bigint AS balance_fen FROM ledger_entry
           WHERE split_part(account, ':', 1)
                 IN ('escrow', 'seller', 'deposit', 'host', 'seller_pending', 'host_pending', 'payout')
           GROUP BY account HAVING SUM(amount_fen) < 0""",
    ),
    (
        "CLOSED_ORDER_ESCROW_NOT_ZERO",
        f"""SELECT o.order_id, o.status, SUM(e.amount_fen)::bigint AS escrow_fen
            FROM sales_order o JOIN ledger_entry e ON e.account = 'escrow:' || o.order_id
            WHERE {_CLOSED_SQL} GROUP BY o.order_id, o.status HAVING SUM(e.amount_fen) <> 0""",
    ),
    (
        "REFUNDS_EXCEED_PAYMENT",
        f"""{_PAID_AND_REFUNDED}
           SELECT r.order_id, COALESCE(p.fen, 0)::bigint AS paid_fen, r.fen::bigint AS refunded_fen
           FROM refunded r LEFT JOIN paid p ON p.order_id = r.order_id
           WHERE r.fen > COALESCE(p.fen, 0)""",
    ),
    (
        "ORDER_DISAGREES_WITH_LEDGER",
        f"""{_PAID_AND_REFUNDED}
           SELECT o.order_id, o.paid_fen, COALESCE(p.fen, 0)::bigint AS ledger_paid_fen,
                  o.refunded_fen, COALESCE(r.fen, 0)::bigint AS ledger_refunded_fen
           FROM sales_order o
           LEFT JOIN paid p ON p.order_id = o.order_id LEFT JOIN refunded r ON r.order_id = o.order_id
           WHERE o.paid_fen <> COALESCE(p.fen, 0) OR o.refunded_fen <> COALESCE(r.fen, 0)""",
    ),
    (
        "GUARANTEE_DEBT_MISMATCH",
        """WITH booked AS (
               SELECT t.shop_id, -SUM(e.amount_fen) AS fen FROM ledger_transaction t
               JOIN ledger_entry e ON e.transaction_id = t.id
               WHERE e.account = 'platform:guarantee' AND t.kind <> 'GUARANTEE_COMPENSATION' GROUP BY t.shop_id)
           SELECT s.shop_id, s.guarantee_debt_fen, COALESCE(b.fen, 0)::bigint AS ledger_debt_fen
           FROM shop s LEFT JOIN booked b ON b.shop_id = s.shop_id
           WHERE s.guarantee_debt_fen <> COALESCE(b.fen, 0)""",
    ),
    (
        # A refund after the release takes back at most the commission the order's release paid.
        "CLAWBACK_EXCEEDS_COMMISSION",
        # A host's pending and available shares count as one (the hold only moves the share between them).
        """SELECT t.order_id, replace(e.account, 'host_pending:', 'host:') AS account,
                  SUM(e.amount_fen)::bigint AS net_fen
           FROM ledger_transaction t JOIN ledger_entry e ON e.transaction_id = t.id
           WHERE t.order_id IS NOT NULL AND t.kind IN ('RELEASE', 'REFUND')
             AND (e.account = 'platform:commission' OR e.account LIKE 'host:%' OR e.account LIKE 'host\\_pending:%')
           GROUP BY t.order_id, replace(e.account, 'host_pending:', 'host:') HAVING SUM(e.amount_fen) < 0""",
    ),
    (
        # The platform's own liability is never charged to a shop's money.
        "GUARANTEE_COMPENSATION_CHARGED_TO_SHOP",
        """SELECT t.id AS transaction_id, t.idempotency_key AS key, e.account, e.amount_fen
           FROM ledger_transaction t JOIN ledger_entry e ON e.transaction_id = t.id
           WHERE t.kind = 'GUARANTEE_COMPENSATION' AND e.amount_fen < 0 AND e.account <> 'platform:guarantee'""",
    ),
]


async def check(session: AsyncSession) -> dict[str, Any]:
    """Verifies every money invariant over the whole ledger; `ok` is true when no rule finds a violation."""
    violations: list[dict[str, Any]] = []
    for rule, query in [*_CHECKS, *SETTLEMENT_CHECKS]:
        for row in (await session.execute(text(query))).mappings():
            violations.append({"rule": rule, **{k: v for k, v in row.items()}})
    count = (await session.execute(select(func.count()).select_from(_txn))).scalar() or 0
    return {"ok": not violations, "transactions": int(count), "violations": violations}
