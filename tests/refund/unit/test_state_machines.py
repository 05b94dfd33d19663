"""Every (from, to) pair of the after-sale case and compensation state machines."""

import itertools

import pytest

from xinren_refund import domain
from xinren_refund.domain import CaseStatus, CompensationStatus
from xinren_shared.errors import IllegalTransition

S = CaseStatus

# Written out here on purpose, apart from the implementation's table: a change to the machine must change this too.
ALLOWED_CASE = {
    (S.REQUESTED, S.APPROVED),
    (S.REQUESTED, S.REJECTED),
    (S.REQUESTED, S.CANCELLED),
    (S.REQUESTED, S.CLOSED),
    (S.REQUESTED, S.ARBITRATION),  # a counterfeit claim on a certified item: the platform's case at once
    (S.APPROVED, S.AWAITING_RETURN),
    (S.APPROVED, S.REFUNDING),
    (S.AWAITING_RETURN, S.RETURN_SHIPPED),
    (S.AWAITING_RETURN, S.CANCELLED),
    (S.AWAITING_RETURN, S.CLOSED),
    (S.RETURN_SHIPPED, S.RETURN_RECEIVED),
    (S.RETURN_SHIPPED, S.ARBITRATION),  # the warehouse found the seal broken on a certified return
    (S.RETURN_RECEIVED, S.REFUNDING),
    (S.REFUNDING, S.REFUNDED),
    (S.REFUNDING, S.CLOSED),
    (S.REJECTED, S.ARBITRATION),
    (S.REJECTED, S.CLOSED),
    (S.REJECTED, S.CANCELLED),
    (S.ARBITRATION, S.APPROVED),
    (S.ARBITRATION, S.CLOSED),
    (S.ARBITRATION, S.CANCELLED),
    # Negotiation: a counter-offer, a request for more evidence.
    (S.REQUESTED, S.OFFERED),
    (S.REQUESTED, S.AWAITING_EVIDENCE),
    (S.OFFERED, S.APPROVED),  # accepted
    (S.OFFERED, S.REJECTED),  # declined: no agreement, the buyer may escalate
    (S.OFFERED, S.CANCELLED),
    (S.OFFERED, S.CLOSED),  # not answered in time, or superseded
    (S.AWAITING_EVIDENCE, S.REQUESTED),  # evidence given: reviewed anew
    (S.AWAITING_EVIDENCE, S.CANCELLED),
    (S.AWAITING_EVIDENCE, S.CLOSED),
    # Exchange and reship.
    (S.APPROVED, S.AWAITING_REPLACEMENT),  # reship
    (S.RETURN_RECEIVED, S.AWAITING_REPLACEMENT),  # exchange
    (S.AWAITING_REPLACEMENT, S.REPLACEMENT_SHIPPED),
    (S.AWAITING_REPLACEMENT, S.ARBITRATION),  # not shipped in time
    (S.REPLACEMENT_SHIPPED, S.COMPLETED),
    # A QC product's replacement goes through the quality-check warehouse (先验后发).
    (S.AWAITING_REPLACEMENT, S.REPLACEMENT_INSPECTING),  # the seller shipped it to the warehouse
    (S.REPLACEMENT_INSPECTING, S.REPLACEMENT_SHIPPED),  # passed, shipped on to the buyer
    (S.REPLACEMENT_INSPECTING, S.AWAITING_REPLACEMENT),  # failed: back to the seller, who ships another
    (S.REPLACEMENT_INSPECTING, S.ARBITRATION),  # not at the warehouse in time
}


@pytest.mark.parametrize("current,target", domain.CASES.pairs(), ids=lambda s: str(s))
def test_every_case_transition_pair(current, target):
    if current is target:
        assert domain.CASES.move(current, target) is False  # entering the state it is in: a no-op
        assert not domain.CASES.can(current, target)
    elif (current, target) in ALLOWED_CASE:
        assert domain.CASES.move(current, target) is True
        assert domain.CASES.can(current.value, target.value)
    else:
        assert not domain.CASES.can(current, target)
        with pytest.raises(IllegalTransition) as err:
            domain.CASES.move(current, target)
        assert err.value.status == 409
        assert err.value.details == {"current_status": current, "requested_status": target}


def test_the_pairs_cover_every_status_twice_over():
    assert set(domain.CASES.pairs()) == set(itertools.product(CaseStatus, CaseStatus))
    assert set(domain.COMPENSATIONS.pairs()) == set(itertools.product(CompensationStatus, CompensationStatus))


def test_the_machine_has_exactly_the_documented_pairs():
    actual = {(a, b) for a, targets in domain.TRANSITIONS.items() for b in targets}
    assert actual == ALLOWED_CASE
    assert set(domain.TRANSITIONS) == set(CaseStatus)


def test_terminal_reserving_and_cancellable_sets():
    assert domain.TERMINAL == domain.CASES.terminal == {S.REFUNDED, S.CLOSED, S.CANCELLED, S.COMPLETED}
    assert domain.RESERVING == set(CaseStatus) - domain.TERMINAL
    assert domain.CANCELLABLE == {
        S.REQUESTED,
        S.AWAITING_RETURN,
        S.REJECTED,
        S.ARBITRATION,
        S.OFFERED,
        S.AWAITING_EVIDENCE,
    }
    # Nothing in motion: neither goods on the way back nor money requested.
    assert not domain.SUPERSEDABLE & {S.RETURN_SHIPPED, S.RETURN_RECEIVED, S.REFUNDING, S.APPROVED}


ALLOWED_COMPENSATION = {(CompensationStatus.GRANTED, CompensationStatus.PAID)}


@pytest.mark.parametrize("current,target", domain.COMPENSATIONS.pairs(), ids=lambda s: str(s))
def test_every_compensation_transition_pair(current, target):
    if current is target:
        assert domain.COMPENSATIONS.move(current, target) is False
    elif (current, target) in ALLOWED_COMPENSATION:
        assert domain.COMPENSATIONS.move(current, target) is True
        assert domain.COMPENSATIONS.can(current, target)
    else:
        with pytest.raises(IllegalTransition) as err:
            domain.COMPENSATIONS.move(current, target)
        assert err.value.details == {"current_status": current, "requested_status": target}


def test_the_compensation_machine_has_exactly_the_documented_pairs():
    actual = {(a, b) for a, targets in domain.COMPENSATION_TRANSITIONS.items() for b in targets}
    assert actual == ALLOWED_COMPENSATION
    assert domain.COMPENSATIONS.terminal == {CompensationStatus.PAID}
