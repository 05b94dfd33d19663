"""The ledger invariants of settlement (held shares, payouts in flight, statements), run by the ledger check, and the
reconciliation of statements with the ledger behind xinren_settlement_reconciliation_difference_fen."""

from __future__ import annotations

from typing import Any

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

RECONCILIATION_DIFFERENCE = Gauge(
    "xinren_settlement_reconciliation_difference_fen",
    "Fen by which settlement statements disagree with the ledger at the last reconciliation (0 when they agree)",
    multiprocess_mode="livemostrecent",
)
RECONCILED_STATEMENTS = Gauge(
    "xinren_settlement_reconciled_statements",
    "Statements compared with the ledger at the last reconciliation",
    multiprocess_mode="livemostrecent",
)

_PENDING = "split_part(e.account, ':', 1) IN ('seller_pending', 'host_pending')"

# Per statement: the sum of its lines, the net of the ledger entries it settled on the party's available account
# (the payout's own debit among them, so 0 when the lines are exactly what was paid), and its payout's amount.
_STATEMENTS = """WITH stamped AS (
    SELECT se.statement_id, SUM(e.amount_fen) AS net FROM statement_entry se
    JOIN ledger_entry e ON e.id = se.ledger_entry_id
    WHERE split_part(e.account, ':', 1) IN ('seller', 'host') GROUP BY se.statement_id),
lines AS (
    SELECT s.statement_id, COALESCE(SUM((l ->> 'payout_fen')::bigint), 0) AS fen
    FROM settlement_statement s LEFT JOIN LATERAL jsonb_array_elements(s.lines) l ON true GROUP BY s.statement_id)
SELECT s.statement_id, s.payout_fen, l.fen::bigint AS lines_fen, COALESCE(st.net, 0)::bigint AS ledger_net_fen,
       COALESCE(p.amount_fen, 0)::bigint AS payout_amount_fen,
       (ABS(l.fen - s.payout_fen) + ABS(COALESCE(st.net, 0)) + ABS(COALESCE(p.amount_fen, 0) - s.payout_fen))::bigint
         AS difference_fen
FROM settlement_statement s JOIN lines l ON l.statement_id = s.statement_id
LEFT JOIN stamped st ON st.statement_id = s.statement_id LEFT JOIN payout p ON p.payout_id = s.payout_id"""

SETTLEMENT_CHECKS: list[tuple[str, str]] = [
    (
        # An order's held share never goes below zero, and is always an order's.
        "PENDING_SHARE_NEGATIVE",
        f"""SELECT t.order_id, e.account, SUM(e.amount_fen)::bigint AS pending_fen
            FROM ledger_transaction t JOIN ledger_entry e ON e.transaction_id = t.id
            WHERE {_PENDING} GROUP BY t.order_id, e.account HAVING SUM(e.amount_fen) < 0 OR t.order_id IS NULL""",
    ),
    (
        # Once its hold ended, nothing of an order stays pending.
        "RELEASED_HOLD_NOT_EMPTY",
        f"""SELECT t.order_id, e.account, SUM(e.amount_fen)::bigint AS pending_fen
            FROM ledger_transaction t JOIN ledger_entry e ON e.transaction_id = t.id
            WHERE {_PENDING} AND t.order_id IN (SELECT order_id FROM ledger_transaction WHERE kind = 'HOLD_RELEASE')
            GROUP BY t.order_id, e.account HAVING SUM(e.amount_fen) <> 0""",
    ),
    (
        # A payout's money is in flight while it is sent, then paid out or returned, exactly its amount.
        "PAYOUT_DISAGREES_WITH_LEDGER",
        """WITH flight AS (
               SELECT e.account, SUM(e.amount_fen) FILTER (WHERE e.amount_fen > 0) AS funded,
                      SUM(e.amount_fen) AS held,
                      -SUM(e.amount_fen) FILTER (WHERE t.kind = 'PAYOUT_PAID') AS paid,
                      -SUM(e.amount_fen) FILTER (WHERE t.kind = 'PAYOUT_RETURN') AS returned
               FROM ledger_entry e JOIN ledger_transaction t ON t.id = e.transaction_id
               WHERE e.account LIKE 'payout:%' GROUP BY e.account)
           SELECT p.payout_id, p.status, p.amount_fen, COALESCE(f.funded, 0)::bigint AS funded_fen,
                  COALESCE(f.held, 0)::bigint AS in_flight_fen, COALESCE(f.paid, 0)::bigint AS paid_fen,
                  COALESCE(f.returned, 0)::bigint AS returned_fen
           FROM payout p LEFT JOIN flight f ON f.account = 'payout:' || p.payout_id
           WHERE COALESCE(f.funded, 0) <> p.amount_fen
              OR COALESCE(f.held, 0) <> CASE WHEN p.status = 'SENDING' THEN p.amount_fen ELSE 0 END
              OR COALESCE(f.paid, 0) <> CASE WHEN p.status = 'PAID' THEN p.amount_fen ELSE 0 END
              OR COALESCE(f.returned, 0) <> CASE WHEN p.status = 'FAILED' THEN p.amount_fen ELSE 0 END""",
    ),
    (
        # A statement's lines sum to its payout, which is what left the available account for it.
        "STATEMENT_DISAGREES_WITH_LEDGER",
        f"SELECT * FROM ({_STATEMENTS}) s WHERE difference_fen <> 0",
    ),
]


async def reconcile(session: AsyncSession) -> dict[str, Any]:
    """Compares every statement with the ledger; sets the difference gauge (the alert fires on any difference)."""
    rows = [dict(r) for r in (await session.execute(text(_STATEMENTS))).mappings()]
    difference = sum(int(r["difference_fen"]) for r in rows)
    RECONCILIATION_DIFFERENCE.set(difference)
    RECONCILED_STATEMENTS.set(len(rows))
    return {
        "statements": len(rows),
        "difference_fen": difference,
        "differences": [r for r in rows if r["difference_fen"]][:100],
    }
