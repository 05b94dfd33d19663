"""Pure after-sales rules: the case and compensation state machines, the trust-card rules as data, money. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from xinren_shared.contracts.vocabulary import (
    AfterSaleReason,
    AfterSaleStatus,
    AfterSaleType,
    CompensationKind,
    CompensationPayer,
    TrustRight,
)
from xinren_shared.errors import Conflict, Unprocessable
from xinren_shared.statemachine import StateMachine

from .settings import RefundSettings

# ---------------------------------------------------------------------------------------------------------------
# The after-sale case state machine (API.md). APPROVED is left at once for AWAITING_RETURN (a return is needed) or
# REFUNDING (money requested); REFUNDING ends in REFUNDED on `order.refunded`, or in CLOSED when the order
# service answers `order.refund_rejected` (nothing moved; the reason is kept on the case).

CaseStatus = AfterSaleStatus
S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    # CLOSED from REQUESTED/AWAITING_RETURN: superseded by a platform full refund (QC failure, paid cancellation).
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.CLOSED}),
    S.APPROVED: frozenset({S.AWAITING_RETURN, S.REFUNDING}),
    S.AWAITING_RETURN: frozenset({S.RETURN_SHIPPED, S.CANCELLED, S.CLOSED}),
    S.RETURN_SHIPPED: frozenset({S.RETURN_RECEIVED}),
    S.RETURN_RECEIVED: frozenset({S.REFUNDING}),
    S.REFUNDING: frozenset({S.REFUNDED, S.CLOSED}),
    # CLOSED from REJECTED: the escalation window passed, the rejection is final.
    S.REJECTED: frozenset({S.ARBITRATION, S.CLOSED, S.CANCELLED}),
    S.ARBITRATION: frozenset({S.APPROVED, S.CLOSED, S.CANCELLED}),
    S.REFUNDED: frozenset(),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

CASES = StateMachine("after-sale case", CaseStatus, TRANSITIONS)

TERMINAL = CASES.terminal
# Every open case holds its amount back from what the order can still refund (even a rejected one: it may be
# escalated and won).
RESERVING = frozenset(TRANSITIONS) - TERMINAL
# Open cases with neither goods nor money on the way: a platform full refund closes them.
SUPERSEDABLE = frozenset({S.REQUESTED, S.REJECTED, S.ARBITRATION, S.AWAITING_RETURN})
# What the buyer may still withdraw.
CANCELLABLE = frozenset(s for s in RESERVING if CASES.can(s, S.CANCELLED))


class CompensationStatus(StrEnum):
    GRANTED = "GRANTED"  # compensation.granted sent, waiting for the order service to pay
    PAID = "PAID"  # order.compensation_paid received


COMPENSATION_TRANSITIONS: dict[CompensationStatus, frozenset[CompensationStatus]] = {
    CompensationStatus.GRANTED: frozenset({CompensationStatus.PAID}),
    CompensationStatus.PAID: frozenset(),
}

COMPENSATIONS = StateMachine("compensation", CompensationStatus, COMPENSATION_TRANSITIONS)


# ---------------------------------------------------------------------------------------------------------------
# The numbers of the rules, built from the settings.


@dataclass(frozen=True)
class Policy:
    review_sla: timedelta
    return_receipt_sla: timedelta
    escalation_window: timedelta
    seven_day_return_window: timedelta
    claim_window: timedelta
    counterfeit_claim_window: timedelta
    fast_refund_max_fen: int
    fast_refund_max_recent_refunds: int
    fast_refund_lookback: timedelta
    refund_without_return_max_fen: int
    return_shipping_subsidy_fen: int
    late_shipment_compensation_fen: int
    counterfeit_multiplier_with_right: int
    counterfeit_multiplier_by_law: int
    counterfeit_minimum_fen: int
    money_request_resend: timedelta
    money_request_resend_max: timedelta

    @classmethod
    def from_settings(cls, s: RefundSettings) -> Policy:
        def sec(seconds: float) -> timedelta:
            return timedelta(seconds=seconds)

        return cls(
            review_sla=sec(s.review_sla_seconds),
            return_receipt_sla=sec(s.return_receipt_sla_seconds),
            escalation_window=sec(s.escalation_window_seconds),
            seven_day_return_window=sec(s.seven_day_return_window_seconds),
            claim_window=sec(s.claim_window_seconds),
            counterfeit_claim_window=sec(s.counterfeit_claim_window_seconds),
            fast_refund_max_fen=s.fast_refund_max_fen,
            fast_refund_max_recent_refunds=s.fast_refund_max_recent_refunds,
            fast_refund_lookback=sec(s.fast_refund_lookback_seconds),
            refund_without_return_max_fen=s.refund_without_return_max_fen,
            return_shipping_subsidy_fen=s.return_shipping_subsidy_fen,
            late_shipment_compensation_fen=s.late_shipment_compensation_fen,
            counterfeit_multiplier_with_right=s.counterfeit_multiplier_with_right,
            counterfeit_multiplier_by_law=s.counterfeit_multiplier_by_law,
            counterfeit_minimum_fen=s.counterfeit_minimum_fen,
            money_request_resend=sec(s.money_request_resend_seconds),
            money_request_resend_max=sec(s.money_request_resend_max_seconds),
        )


# ---------------------------------------------------------------------------------------------------------------
# What the service knows of an order, and what can still be refunded.


@dataclass(frozen=True)
class OrderFacts:
    paid_fen: int
    refunded_fen: int  # the order service's authoritative refunded total
    reserved_fen: int  # amounts of this order's open cases
    trust_rights: frozenset[TrustRight]
    shipped: bool
    delivered_at: datetime | None

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


@dataclass(frozen=True)
class IntakeRule:
    name: str
    right: TrustRight | None  # None: every order
    effect: Effect
    applies: Callable[[OrderFacts, AfterSaleType, int, int, Policy], bool]  # (order, type, amount, recent refunds)


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
        and r.applies(order, req.type, amount, recent_refunds, policy)
    ]
    effects = {r.effect for r in applied}
    return Intake(
        amount_fen=amount,
        approve_at_once=Effect.APPROVE_AT_ONCE in effects,
        return_required=req.type is AfterSaleType.RETURN_AND_REFUND and Effect.NO_RETURN not in effects,
        rules=tuple(r.name for r in applied),
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


# ---------------------------------------------------------------------------------------------------------------
# Compensation beyond the price, per kind: which right grants it, who pays, how much.


def counterfeit_compensation_fen(price_fen: int, rights: Iterable[TrustRight], policy: Policy) -> int:
    """假一赔十 with the right; otherwise consumer law's 退一赔三, at least the legal minimum."""
    if TrustRight.FAKE_ONE_PAY_TEN in set(rights):
        return price_fen * policy.counterfeit_multiplier_with_right
    return max(price_fen * policy.counterfeit_multiplier_by_law, policy.counterfeit_minimum_fen)


@dataclass(frozen=True)
class CompensationRule:
    right: TrustRight | None  # None: owed whatever the shop's rights (the law)
    payer: CompensationPayer
    amount: Callable[[int, frozenset[TrustRight], Policy], int]  # (price, rights, policy)
    per_case: bool  # False: at most one per order


COMPENSATION_RULES: dict[CompensationKind, CompensationRule] = {
    CompensationKind.COUNTERFEIT: CompensationRule(
        None, CompensationPayer.SHOP_DEPOSIT, counterfeit_compensation_fen, per_case=False
    ),
    CompensationKind.RETURN_SHIPPING: CompensationRule(
        TrustRight.RETURN_SHIPPING_SUBSIDY,
        CompensationPayer.PLATFORM,
        lambda price, rights, p: p.return_shipping_subsidy_fen,
        per_case=True,
    ),
    CompensationKind.LATE_SHIPMENT: CompensationRule(
        TrustRight.FAST_SHIPPING,
        CompensationPayer.SHOP_DEPOSIT,
        lambda price, rights, p: p.late_shipment_compensation_fen,
        per_case=False,
    ),
}


@dataclass(frozen=True)
class CompensationDecision:
    kind: CompensationKind
    amount_fen: int
    payer: CompensationPayer


def compensation_for(
    kind: CompensationKind, price_fen: int, rights: Iterable[TrustRight], policy: Policy
) -> CompensationDecision | None:
    """The compensation owed, or None when the order's rights do not grant it."""
    rule = COMPENSATION_RULES[kind]
    rights = frozenset(rights)
    if rule.right is not None and rule.right not in rights:
        return None
    amount = rule.amount(price_fen, rights, policy)
    return CompensationDecision(kind, amount, rule.payer) if amount > 0 else None


def compensation_dedupe_key(kind: CompensationKind, order_id: str, case_id: str | None) -> str:
    """What makes a compensation unique: a counterfeit or a late shipment is paid once per order, a return
    subsidy once per returned case."""
    if COMPENSATION_RULES[kind].per_case:
        return f"{kind}:{order_id}:{case_id}"
    return f"{kind}:{order_id}"


def resend_delay(attempt: int, policy: Policy) -> timedelta:
    """Back-off before money request `attempt + 1` is sent again with the same id."""
    base = policy.money_request_resend.total_seconds()
    return timedelta(seconds=min(base * 2 ** max(0, attempt - 1), policy.money_request_resend_max.total_seconds()))


def refund_id(case_id: str) -> str:
    return f"rf_{case_id}"
