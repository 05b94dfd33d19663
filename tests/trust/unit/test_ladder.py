"""The ladder as data: every step of every default ladder, beyond the top, between steps; the action and appeal
state machines for every pair; the standing from the actions that hold."""

import pytest

from xinren_shared.contracts.trust import ActionKind as K
from xinren_shared.contracts.trust import ShopStanding, Violation
from xinren_trust import domain
from xinren_trust.domain import ACTION, APPEAL, LadderSetting, StepSetting
from xinren_trust.settings import TrustSettings

SETTINGS = TrustSettings()


@pytest.mark.parametrize(
    "violation,expected",
    [
        (Violation.COUNTERFEIT, [K.WARNING, K.FINE, K.SUSPENSION, K.SUSPENSION, K.CLOSURE, K.CLOSURE]),
        (Violation.FALSE_PROMISE, [K.WARNING, None, K.FINE, None, K.TRAFFIC_LIMIT, None, None, K.SUSPENSION]),
        (
            Violation.QC_EXPIRED,
            [K.WARNING, None, K.FINE, None, K.TRAFFIC_LIMIT, None, None, K.SUSPENSION, K.SUSPENSION],
        ),
        (Violation.ARBITRATION_LOST, [None, K.WARNING, None, K.FINE, None, K.TRAFFIC_LIMIT]),
    ],
)
def test_every_step_of_the_shop_ladders(violation, expected):
    ladder = SETTINGS.shop_ladders[violation]
    got = [(s.action if (s := domain.action_for(ladder, n)) else None) for n in range(1, len(expected) + 1)]
    assert got == expected


def test_fines_carry_their_amount_and_hosts_are_never_fined():
    fine = domain.action_for(SETTINGS.shop_ladders[Violation.COUNTERFEIT], 2)
    assert fine is not None and fine.fine_fen == 200_000
    for ladder in SETTINGS.host_ladders.values():
        assert all(s.action is not K.FINE for s in ladder.steps)


def test_a_ladder_needs_increasing_steps():
    with pytest.raises(ValueError):
        LadderSetting(window_seconds=60, steps=[StepSetting(at=2, action=K.WARNING), StepSetting(at=1, action=K.FINE)])
    with pytest.raises(ValueError):
        LadderSetting(window_seconds=60, steps=[])


@pytest.mark.parametrize("current,target", [(a, b) for a in domain.ActionStatus for b in domain.ActionStatus])
def test_action_transitions(current, target):
    allowed = {
        ("ACTIVE", "APPEALED"), ("ACTIVE", "LIFTED"), ("APPEALED", "UPHELD"), ("APPEALED", "OVERTURNED"),
        ("APPEALED", "LIFTED"), ("UPHELD", "LIFTED"), ("LIFTED", "OVERTURNED"),
    }  # fmt: skip
    assert ACTION.can(current, target) == ((current.value, target.value) in allowed)


@pytest.mark.parametrize("current,target", [(a, b) for a in domain.AppealStatus for b in domain.AppealStatus])
def test_appeal_transitions(current, target):
    allowed = {("PENDING", "UPHELD"), ("PENDING", "OVERTURNED")}
    assert APPEAL.can(current, target) == ((current.value, target.value) in allowed)


@pytest.mark.parametrize(
    "holding,standing",
    [
        ([], ShopStanding.ACTIVE),
        ([K.SUSPENSION], ShopStanding.SUSPENDED),
        ([K.SUSPENSION, K.CLOSURE], ShopStanding.CLOSED),
        ([K.CLOSURE], ShopStanding.CLOSED),
    ],
)
def test_standing_from_the_actions_that_hold(holding, standing):
    assert domain.standing_after(holding) == standing
