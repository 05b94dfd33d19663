"""Deadlines per waiting state, the certified-counterfeit rules and what the events carry, as pure functions."""

from datetime import UTC, datetime, timedelta

import pytest

from xinren_refund import domain, events_out
from xinren_refund.domain import CaseStatus, Party
from xinren_refund.models import AfterSaleCase
from xinren_shared.contracts.vocabulary import AfterSaleReason as R
from xinren_shared.contracts.vocabulary import AfterSaleType as T
from xinren_shared.contracts.vocabulary import CompensationKind as K
from xinren_shared.contracts.vocabulary import CompensationPayer
from xinren_shared.contracts.vocabulary import TrustRight as TR
from xinren_shared.errors import DomainError

from .test_rules import NOW, POLICY, assess, facts

S = CaseStatus


def _case(status: CaseStatus, **fields) -> AfterSaleCase:
    return AfterSaleCase(
        case_id="as_1",
        order_id="ord_1",
        buyer_id="u1",
        shop_id="shop1",
        type="RETURN_AND_REFUND",
        reason="COUNTERFEIT",
        status=status.value,
        amount_fen=1_000,
        origin="BUYER",
        created_at=NOW,
        updated_at=NOW,
        **fields,
    )


# Who must act next, written out apart from the implementation's table.
NEXT = {
    S.REQUESTED: (Party.SELLER, "review_due_at"),
    S.AWAITING_RETURN: (Party.BUYER, "return_due_at"),
    S.RETURN_SHIPPED: (Party.SELLER, "return_receipt_due_at"),
    S.REJECTED: (Party.BUYER, "escalation_due_at"),
    S.ARBITRATION: (Party.PLATFORM, None),
    S.APPROVED: (Party.PLATFORM, None),
    S.RETURN_RECEIVED: (Party.PLATFORM, None),
    S.REFUNDING: (Party.PLATFORM, None),
    S.OFFERED: (Party.BUYER, "offer_due_at"),
    S.AWAITING_EVIDENCE: (Party.BUYER, "evidence_due_at"),
    S.AWAITING_REPLACEMENT: (Party.SELLER, "replacement_ship_due_at"),
    S.REPLACEMENT_SHIPPED: (Party.BUYER, "replacement_receipt_due_at"),
    # At the quality-check warehouse: no deadline (and no timer) here, so nothing completes the case meanwhile.
    S.REPLACEMENT_INSPECTING: (Party.PLATFORM, None),
}


@pytest.mark.parametrize("status", list(S), ids=str)
def test_each_state_names_who_acts_next_and_by_when(status):
    actor, field = NEXT.get(status, (None, None))
    assert domain.next_actor(status.value) is actor
    due = NOW + timedelta(days=3)
    names = ("review_due_at", "return_due_at", "return_receipt_due_at", "escalation_due_at", "offer_due_at")
    names += ("evidence_due_at", "replacement_ship_due_at", "replacement_receipt_due_at")
    deadlines = dict.fromkeys(names, due)
    case = _case(status, **deadlines)
    assert domain.due_at(case) == (due if field else None)
    if field:
        deadline = domain.DEADLINES[status]
        assert (deadline.field, deadline.party) == (field, actor)
    if status in domain.TERMINAL:
        assert actor is None and status not in domain.DEADLINES


def test_deadline_lengths_come_from_the_settings():
    lengths = {s: d.length(POLICY) for s, d in domain.DEADLINES.items()}
    assert lengths == {
        S.REQUESTED: POLICY.review_sla,
        S.AWAITING_RETURN: POLICY.return_send_window,
        S.RETURN_SHIPPED: POLICY.return_receipt_sla,
        S.REJECTED: POLICY.escalation_window,
        S.OFFERED: POLICY.offer_answer_window,
        S.AWAITING_EVIDENCE: POLICY.evidence_window,
        S.AWAITING_REPLACEMENT: POLICY.replacement_ship_sla,
        S.REPLACEMENT_SHIPPED: POLICY.replacement_receipt_window,
    }
    assert POLICY.return_send_window == timedelta(days=7)  # the default


def test_only_a_rejection_may_be_escalated_by_the_buyer():
    assert domain.ESCALATABLE == {S.REJECTED}
    assert domain.CASES.can(S.REQUESTED, S.ARBITRATION)  # the platform's own move, for certified items


def test_a_counterfeit_claim_on_a_certified_item_goes_to_the_platform_whatever_else_applies():
    certified = facts(paid=8_000, rights=[TR.FAST_REFUND], delivered_days_ago=20)
    certified = domain.OrderFacts(**{**certified.__dict__, "certificate_no": "XR-QC-1"})
    intake = assess(certified, reason=R.COUNTERFEIT)
    assert intake.to_platform and not intake.approve_at_once and not intake.reviewed_by_seller
    assert "CERTIFIED_COUNTERFEIT" in intake.rules
    # Other reasons on the same item, and counterfeit claims on uncertified items, go as before.
    quality = assess(domain.OrderFacts(**{**certified.__dict__, "delivered_at": NOW}), reason=R.QUALITY_ISSUE)
    assert not quality.to_platform and quality.approve_at_once  # FAST_REFUND
    plain = assess(facts(paid=8_000, delivered_days_ago=20), reason=R.COUNTERFEIT, type_=T.REFUND_ONLY)
    assert not plain.to_platform and plain.reviewed_by_seller


def test_the_seller_may_not_decide_a_platform_case():
    domain.require_seller_may_decide(None)
    with pytest.raises(DomainError) as err:
        domain.require_seller_may_decide("XR-QC-1")
    assert (err.value.code, err.value.status) == ("PLATFORM_CASE", 409)
    assert err.value.details == {"certificate_no": "XR-QC-1"}


@pytest.mark.parametrize(
    "kind,certified,payer",
    [
        (K.COUNTERFEIT, False, CompensationPayer.SHOP_DEPOSIT),
        (K.COUNTERFEIT, True, CompensationPayer.PLATFORM_GUARANTEE),
        (K.RETURN_SHIPPING, True, CompensationPayer.PLATFORM),
        (K.LATE_SHIPMENT, True, CompensationPayer.SHOP_DEPOSIT),
    ],
)
def test_an_upheld_claim_on_a_certified_item_is_paid_by_the_platform_guarantee(kind, certified, payer):
    rights = [TR.FAKE_ONE_PAY_TEN, TR.RETURN_SHIPPING_SUBSIDY, TR.FAST_SHIPPING]
    decision = domain.compensation_for(kind, 8_000, rights, POLICY, certified=certified)
    assert decision is not None and decision.payer is payer
    if kind is K.COUNTERFEIT:
        assert decision.amount_fen == 80_000  # the amount is the same whoever pays


def test_case_events_carry_the_deadline_and_the_certificate():
    due = datetime(2026, 12, 7, tzinfo=UTC)
    case = _case(S.AWAITING_RETURN, return_due_at=due, certificate_no="XR-QC-1")
    approved = events_out.case_event(case, S.APPROVED)
    assert approved is not None and approved.TYPE == "xinren.aftersale.approved"
    assert (approved.status, approved.due_at, approved.certificate_no) == (S.APPROVED, due, "XR-QC-1")
    assert events_out.case_event(case) is None  # AWAITING_RETURN has no event of its own
    upheld = events_out.counterfeit_upheld(case, "XR-QC-1")
    assert (upheld.order_id, upheld.case_id, upheld.certificate_no) == ("ord_1", "as_1", "XR-QC-1")
    assert (upheld.buyer_id, upheld.shop_id) == ("u1", "shop1")
