"""Pure rules of settlement statements: which ledger figures a statement line shows, and how an order's figures are
shared among its lines so that every column sums exactly. No I/O here.

A shop's line: payout = gross - platform - host - refunds - compensations - fines + adjustments.
A host's line:  payout = host commission - refunds - fines + adjustments (gross shown for information).
`refunds` is the refunded money taken out of the sale's split (the commission taken back and the seller's or the
host's own share); what the deposit or the guarantee paid is not the statement's money. `adjustments` are debt
repayments to the platform guarantee (negative), payouts that failed and came back (positive), and the part of a
fine that the deposit paid (positive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime

COLUMNS = (
    "gross_fen",
    "platform_commission_fen",
    "host_commission_fen",
    "refunds_fen",
    "compensations_fen",
    "fines_fen",
    "adjustments_fen",
)


@dataclass
class Figures:
    gross_fen: int = 0
    platform_commission_fen: int = 0
    host_commission_fen: int = 0
    refunds_fen: int = 0
    compensations_fen: int = 0
    fines_fen: int = 0
    adjustments_fen: int = 0

    def payout(self, party_kind: str) -> int:
        costs = self.refunds_fen + self.compensations_fen + self.fines_fen - self.adjustments_fen
        if party_kind == "HOST":
            return self.host_commission_fen - costs
        return self.gross_fen - self.platform_commission_fen - self.host_commission_fen - costs


@dataclass(frozen=True)
class Posting:
    """One ledger entry of a transaction a statement accounts for."""

    transaction_id: int
    kind: str
    account: str
    amount_fen: int


@dataclass(frozen=True)
class Party:
    kind: str  # SHOP | HOST
    party_id: str

    @property
    def available(self) -> str:
        return f"{'seller' if self.kind == 'SHOP' else 'host'}:{self.party_id}"

    @property
    def own(self) -> tuple[str, ...]:
        """The party's own settlement accounts: pending and available."""
        prefix = "seller" if self.kind == "SHOP" else "host"
        return (f"{prefix}:{self.party_id}", f"{prefix}_pending:{self.party_id}")


def figures_of(party: Party, postings: Sequence[Posting]) -> Figures:
    """The figures of the transactions a statement attributes to one order (or one adjustment)."""
    f = Figures()
    for p in postings:
        acc, fen = p.account, p.amount_fen
        is_host = acc.startswith(("host:", "host_pending:"))
        if p.kind == "RELEASE":
            if acc.startswith("escrow:"):
                f.gross_fen -= fen
            elif party.kind == "SHOP" and acc == "platform:commission":
                f.platform_commission_fen += fen
            elif is_host and (party.kind == "SHOP" or acc in party.own):
                f.host_commission_fen += fen
        elif p.kind == "REFUND":
            if party.kind == "SHOP" and acc == "platform:commission":
                f.platform_commission_fen += fen  # negative: the commission taken back
                f.refunds_fen -= fen
            elif is_host and party.kind == "SHOP":
                f.host_commission_fen += fen
                f.refunds_fen -= fen
            elif acc in party.own:
                f.refunds_fen -= fen
        elif p.kind == "FINE":
            if acc in party.own or acc.startswith("deposit:"):
                f.fines_fen -= fen
                if acc.startswith("deposit:"):
                    f.adjustments_fen -= fen
        elif p.kind in ("COMPENSATION", "GUARANTEE_COMPENSATION"):
            if acc in party.own:
                f.compensations_fen -= fen
        elif p.kind != "HOLD_RELEASE" and acc == party.available:
            f.adjustments_fen += fen  # DEBT_REPAYMENT, PAYOUT_RETURN, anything else on the available account
    return f


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """`total` shared in proportion to `weights` by largest remainder: the parts always sum to `total` exactly."""
    if not weights:
        return []
    positive = [max(0, w) for w in weights]
    whole = sum(positive)
    if whole == 0:
        positive, whole = [1] * len(weights), len(weights)
    sign, magnitude = (1 if total >= 0 else -1), abs(total)
    parts = [magnitude * w // whole for w in positive]
    rest = magnitude - sum(parts)
    order = sorted(range(len(positive)), key=lambda i: (-(magnitude * positive[i] % whole), i))
    for i in order[:rest]:
        parts[i] += 1
    return [sign * p for p in parts]


@dataclass(frozen=True)
class LineWeights:
    sku_id: str
    subtotal_fen: int
    platform_bps: int
    host_bps: int


@dataclass
class StatementLine:
    kind: str  # ORDER_LINE | DEBT_REPAYMENT | PAYOUT_RETURNED | FINE | ADJUSTMENT
    order_id: str | None
    sku_id: str | None
    figures: Figures = field(default_factory=Figures)
    live_room_id: str | None = None

    def as_dict(self, party_kind: str) -> dict[str, object]:
        values = {c.name: getattr(self.figures, c.name) for c in fields(self.figures)}
        return {
            "kind": self.kind,
            "order_id": self.order_id,
            "sku_id": self.sku_id,
            "live_room_id": self.live_room_id,
            **values,
            "payout_fen": self.figures.payout(party_kind),
        }


def order_lines(order_id: str, figures: Figures, weights: Sequence[LineWeights]) -> list[StatementLine]:
    """An order's figures shared among its lines: amounts by subtotal, commissions by subtotal times rate."""
    if not weights:
        return [StatementLine("ORDER_LINE", order_id, None, figures)]
    by_subtotal = [w.subtotal_fen for w in weights]
    shares: dict[str, list[int]] = {}
    for column in COLUMNS:
        w = by_subtotal
        if column == "platform_commission_fen":
            w = [x.subtotal_fen * x.platform_bps for x in weights]
        elif column == "host_commission_fen":
            w = [x.subtotal_fen * x.host_bps for x in weights]
        shares[column] = allocate(getattr(figures, column), w)
    return [
        StatementLine("ORDER_LINE", order_id, w.sku_id, Figures(**{c: shares[c][i] for c in COLUMNS}))
        for i, w in enumerate(weights)
    ]


ADJUSTMENT_KINDS = {"DEBT_REPAYMENT": "DEBT_REPAYMENT", "PAYOUT_RETURN": "PAYOUT_RETURNED", "FINE": "FINE"}


def period_of(now: datetime, period_seconds: float) -> tuple[str, datetime]:
    """The payout period `now` falls in: its name (its start, ISO 8601 UTC) and the start of the next one."""
    epoch = now.timestamp()
    start = int(epoch // period_seconds * period_seconds)
    begins = datetime.fromtimestamp(start, UTC)
    return begins.strftime("%Y-%m-%dT%H:%M:%SZ"), datetime.fromtimestamp(start + period_seconds, UTC)
