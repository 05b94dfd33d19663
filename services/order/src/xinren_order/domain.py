"""Pure rules of the order service: the order state machine, QC policy, commission split, refund sourcing.

No I/O here: handlers load rows, ask these functions what to do, and persist the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from xinren_shared.statemachine import StateMachine


class OrderStatus(StrEnum):
    CREATED = "CREATED"
    PAID = "PAID"
    AWAITING_QC_INBOUND = "AWAITING_QC_INBOUND"
    IN_TRANSIT_TO_QC = "IN_TRANSIT_TO_QC"
    IN_QC = "IN_QC"
    QC_PASSED = "QC_PASSED"
    QC_FAILED = "QC_FAILED"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


S = OrderStatus

# Every allowed (from -> to). A full refund ends any paid order in REFUNDED, hence REFUNDED from every paid
# state (and from CANCELLED: a paid order cancelled before shipment waits there for its refund).
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.CREATED: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.AWAITING_QC_INBOUND, S.SHIPPED, S.CANCELLED, S.REFUNDED}),
    # Arrival may be recorded before the seller's shipment reached us (parcel sent outside the app).
    S.AWAITING_QC_INBOUND: frozenset({S.IN_TRANSIT_TO_QC, S.IN_QC, S.QC_FAILED, S.CANCELLED, S.REFUNDED}),
    S.IN_TRANSIT_TO_QC: frozenset({S.IN_QC, S.QC_FAILED, S.REFUNDED}),
    S.IN_QC: frozenset({S.QC_PASSED, S.QC_FAILED, S.REFUNDED}),
    S.QC_PASSED: frozenset({S.SHIPPED, S.REFUNDED}),
    S.QC_FAILED: frozenset({S.REFUNDED}),
    # A buyer may confirm receipt, and auto-confirm may fire, without a courier's delivery scan.
    S.SHIPPED: frozenset({S.DELIVERED, S.COMPLETED, S.REFUNDED}),
    S.DELIVERED: frozenset({S.COMPLETED, S.REFUNDED}),
    S.COMPLETED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset({S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

ORDER = StateMachine("order", OrderStatus, TRANSITIONS)

# States before the seller has shipped anything: the FAST_SHIPPING promise is still open.
NOT_YET_SHIPPED = frozenset({S.PAID, S.AWAITING_QC_INBOUND})

# States in which the parcel is on its way to the buyer or with the buyer: the auto-confirm clock runs (unless an
# after-sales case pauses it) and the buyer may confirm receipt or extend the time to do so.
AWAITING_RECEIPT = frozenset({S.SHIPPED, S.DELIVERED})


def auto_confirm_on_delivery(
    current: datetime | None, delivered_at: datetime, after_delivery: timedelta, extension: timedelta
) -> datetime:
    """A delivery may bring auto-confirm earlier (delivered + the delivery window, plus the buyer's extension if
    taken) but never later than the shipment already set it."""
    candidate = delivered_at + after_delivery + extension
    return candidate if current is None else min(current, candidate)


# The QC case as the order follows it from xinren.qc.v1 (status names of the QC service): event type name ->
# the case statuses it moves from, and the status it moves to. An event out of order changes nothing.
QC_CASE_MOVES: dict[str, tuple[frozenset[str | None], str]] = {
    "QcCaseOpened": (frozenset({None}), "AWAITING_INBOUND"),
    "shipped_to_warehouse": (frozenset({"AWAITING_INBOUND"}), "IN_TRANSIT"),
    "QcItemReceived": (frozenset({"AWAITING_INBOUND", "IN_TRANSIT"}), "IN_INSPECTION"),
    "QcPassed": (frozenset({"IN_INSPECTION"}), "PASSED"),
    "QcFailed": (frozenset({"IN_INSPECTION"}), "FAILED"),
    "QcDispatched": (frozenset({"PASSED", "FAILED"}), "DISPATCHED"),
    "QcExpired": (frozenset({"AWAITING_INBOUND", "IN_TRANSIT"}), "EXPIRED"),
}


def next_qc_status(current: str | None, step: str) -> str | None:
    """The case status after `step`, or None when the step does not apply from `current`."""
    from_statuses, to = QC_CASE_MOVES[step]
    return to if current in from_statuses else None


class ShopStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


def is_closed(status: OrderStatus | str, paid_fen: int, refunded_fen: int) -> bool:
    """Closed orders hold no money in escrow: completed, refunded, or cancelled with nothing left to refund."""
    status = OrderStatus(status)
    if status in (S.COMPLETED, S.REFUNDED):
        return True
    return status is S.CANCELLED and refunded_fen >= paid_fen


# --- QC policy --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QcPolicy:
    categories: frozenset[str]
    value_threshold_fen: int
    warehouse_by_category: dict[str, str]

    def requires_qc(self, category: str, unit_price_fen: int) -> bool:
        return category in self.categories or unit_price_fen > self.value_threshold_fen

    def warehouse_hint(self, category: str) -> str | None:
        return self.warehouse_by_category.get(category) or None


@dataclass(frozen=True)
class Line:
    """One order line as the rules need it."""

    sku_id: str
    category: str
    unit_price_fen: int
    quantity: int
    qc_required: bool = False
    # The host's commission on this line, from the cooperation that covered its sku when the order was placed.
    host_bps: int = 0

    @property
    def subtotal_fen(self) -> int:
        return self.unit_price_fen * self.quantity


def main_category(lines: list[Line]) -> str:
    """The category QC inspects: the most valuable line needing QC, else the most valuable line."""
    qc_lines = [line for line in lines if line.qc_required]
    pool = qc_lines or lines
    return max(pool, key=lambda line: (line.subtotal_fen, line.sku_id)).category


# --- money ------------------------------------------------------------------------------------------------

BPS = 10_000


@dataclass(frozen=True)
class ReleaseSplit:
    platform_fen: int
    host_fen: int
    seller_fen: int

    @property
    def total_fen(self) -> int:
        return self.platform_fen + self.host_fen + self.seller_fen


def commission_rate_bps(rates: dict[str, int], category: str) -> int:
    return rates.get(category, rates.get("default", 0))


def split_release(escrow_fen: int, lines: list[Line], rates: dict[str, int]) -> ReleaseSplit:
    """Splits the escrow balance: platform commission per line category and host commission per line rate (each
    pro rata of the line's share of the order), the rest — including every rounding remainder — to the seller."""
    if escrow_fen <= 0:
        return ReleaseSplit(0, 0, 0)
    total = sum(line.subtotal_fen for line in lines)
    if total <= 0:
        platform = host = 0
    else:
        # One floor over each weighted sum: never more than the exact commission.
        weighted = sum(line.subtotal_fen * commission_rate_bps(rates, line.category) for line in lines)
        platform = escrow_fen * weighted // (total * BPS)
        host = escrow_fen * sum(line.subtotal_fen * line.host_bps for line in lines) // (total * BPS)
    seller = escrow_fen - platform - host
    if seller < 0:
        raise ValueError("commission rates exceed 100%")
    return ReleaseSplit(platform, host, seller)


class FundingSource(StrEnum):
    ESCROW = "ESCROW"
    # After the release: the platform's and the host's commission on the refunded money, taken back.
    PLATFORM_COMMISSION = "PLATFORM_COMMISSION"
    HOST_COMMISSION = "HOST_COMMISSION"
    SELLER_BALANCE = "SELLER_BALANCE"
    SHOP_DEPOSIT = "SHOP_DEPOSIT"
    # Fronted for the shop, which then owes it.
    PLATFORM_GUARANTEE = "PLATFORM_GUARANTEE"
    # The platform's own liability for a certified item (the warehouse's error): nothing owed by the shop.
    QC_GUARANTEE = "QC_GUARANTEE"
    PLATFORM_SUBSIDY = "PLATFORM_SUBSIDY"
    # During the settlement hold: the order's shares not yet available to the seller and the host.
    SELLER_PENDING = "SELLER_PENDING"
    HOST_PENDING = "HOST_PENDING"


@dataclass(frozen=True)
class FundingPlan:
    parts: tuple[tuple[FundingSource, int], ...]

    @property
    def total_fen(self) -> int:
        return sum(amount for _, amount in self.parts)

    def amount(self, source: FundingSource) -> int:
        return sum(a for s, a in self.parts if s is source)

    @property
    def label(self) -> str:
        return "+".join(s.value for s, _ in self.parts)


def refundable_fen(paid_fen: int, refunded_fen: int) -> int:
    return max(0, paid_fen - refunded_fen)


def plan_refund(
    amount_fen: int,
    escrow_fen: int,
    seller_balance_fen: int,
    deposit_fen: int,
    *,
    platform_back_fen: int = 0,
    host_back_fen: int = 0,
    host_pending_back_fen: int = 0,
    seller_pending_fen: int = 0,
) -> FundingPlan:
    """Escrow first; after release the platform's and the host's commission shares (`*_back_fen`, see
    commission.clawback; the host's from its pending share while the order is held), then for the seller's part the
    order's pending share, its balance, then the deposit, then the platform guarantee."""
    if amount_fen <= 0:
        raise ValueError("a refund must be positive")
    parts: list[tuple[FundingSource, int]] = []
    remaining = amount_fen
    for source, available in (
        (FundingSource.ESCROW, escrow_fen),
        (FundingSource.PLATFORM_COMMISSION, platform_back_fen),
        (FundingSource.HOST_PENDING, host_pending_back_fen),
        (FundingSource.HOST_COMMISSION, host_back_fen),
        (FundingSource.SELLER_PENDING, seller_pending_fen),
        (FundingSource.SELLER_BALANCE, seller_balance_fen),
        (FundingSource.SHOP_DEPOSIT, deposit_fen),
    ):
        take = min(remaining, max(0, available))
        if take:
            parts.append((source, take))
            remaining -= take
    if remaining:
        parts.append((FundingSource.PLATFORM_GUARANTEE, remaining))
    return FundingPlan(tuple(parts))


def plan_compensation(amount_fen: int, payer: str, deposit_fen: int) -> FundingPlan:
    """SHOP_DEPOSIT pays from the deposit, the platform guarantee covering a shortfall (owed by the shop); PLATFORM
    from the subsidy; PLATFORM_GUARANTEE (a certified item found counterfeit) from the guarantee, owed by nobody."""
    if amount_fen <= 0:
        raise ValueError("a compensation must be positive")
    if payer == "PLATFORM":
        return FundingPlan(((FundingSource.PLATFORM_SUBSIDY, amount_fen),))
    if payer == "PLATFORM_GUARANTEE":
        return FundingPlan(((FundingSource.QC_GUARANTEE, amount_fen),))
    take = min(amount_fen, max(0, deposit_fen))
    parts: list[tuple[FundingSource, int]] = []
    if take:
        parts.append((FundingSource.SHOP_DEPOSIT, take))
    if amount_fen - take:
        parts.append((FundingSource.PLATFORM_GUARANTEE, amount_fen - take))
    return FundingPlan(tuple(parts))


# --- ledger accounts --------------------------------------------------------------------------------------

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"
_ACCOUNT = re.compile(
    rf"^(?:(?:escrow|seller|deposit|host|seller_pending|host_pending|payout):{ID_PATTERN}"
    r"|platform:(?:commission|subsidy|guarantee|fines)"
    r"|external:(?:payments|payouts|settlements))$"
)

PLATFORM_COMMISSION = "platform:commission"
PLATFORM_SUBSIDY = "platform:subsidy"
PLATFORM_GUARANTEE = "platform:guarantee"
EXTERNAL_PAYMENTS = "external:payments"
EXTERNAL_PAYOUTS = "external:payouts"
# Settlement: fines taken from shops, and what payouts sent to sellers and hosts.
PLATFORM_FINES = "platform:fines"
EXTERNAL_SETTLEMENTS = "external:settlements"


def escrow_account(order_id: str) -> str:
    return f"escrow:{order_id}"


def seller_account(shop_id: str) -> str:
    return f"seller:{shop_id}"


def deposit_account(shop_id: str) -> str:
    return f"deposit:{shop_id}"


def host_account(host_id: str) -> str:
    return f"host:{host_id}"


def seller_pending_account(shop_id: str) -> str:
    """The seller's shares of completed orders still in their settlement hold."""
    return f"seller_pending:{shop_id}"


def host_pending_account(host_id: str) -> str:
    return f"host_pending:{host_id}"


def payout_account(payout_id: str) -> str:
    """Money on its way to a seller or host: a payout sent but not yet confirmed paid or failed."""
    return f"payout:{payout_id}"


def is_account(name: str) -> bool:
    return bool(_ACCOUNT.match(name))


def source_account(source: FundingSource, *, order_id: str, shop_id: str, host_id: str | None = None) -> str:
    if source in (FundingSource.HOST_COMMISSION, FundingSource.HOST_PENDING):
        if not host_id:
            raise ValueError("a host commission needs the order's host")
        return host_account(host_id) if source is FundingSource.HOST_COMMISSION else host_pending_account(host_id)
    return {
        FundingSource.ESCROW: escrow_account(order_id),
        FundingSource.PLATFORM_COMMISSION: PLATFORM_COMMISSION,
        FundingSource.SELLER_BALANCE: seller_account(shop_id),
        FundingSource.SELLER_PENDING: seller_pending_account(shop_id),
        FundingSource.SHOP_DEPOSIT: deposit_account(shop_id),
        FundingSource.PLATFORM_GUARANTEE: PLATFORM_GUARANTEE,
        FundingSource.QC_GUARANTEE: PLATFORM_GUARANTEE,
        FundingSource.PLATFORM_SUBSIDY: PLATFORM_SUBSIDY,
    }[source]
