"""Compensation beyond the price, per kind: which right grants it, who pays, how much; money request re-sends."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from xinren_shared.contracts.vocabulary import CompensationKind, CompensationPayer, TrustRight

from .policy import Policy


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
    # Who pays instead when the item had passed quality check (None: the same payer).
    certified_payer: CompensationPayer | None = None


COMPENSATION_RULES: dict[CompensationKind, CompensationRule] = {
    # A certified item found counterfeit is the warehouse's error: the platform's guarantee pays, never the shop.
    CompensationKind.COUNTERFEIT: CompensationRule(
        None,
        CompensationPayer.SHOP_DEPOSIT,
        counterfeit_compensation_fen,
        per_case=False,
        certified_payer=CompensationPayer.PLATFORM_GUARANTEE,
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
    kind: CompensationKind, price_fen: int, rights: Iterable[TrustRight], policy: Policy, *, certified: bool = False
) -> CompensationDecision | None:
    """The compensation owed, or None when the order's rights do not grant it; `certified`: the item had passed
    quality check."""
    rule = COMPENSATION_RULES[kind]
    rights = frozenset(rights)
    if rule.right is not None and rule.right not in rights:
        return None
    amount = rule.amount(price_fen, rights, policy)
    payer = rule.certified_payer if certified and rule.certified_payer is not None else rule.payer
    return CompensationDecision(kind, amount, payer) if amount > 0 else None


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
