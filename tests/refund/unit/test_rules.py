"""The after-sales rules as pure functions: windows, rights, amounts, compensation."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from xinren_refund import domain
from xinren_refund.domain import CaseRequest, OrderFacts, Policy
from xinren_refund.settings import RefundSettings
from xinren_shared.contracts.vocabulary import AfterSaleReason as R
from xinren_shared.contracts.vocabulary import AfterSaleType as T
from xinren_shared.contracts.vocabulary import CompensationKind as K
from xinren_shared.contracts.vocabulary import CompensationPayer
from xinren_shared.contracts.vocabulary import TrustRight as TR
from xinren_shared.errors import DomainError

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
POLICY = Policy.from_settings(
    RefundSettings(
        _env_file=None,
        review_sla_seconds=48 * 3600,
        seven_day_return_window_seconds=7 * 86400,
        claim_window_seconds=15 * 86400,
        counterfeit_claim_window_seconds=90 * 86400,
        fast_refund_max_fen=20_000,
        fast_refund_max_recent_refunds=3,
        refund_without_return_max_fen=5_000,
        return_shipping_subsidy_fen=1_000,
        late_shipment_compensation_fen=500,
        counterfeit_multiplier_with_right=10,
        counterfeit_multiplier_by_law=3,
        counterfeit_minimum_fen=50_000,
        money_request_resend_seconds=60,
        money_request_resend_max_seconds=3600,
    )
)


def facts(*, paid=10_000, refunded=0, reserved=0, rights=(), shipped=True, delivered_days_ago: float | None = 2):
    delivered = None if delivered_days_ago is None else NOW - timedelta(days=delivered_days_ago)
    return OrderFacts(paid, refunded, reserved, frozenset(rights), shipped or delivered is not None, delivered)


def assess(order, type_=T.REFUND_ONLY, reason=R.OTHER, amount=None, recent=0):
    return domain.assess_request(order, CaseRequest(type_, reason, amount), recent, NOW, POLICY)


def refused(code, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as err:
        assess(*args, **kw)
    assert err.value.code == code, err.value.message
    return err.value


def test_settings_give_the_policy_its_numbers():
    p = Policy.from_settings(RefundSettings(_env_file=None))
    assert p.review_sla == timedelta(hours=48)
    assert p.return_receipt_sla == timedelta(days=7)
    assert p.seven_day_return_window == timedelta(days=7)
    assert (p.counterfeit_multiplier_with_right, p.counterfeit_multiplier_by_law, p.counterfeit_minimum_fen) == (
        10,
        3,
        50_000,
    )
    assert p.money_request_resend == timedelta(seconds=60)


# --------------------------------------------------------------------------------------------- before shipment


def test_before_shipment_a_refund_only_is_approved_at_once_for_any_reason_and_whatever_the_rights():
    intake = assess(facts(shipped=False, delivered_days_ago=None), reason=R.NO_REASON_7D)
    assert intake == domain.Intake(10_000, approve_at_once=True, return_required=False, rules=("BEFORE_SHIPMENT",))


def test_before_delivery_there_is_nothing_to_return():
    refused("NOT_DELIVERED", facts(shipped=False, delivered_days_ago=None), T.RETURN_AND_REFUND, R.QUALITY_ISSUE)
    refused("NOT_DELIVERED", facts(shipped=True, delivered_days_ago=None), T.RETURN_AND_REFUND, R.QUALITY_ISSUE)


def test_after_shipment_a_refund_only_goes_to_review():
    intake = assess(facts(shipped=True, delivered_days_ago=None), reason=R.NOT_RECEIVED, amount=3_000)
    assert (intake.amount_fen, intake.approve_at_once, intake.return_required, intake.rules) == (
        3_000,
        False,
        False,
        (),
    )


def test_an_unpaid_order_cannot_be_refunded():
    refused("ORDER_NOT_PAID", facts(paid=0, shipped=False, delivered_days_ago=None))


def test_platform_reasons_are_not_for_buyers():
    for reason in (R.QC_FAILED, R.QC_EXPIRED, R.CANCELLED_BEFORE_SHIPMENT):
        refused("REASON_NOT_ALLOWED", facts(), reason=reason)


# --------------------------------------------------------------------------------------------- SEVEN_DAY_RETURN


@pytest.mark.parametrize("days,accepted", [(0.1, True), (6, True), (6.99, True), (7.01, False), (8, False)])
def test_no_reason_return_inside_seven_days_of_delivery_only(days, accepted):
    order = facts(rights=[TR.SEVEN_DAY_RETURN], delivered_days_ago=days)
    if accepted:
        intake = assess(order, T.RETURN_AND_REFUND, R.NO_REASON_7D)
        assert (intake.approve_at_once, intake.return_required) == (False, True)
    else:
        err = refused("WINDOW_CLOSED", order, T.RETURN_AND_REFUND, R.NO_REASON_7D)
        assert err.status == 422 and "window_ends_at" in err.details


def test_no_reason_return_needs_the_right_and_is_a_return():
    refused("RIGHT_NOT_HELD", facts(rights=[]), T.RETURN_AND_REFUND, R.NO_REASON_7D)
    refused("TYPE_NOT_ALLOWED", facts(rights=[TR.SEVEN_DAY_RETURN]), T.REFUND_ONLY, R.NO_REASON_7D)


@pytest.mark.parametrize(
    "reason,days,ok",
    [(R.QUALITY_ISSUE, 14, True), (R.QUALITY_ISSUE, 16, False), (R.COUNTERFEIT, 80, True), (R.COUNTERFEIT, 91, False)],
)
def test_other_reasons_have_their_own_windows(reason, days, ok):
    order = facts(delivered_days_ago=days)
    if ok:
        assert assess(order, T.REFUND_ONLY, reason).amount_fen == 10_000
    else:
        refused("WINDOW_CLOSED", order, T.REFUND_ONLY, reason)


def test_not_received_is_a_refund_only():
    refused("TYPE_NOT_ALLOWED", facts(), T.RETURN_AND_REFUND, R.NOT_RECEIVED)


# --------------------------------------------------------------------------------------------- amounts


def test_refundable_is_paid_minus_refunded_minus_reserved():
    assert domain.refundable_fen(10_000, 2_000, 3_000) == 5_000
    assert domain.refundable_fen(10_000, 8_000, 3_000) == 0
    assert facts(paid=10_000, refunded=1_000, reserved=4_000).refundable_fen == 5_000


def test_the_amount_defaults_to_everything_refundable_and_may_not_exceed_it():
    order = facts(paid=10_000, refunded=1_000, reserved=4_000)
    assert assess(order).amount_fen == 5_000
    assert assess(order, amount=5_000).amount_fen == 5_000
    err = refused("AMOUNT_EXCEEDS_REFUNDABLE", order, amount=5_001)
    assert err.details == {"refundable_fen": 5_000, "requested_fen": 5_001}
    refused("AMOUNT_EXCEEDS_REFUNDABLE", facts(paid=10_000, refunded=10_000))


def test_arbitration_may_lower_the_amount_or_raise_it_within_what_is_refundable():
    # 6 000 reserved by the case itself; 7 000 refundable once that reservation is released.
    assert domain.arbitrated_amount(6_000, None, 7_000) == 6_000
    assert domain.arbitrated_amount(6_000, 2_000, 7_000) == 2_000
    assert domain.arbitrated_amount(6_000, 7_000, 7_000) == 7_000
    with pytest.raises(DomainError) as err:
        domain.arbitrated_amount(6_000, 7_001, 7_000)
    assert err.value.code == "AMOUNT_EXCEEDS_REFUNDABLE"
    assert err.value.details == {"refundable_fen": 7_000, "requested_fen": 7_001}


# --------------------------------------------------------------------------------------------- FAST_REFUND


@pytest.mark.parametrize(
    "rights,amount,recent,fast",
    [
        ([TR.FAST_REFUND], 20_000, 0, True),
        ([TR.FAST_REFUND], 20_000, 2, True),
        ([TR.FAST_REFUND], 20_001, 0, False),  # over the threshold
        ([TR.FAST_REFUND], 5_000, 3, False),  # not in good standing
        ([], 5_000, 0, False),  # the shop does not offer it
    ],
)
def test_fast_refund_for_buyers_in_good_standing_under_the_threshold(rights, amount, recent, fast):
    intake = assess(facts(paid=50_000, rights=rights), T.REFUND_ONLY, R.QUALITY_ISSUE, amount, recent)
    assert intake.approve_at_once is fast
    assert ("FAST_REFUND" in intake.rules) is fast


@pytest.mark.parametrize(
    "band_rights,fast",
    [
        (None, True),  # no band known: the right alone
        (frozenset(TR), True),  # a band that allows it
        (frozenset(TR) - {TR.FAST_REFUND}, False),  # a band below it: the seller reviews
        (frozenset(), False),
    ],
)
def test_fast_refund_needs_the_shops_band_to_allow_it(band_rights, fast):
    order = dataclasses.replace(facts(paid=50_000, rights=[TR.FAST_REFUND]), band_rights=band_rights)
    intake = assess(order, T.REFUND_ONLY, R.QUALITY_ISSUE, 5_000)
    assert intake.approve_at_once is fast and ("FAST_REFUND" in intake.rules) is fast


def test_fast_refund_on_a_return_skips_review_but_still_waits_for_the_goods():
    intake = assess(facts(rights=[TR.FAST_REFUND]), T.RETURN_AND_REFUND, R.QUALITY_ISSUE, 3_000)
    assert (intake.approve_at_once, intake.return_required) == (True, True)


# --------------------------------------------------------------------------------------------- REFUND_WITHOUT_RETURN


@pytest.mark.parametrize(
    "rights,amount,return_required",
    [
        ([TR.REFUND_WITHOUT_RETURN], 5_000, False),
        ([TR.REFUND_WITHOUT_RETURN], 5_001, True),
        ([], 1_000, True),
    ],
)
def test_cheap_returns_are_refunded_without_the_goods(rights, amount, return_required):
    intake = assess(facts(rights=rights), T.RETURN_AND_REFUND, R.QUALITY_ISSUE, amount)
    assert intake.return_required is return_required
    assert intake.approve_at_once is False
    assert domain.status_after_approval(intake.return_required) is (
        domain.S.AWAITING_RETURN if return_required else domain.S.REFUNDING
    )


# --------------------------------------------------------------------------------------------- compensation


@pytest.mark.parametrize(
    "price,rights,expected",
    [
        (10_000, [TR.FAKE_ONE_PAY_TEN], 100_000),  # 假一赔十
        (3_000, [TR.FAKE_ONE_PAY_TEN], 30_000),  # ten times, no minimum needed by the agreement
        (30_000, [], 90_000),  # 退一赔三
        (10_000, [], 50_000),  # at least ¥500
        (16_667, [], 50_001),
    ],
)
def test_counterfeit_compensation(price, rights, expected):
    assert domain.counterfeit_compensation_fen(price, rights, POLICY) == expected
    decision = domain.compensation_for(K.COUNTERFEIT, price, rights, POLICY)
    assert decision == domain.CompensationDecision(K.COUNTERFEIT, expected, CompensationPayer.SHOP_DEPOSIT)


def test_return_shipping_subsidy_is_the_platforms_and_needs_the_right():
    assert domain.compensation_for(K.RETURN_SHIPPING, 10_000, [TR.RETURN_SHIPPING_SUBSIDY], POLICY) == (
        domain.CompensationDecision(K.RETURN_SHIPPING, 1_000, CompensationPayer.PLATFORM)
    )
    assert domain.compensation_for(K.RETURN_SHIPPING, 10_000, [TR.SEVEN_DAY_RETURN], POLICY) is None


def test_late_shipment_compensation_needs_fast_shipping():
    assert domain.compensation_for(K.LATE_SHIPMENT, 10_000, [TR.FAST_SHIPPING], POLICY) == (
        domain.CompensationDecision(K.LATE_SHIPMENT, 500, CompensationPayer.SHOP_DEPOSIT)
    )
    assert domain.compensation_for(K.LATE_SHIPMENT, 10_000, [], POLICY) is None


def test_compensations_are_unique_per_order_or_per_case():
    assert domain.compensation_dedupe_key(K.COUNTERFEIT, "o1", "as1") == domain.compensation_dedupe_key(
        K.COUNTERFEIT, "o1", "as2"
    )
    assert domain.compensation_dedupe_key(K.LATE_SHIPMENT, "o1", None) == "LATE_SHIPMENT:o1"
    assert domain.compensation_dedupe_key(K.RETURN_SHIPPING, "o1", "as1") != domain.compensation_dedupe_key(
        K.RETURN_SHIPPING, "o1", "as2"
    )


def test_unanswered_money_requests_back_off_up_to_the_maximum():
    assert [domain.resend_delay(n, POLICY).total_seconds() for n in (1, 2, 3, 7, 20)] == [60, 120, 240, 3600, 3600]
    assert domain.refund_id("as_1") == "rf_as_1"
