"""Pure rules of quality check: every (from, to) pair of the case state machine, routing, certificates, strikes."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from xinren_qc.domain import (
    CASE,
    OPEN,
    TRANSITIONS,
    Candidate,
    CaseStatus,
    StrikeReason,
    VerdictResult,
    dispatch_target,
    new_certificate_no,
    normalize_category,
    pick_warehouse,
    strike_reason_for_failure,
    strikes_in_window,
    verdict_status,
)
from xinren_shared.contracts.vocabulary import DispatchTarget, QcFailureReason
from xinren_shared.errors import IllegalTransition

S = CaseStatus

ALLOWED = {
    (S.AWAITING_ROUTING, S.AWAITING_INBOUND),
    (S.AWAITING_ROUTING, S.CANCELLED),
    (S.AWAITING_INBOUND, S.IN_TRANSIT),
    (S.AWAITING_INBOUND, S.IN_INSPECTION),
    (S.AWAITING_INBOUND, S.EXPIRED),
    (S.AWAITING_INBOUND, S.CANCELLED),
    (S.IN_TRANSIT, S.IN_INSPECTION),
    (S.IN_TRANSIT, S.EXPIRED),
    (S.IN_TRANSIT, S.CANCELLED),
    (S.IN_INSPECTION, S.PASSED),
    (S.IN_INSPECTION, S.FAILED),
    (S.PASSED, S.DISPATCHED),
    (S.FAILED, S.DISPATCHED),
    # The seller appeals a failure; another inspector's review passes or fails it for good.
    (S.FAILED, S.APPEALED),
    (S.APPEALED, S.PASSED),
    (S.APPEALED, S.FAILED),
}
PAIRS = CASE.pairs()


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_pair(current, target):
    # Every move a handler makes goes through require: a repeat of the current status is a 409 too (handlers
    # answer their own repeated requests before they move the case).
    assert CASE.can(current, target) is ((current, target) in ALLOWED)
    if (current, target) in ALLOWED:
        assert CASE.require(current, target) is target
        assert CASE.move(current, target) is True
    else:
        with pytest.raises(IllegalTransition) as err:
            CASE.require(current, target)
        assert err.value.status == 409
        assert err.value.details == {"current_status": current, "requested_status": target}


def test_the_table_is_the_specification_above():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED
    assert set(TRANSITIONS) == set(CaseStatus)
    assert CASE.terminal == {S.DISPATCHED, S.EXPIRED, S.CANCELLED}
    # The deadline runs exactly while the item is awaited; cancellation only before arrival.
    assert {a for a in CaseStatus if CASE.can(a, S.EXPIRED)} == {S.AWAITING_INBOUND, S.IN_TRANSIT}
    assert {a for a in CaseStatus if CASE.can(a, S.CANCELLED)} == {S.AWAITING_ROUTING, S.AWAITING_INBOUND, S.IN_TRANSIT}
    # A warehouse's load: every case routed to it that has not left it or ended.
    assert OPEN == set(CaseStatus) - CASE.terminal - {S.AWAITING_ROUTING}


def test_no_item_reaches_a_buyer_without_a_pass():
    assert dispatch_target(S.PASSED) is DispatchTarget.BUYER
    assert dispatch_target(S.FAILED) is DispatchTarget.SELLER
    for status in set(CaseStatus) - {S.PASSED, S.FAILED}:
        with pytest.raises(IllegalTransition):
            dispatch_target(status)
    assert verdict_status(VerdictResult.PASSED) is S.PASSED
    assert verdict_status(VerdictResult.FAILED) is S.FAILED


def test_routing_picks_the_hint_else_the_least_loaded_then_the_smallest_id():
    pool = [Candidate("wh_b", 2), Candidate("wh_c", 1), Candidate("wh_a", 1)]
    assert pick_warehouse(pool) == "wh_a"
    assert pick_warehouse(reversed(pool)) == "wh_a"  # deterministic whatever the order
    assert pick_warehouse(pool, hint="wh_b") == "wh_b"
    assert pick_warehouse(pool, hint="wh_elsewhere") == "wh_a"  # a hint that does not inspect the category is ignored
    assert pick_warehouse([]) is None
    assert normalize_category("  Jade ") == "jade"


def test_certificate_numbers_are_long_random_and_distinct():
    numbers = {new_certificate_no() for _ in range(2000)}
    assert len(numbers) == 2000
    assert all(re.fullmatch(r"XR-[A-Z2-7]{24}", n) for n in numbers)


def test_only_counterfeits_strike_among_failures():
    assert strike_reason_for_failure(QcFailureReason.COUNTERFEIT) is StrikeReason.COUNTERFEIT
    assert strike_reason_for_failure(None) is None
    assert strike_reason_for_failure(QcFailureReason.DAMAGED) is None
    assert strike_reason_for_failure(QcFailureReason.NOT_AS_DESCRIBED) is None


def test_strikes_count_within_the_window():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    window = timedelta(days=90)
    struck = [now - timedelta(days=91), now - timedelta(days=89), now - timedelta(days=1), now]
    assert strikes_in_window(struck, now, window) == 3
    assert strikes_in_window([now + timedelta(seconds=1)], now, window) == 0
