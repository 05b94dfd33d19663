"""What the service knows of an order, and how a buyer's request is assessed: reason and intake rules as data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleType, TrustRight
from xinren_shared.errors import Conflict, Unprocessable

from .machine import CaseStatus, S
from .policy import Policy


@dataclass(frozen=True)
class Line:
    """An order line as the service sees it: what was bought, and how much of it cases took or hold."""

    sku_id: str
    title: str
    unit_price_fen: int
    quantity: int
    refunded_fen: int = 0  # by this service's refunded cases
    reserved_fen: int = 0  # by this order's open cases
    cases: int = 0  # buyer cases that named this line (any status)

    @property
    def refundable_fen(self) -> int:
        return max(0, self.unit_price_fen * self.quantity - self.refunded_fen - self.reserved_fen)


@dataclass(frozen=True)
class OrderFacts:
    paid_fen: int
    refunded_fen: int  # the order service's authoritative refunded total
    reserved_fen: int  # amounts of this order's open cases
    trust_rights: frozenset[TrustRight]
    shipped: bool
    delivered_at: datetime | None
    # Set once the item passed quality check: the platform vouched for it.
    certificate_no: str | None = None
    lines: tuple[Line, ...] = ()
    # The rights the shop's trust band allows today (trust.score_changed); None: no band known yet.
    band_rights: frozenset[TrustRight] | None = None

    @property
    def refundable_fen(self) -> int:
        return refundable_fen(self.paid_fen, self.refunded_fen, self.reserved_fen)


def refundable_fen(paid_fen: int, refunded_fen: int, reserved_fen: int) -> int:
    return max(0, paid_fen - refunded_fen - reserved_fen)


@dataclass(frozen=True)
class LineRequest:
    sku_id: str
    quantity: int


@dataclass(frozen=True)
class CaseItem:
    """A line a case concerns: the quantity and the part of the case's amount on it."""

    sku_id: str
    title: str
    quantity: int
    amount_fen: int

    def as_json(self) -> dict[str, object]:
        return {"sku_id": self.sku_id, "title": self.title, "quantity": self.quantity, "amount_fen": self.amount_fen}


@dataclass(frozen=True)
class CaseRequest:
    type: AfterSaleType
    reason: AfterSaleReason
    amount_fen: int | None = None  # None: everything still refundable
    items: tuple[LineRequest, ...] | None = None  # None: the whole order


@dataclass(frozen=True)
class Intake:
    """How a new case starts: its amount, whether it skips review, whether goods must come back, and why."""

    amount_fen: int
    approve_at_once: bool
    return_required: bool
    rules: tuple[str, ...]
    to_platform: bool = False  # straight to ARBITRATION: neither the seller nor a rule decides it
    items: tuple[CaseItem, ...] = ()

    @property
    def reviewed_by_seller(self) -> bool:
        return not self.approve_at_once and not self.to_platform


# Errors a buyer's request can meet (422 unless said otherwise; nothing is written).
class OrderNotPaid(Conflict):
    code = "ORDER_NOT_PAID"


class NotDelivered(Unprocessable):
    code = "NOT_DELIVERED"


class RightNotHeld(Unprocessable):
    code = "RIGHT_NOT_HELD"


class TypeNotAllowed(Unprocessable):
    code = "TYPE_NOT_ALLOWED"


class WindowClosed(Unprocessable):
    code = "WINDOW_CLOSED"


class ExceedsRefundable(Unprocessable):
    code = "AMOUNT_EXCEEDS_REFUNDABLE"


class PlatformCase(Conflict):
    code = "PLATFORM_CASE"


class NotShipped(Unprocessable):
    code = "NOT_SHIPPED"


class ItemNotInOrder(Unprocessable):
    code = "ITEM_NOT_IN_ORDER"


class QuantityExceedsLine(Unprocessable):
    code = "QUANTITY_EXCEEDS_LINE"


class CaseLimitReached(Unprocessable):
    code = "CASE_LIMIT_REACHED"


# Handling ways that move no money: the goods are replaced (换货) or a part is sent again (补寄).
NO_MONEY = frozenset({AfterSaleType.EXCHANGE, AfterSaleType.RESHIP})
# Handling ways where goods come back to the seller (a rule may waive it for RETURN_AND_REFUND).
RETURNS = frozenset({AfterSaleType.RETURN_AND_REFUND, AfterSaleType.EXCHANGE})
# Handling ways that need the goods delivered (something to send back) or at least shipped (something missing).
NEEDS_DELIVERY = frozenset({AfterSaleType.RETURN_AND_REFUND, AfterSaleType.EXCHANGE})
NEEDS_SHIPMENT = frozenset({AfterSaleType.RESHIP})


def require_seller_may_decide(certificate_no: str | None) -> None:
    """A counterfeit claim on a certified item is the platform's case: the seller neither approves nor rejects it."""
    if certificate_no is not None:
        raise PlatformCase(
            f"a counterfeit claim on an item certified by quality check ({certificate_no}) is decided by the platform",
            details={"certificate_no": certificate_no},
        )


@dataclass(frozen=True)
class ReasonRule:
    """When a buyer may give a reason once the order has shipped (before shipment any reason goes)."""

    right: TrustRight | None  # the trust-card right the reason needs, if any
    types: frozenset[AfterSaleType]
    needs_delivery: bool
    window: Callable[[Policy], timedelta]  # counted from delivery


T = AfterSaleType
_ALL = frozenset(AfterSaleType)
_NOT_RESHIP = frozenset({T.REFUND_ONLY, T.RETURN_AND_REFUND, T.EXCHANGE})
_MONEY = frozenset({T.REFUND_ONLY, T.RETURN_AND_REFUND})
_MISSING = frozenset({T.REFUND_ONLY, T.RESHIP})
R = AfterSaleReason

# The reason codes of each handling way (Kuaishou-like): a no-reason return may be an exchange; a counterfeit is
# refunded, never replaced; a missing part or parcel is refunded or sent again.
REASON_RULES: dict[AfterSaleReason, ReasonRule] = {
    R.NO_REASON_7D: ReasonRule(
        TrustRight.SEVEN_DAY_RETURN,
        frozenset({T.RETURN_AND_REFUND, T.EXCHANGE}),
        True,
        lambda p: p.seven_day_return_window,
    ),
    R.QUALITY_ISSUE: ReasonRule(None, _ALL, False, lambda p: p.claim_window),
    R.NOT_AS_DESCRIBED: ReasonRule(None, _NOT_RESHIP, False, lambda p: p.claim_window),
    R.COUNTERFEIT: ReasonRule(None, _MONEY, False, lambda p: p.counterfeit_claim_window),
    R.NOT_RECEIVED: ReasonRule(None, _MISSING, False, lambda p: p.claim_window),
    R.MISSING_PARTS: ReasonRule(None, _MISSING, False, lambda p: p.claim_window),
    R.OTHER: ReasonRule(None, _NOT_RESHIP, False, lambda p: p.claim_window),
}
# Reasons only the platform gives (QC outcome, cancellation of a paid order).
SYSTEM_REASONS = frozenset({R.QC_FAILED, R.QC_EXPIRED, R.CANCELLED_BEFORE_SHIPMENT})


class Effect(StrEnum):
    APPROVE_AT_ONCE = "APPROVE_AT_ONCE"  # no seller review
    NO_RETURN = "NO_RETURN"  # the refund does not wait for the goods
    TO_PLATFORM = "TO_PLATFORM"  # straight to arbitration; overrides APPROVE_AT_ONCE


@dataclass(frozen=True)
class IntakeRule:
    name: str
    right: TrustRight | None  # None: every order
    effect: Effect
    applies: Callable[[OrderFacts, AfterSaleType, int, int, Policy], bool]  # (order, type, amount, recent refunds)
    reasons: frozenset[AfterSaleReason] | None = None  # None: whatever the reason


INTAKE_RULES: tuple[IntakeRule, ...] = (
    # Nothing shipped yet: a refund is the buyer's right, nobody needs to review it.
    IntakeRule(
        "BEFORE_SHIPMENT",
        None,
        Effect.APPROVE_AT_ONCE,
        lambda o, t, amount, recent, p: not o.shipped and t is AfterSaleType.REFUND_ONLY,
    ),
    # 极速退款: a buyer in good standing asking little is approved before review (a return still comes back), while
    # the shop's trust band allows it (no band known: the right alone).
    IntakeRule(
        "FAST_REFUND",
        TrustRight.FAST_REFUND,
        Effect.APPROVE_AT_ONCE,
        lambda o, t, amount, recent, p: (
            t not in NO_MONEY
            and amount <= p.fast_refund_max_fen
            and recent < p.fast_refund_max_recent_refunds
            and (o.band_rights is None or TrustRight.FAST_REFUND in o.band_rights)
        ),
    ),
    # 退款不退货: sending cheap goods back costs more than they are worth.
    IntakeRule(
        "REFUND_WITHOUT_RETURN",
        TrustRight.REFUND_WITHOUT_RETURN,
        Effect.NO_RETURN,
        lambda o, t, amount, recent, p: (
            t is AfterSaleType.RETURN_AND_REFUND and amount <= p.refund_without_return_max_fen
        ),
    ),
    # The quality check vouched for the item: a counterfeit claim questions the platform's certificate, so the
    # platform decides it (and pays for it if upheld), not the seller.
    IntakeRule(
        "CERTIFIED_COUNTERFEIT",
        None,
        Effect.TO_PLATFORM,
        lambda o, t, amount, recent, p: o.certificate_no is not None,
        reasons=frozenset({R.COUNTERFEIT}),
    ),
)


def assess_request(order: OrderFacts, req: CaseRequest, recent_refunds: int, now: datetime, policy: Policy) -> Intake:
    """Decides whether a buyer's request is accepted and how its case starts; raises a DomainError if not."""
    if order.paid_fen <= 0:
        raise OrderNotPaid("the order has not been paid: there is nothing to refund")
    if req.reason in SYSTEM_REASONS:
        raise Unprocessable(f"reason {req.reason} is given by the platform only", code="REASON_NOT_ALLOWED")
    if req.type in NEEDS_DELIVERY and order.delivered_at is None:
        raise NotDelivered("the goods have not been delivered: there is nothing to return yet")
    if req.type in NEEDS_SHIPMENT and not order.shipped:
        raise NotShipped("the goods have not been shipped: there is nothing to send again")
    if order.shipped:
        rule = REASON_RULES[req.reason]
        if rule.right is not None and rule.right not in order.trust_rights:
            raise RightNotHeld(
                f"{req.reason} needs the shop's {rule.right} right, which this order does not carry",
                details={"right": rule.right},
            )
        if req.type not in rule.types:
            raise TypeNotAllowed(
                f"{req.reason} is handled as {', '.join(sorted(rule.types))}",
                details={"allowed_types": sorted(rule.types)},
            )
        if rule.needs_delivery and order.delivered_at is None:
            raise NotDelivered(f"{req.reason} counts from delivery, and the order has not been delivered")
        if order.delivered_at is not None:
            ends_at = order.delivered_at + rule.window(policy)
            if now > ends_at:
                raise WindowClosed(
                    f"the window for {req.reason} closed at {ends_at.isoformat()}",
                    details={"window_ends_at": ends_at.isoformat()},
                )
    lines = select_lines(order, req.items, policy)
    if req.type in NO_MONEY:
        if req.amount_fen is not None:
            raise Unprocessable(f"{req.type} moves no money: it takes no amount", code="VALIDATION_ERROR")
        amount, items = 0, tuple(CaseItem(line.sku_id, line.title, qty, 0) for line, qty in lines)
    else:
        amount, items = allocate(order, lines, req.amount_fen)
    applied = [
        r
        for r in INTAKE_RULES
        if (r.right is None or r.right in order.trust_rights)
        and (r.reasons is None or req.reason in r.reasons)
        and r.applies(order, req.type, amount, recent_refunds, policy)
    ]
    effects = {r.effect for r in applied}
    to_platform = Effect.TO_PLATFORM in effects
    return Intake(
        amount_fen=amount,
        approve_at_once=Effect.APPROVE_AT_ONCE in effects and not to_platform,
        return_required=req.type in RETURNS and Effect.NO_RETURN not in effects,
        rules=tuple(r.name for r in applied),
        to_platform=to_platform,
        items=items,
    )


def select_lines(order: OrderFacts, wanted: tuple[LineRequest, ...] | None, policy: Policy) -> list[tuple[Line, int]]:
    """The order lines a request names with their quantities (None: every line, whole); each within its ordered
    quantity and under the per-line case limit. Orders known without lines (older views) give none."""
    by_sku = {line.sku_id: line for line in order.lines}
    if wanted is None:
        chosen = [(line, line.quantity) for line in order.lines]
    else:
        chosen = []
        for w in wanted:
            line = by_sku.get(w.sku_id)
            if line is None:
                raise ItemNotInOrder(f"{w.sku_id} is not a line of this order", details={"sku_id": w.sku_id})
            if w.quantity > line.quantity:
                raise QuantityExceedsLine(
                    f"{w.quantity} of {w.sku_id} asked for, {line.quantity} ordered",
                    details={"sku_id": w.sku_id, "ordered": line.quantity, "requested": w.quantity},
                )
            chosen.append((line, w.quantity))
    for line, _ in chosen:
        if line.cases >= policy.max_cases_per_line:
            raise CaseLimitReached(
                f"{line.sku_id} already has {line.cases} after-sales cases, the most one line may have",
                details={"sku_id": line.sku_id, "max_cases_per_line": policy.max_cases_per_line},
            )
    return chosen


def allocate(
    order: OrderFacts, lines: list[tuple[Line, int]], amount_fen: int | None
) -> tuple[int, tuple[CaseItem, ...]]:
    """The case's amount and its part on each line: by default what the named quantities are still worth (never
    more than a line can still refund, nor than the order can); an amount asked for is laid on the lines in order.
    Raises ExceedsRefundable when the lines or the order cannot refund it."""
    worth = [min(line.unit_price_fen * qty, line.refundable_fen) for line, qty in lines]
    capacity = min(sum(worth), order.refundable_fen) if lines else order.refundable_fen
    amount = capacity if amount_fen is None else amount_fen
    if capacity <= 0 or amount > capacity:
        raise ExceedsRefundable(
            "the amount is more than the order can still refund",
            details={"refundable_fen": capacity, "requested_fen": amount},
        )
    if amount <= 0:
        raise Unprocessable("the amount must be positive", code="VALIDATION_ERROR")
    items, left = [], amount
    for (line, qty), w in zip(lines, worth, strict=True):
        part = min(w, left)
        left -= part
        items.append(CaseItem(line.sku_id, line.title, qty, part))
    return amount, tuple(items)


def status_after_approval(return_required: bool, type_: AfterSaleType | str = AfterSaleType.REFUND_ONLY) -> CaseStatus:
    if return_required:
        return S.AWAITING_RETURN
    return S.AWAITING_REPLACEMENT if AfterSaleType(type_) in NO_MONEY else S.REFUNDING


def status_after_return(type_: AfterSaleType | str) -> CaseStatus:
    """The goods are back: an exchange ships the new ones, a return is refunded."""
    return S.AWAITING_REPLACEMENT if AfterSaleType(type_) is AfterSaleType.EXCHANGE else S.REFUNDING


def arbitrated_amount(case_amount_fen: int, decided_fen: int | None, refundable_without_case_fen: int) -> int:
    """The amount an arbitrator's REFUND pays: the case's own by default, another within what the order could
    refund if this case's reservation were released."""
    amount = case_amount_fen if decided_fen is None else decided_fen
    if amount > refundable_without_case_fen:
        raise ExceedsRefundable(
            "the amount is more than the order can still refund",
            details={"refundable_fen": refundable_without_case_fen, "requested_fen": amount},
        )
    return amount
