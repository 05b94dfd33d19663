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
class OrderFacts:
    paid_fen: int
    refunded_fen: int  # the order service's authoritative refunded total
    reserved_fen: int  # amounts of this order's open cases
    trust_rights: frozenset[TrustRight]
    shipped: bool
    delivered_at: datetime | None
    # Set once the item passed quality check: the platform vouched for it.
    certificate_no: str | None = None

    @property
    def refundable_fen(self) -> int:
        return refundable_fen(self.paid_fen, self.refunded_fen, self.reserved_fen)


def refundable_fen(paid_fen: int, refunded_fen: int, reserved_fen: int) -> int:
    return max(0, paid_fen - refunded_fen - reserved_fen)


@dataclass(frozen=True)
class CaseRequest:
    type: AfterSaleType
    reason: AfterSaleReason
    amount_fen: int | None = None  # None: everything still refundable


@dataclass(frozen=True)
class Intake:
    """How a new case starts: its amount, whether it skips review, whether goods must come back, and why."""

    amount_fen: int
    approve_at_once: bool
    return_required: bool
    rules: tuple[str, ...]
    to_platform: bool = False  # straight to ARBITRATION: neither the seller nor a rule decides it

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


_BOTH = frozenset(AfterSaleType)
_RETURN = frozenset({AfterSaleType.RETURN_AND_REFUND})
R = AfterSaleReason

REASON_RULES: dict[AfterSaleReason, ReasonRule] = {
    R.NO_REASON_7D: ReasonRule(TrustRight.SEVEN_DAY_RETURN, _RETURN, True, lambda p: p.seven_day_return_window),
    R.QUALITY_ISSUE: ReasonRule(None, _BOTH, False, lambda p: p.claim_window),
    R.NOT_AS_DESCRIBED: ReasonRule(None, _BOTH, False, lambda p: p.claim_window),
    R.COUNTERFEIT: ReasonRule(None, _BOTH, False, lambda p: p.counterfeit_claim_window),
    R.NOT_RECEIVED: ReasonRule(None, frozenset({AfterSaleType.REFUND_ONLY}), False, lambda p: p.claim_window),
    R.OTHER: ReasonRule(None, _BOTH, False, lambda p: p.claim_window),
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
    # 极速退款: a buyer in good standing asking little is approved before review (a return still comes back).
    IntakeRule(
        "FAST_REFUND",
        TrustRight.FAST_REFUND,
        Effect.APPROVE_AT_ONCE,
        lambda o, t, amount, recent, p: amount <= p.fast_refund_max_fen and recent < p.fast_refund_max_recent_refunds,
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
    if req.type is AfterSaleType.RETURN_AND_REFUND and order.delivered_at is None:
        raise NotDelivered("the goods have not been delivered: there is nothing to return yet")
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
    refundable = order.refundable_fen
    amount = refundable if req.amount_fen is None else req.amount_fen
    if refundable <= 0 or amount > refundable:
        raise ExceedsRefundable(
            "the amount is more than the order can still refund",
            details={"refundable_fen": refundable, "requested_fen": amount},
        )
    if amount <= 0:
        raise Unprocessable("the amount must be positive", code="VALIDATION_ERROR")
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
        return_required=req.type is AfterSaleType.RETURN_AND_REFUND and Effect.NO_RETURN not in effects,
        rules=tuple(r.name for r in applied),
        to_platform=to_platform,
    )


def status_after_approval(return_required: bool) -> CaseStatus:
    return S.AWAITING_RETURN if return_required else S.REFUNDING


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
