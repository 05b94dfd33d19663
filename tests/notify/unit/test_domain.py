"""Pure rules: the delivery state machine, the retry schedule, recipients, and which addresses are refused."""

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from xinren_notify.delivery import retry_policy
from xinren_notify.domain import (
    DELIVERY,
    DELIVERY_TRANSITIONS,
    OPEN_STATUSES,
    RECOVERABLE_STATUSES,
    Audience,
    DeliveryStatus,
    Recipient,
    RetryPolicy,
    SubscriptionState,
    after_attempt,
    forbidden_address,
    granted_shops,
    is_recovery,
    matches,
    recipient_of,
    subscription_state,
)
from xinren_notify.settings import NotifySettings
from xinren_shared.auth import Principal, Role
from xinren_shared.errors import IllegalTransition

D = DeliveryStatus
# Every move a delivery may make; the two self-moves mean "nothing changes" (a redelivery of a pending one) and
# "another failed attempt".
ALLOWED = {
    (D.PENDING, D.DELIVERED),
    (D.PENDING, D.RETRYING),
    (D.PENDING, D.DEAD),
    (D.PENDING, D.CANCELLED),
    (D.PENDING, D.PENDING),
    (D.RETRYING, D.DELIVERED),
    (D.RETRYING, D.RETRYING),
    (D.RETRYING, D.DEAD),
    (D.RETRYING, D.CANCELLED),
    (D.RETRYING, D.PENDING),
    (D.DELIVERED, D.PENDING),
    (D.DEAD, D.PENDING),
}
PAIRS = DELIVERY.pairs()


def test_the_machine_is_built_from_the_table():
    assert {(f, t) for f, targets in DELIVERY_TRANSITIONS.items() for t in targets} == ALLOWED
    assert len(PAIRS) == len(DeliveryStatus) ** 2


@pytest.mark.parametrize("current,target", PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_delivery_transition_is_allowed_or_refused_as_the_table_says(current, target):
    """require: what a worker's attempt and a cancellation use; move: what a redelivery uses."""
    assert DELIVERY.can(current, target) is ((current, target) in ALLOWED)
    if (current, target) in ALLOWED:
        assert DELIVERY.require(current, target) is target
        assert DELIVERY.move(current, target) is (current is not target)  # a self-move changes nothing
    else:
        with pytest.raises(IllegalTransition) as err:
            DELIVERY.require(current, target)
        assert err.value.details == {"current_status": current, "requested_status": target}
        assert err.value.status == 409 and err.value.code == "ILLEGAL_TRANSITION"
        if current is target:
            assert DELIVERY.move(current, target) is False  # staying put is never an error for move
        else:
            with pytest.raises(IllegalTransition):
                DELIVERY.move(current, target)


def test_the_table_is_the_one_documented():
    # Terminal: a cancelled delivery never moves; DELIVERED and DEAD only move by a manual redelivery.
    assert DELIVERY.terminal == {DeliveryStatus.CANCELLED}
    assert {t for (f, t) in ALLOWED if f in (DeliveryStatus.DELIVERED, DeliveryStatus.DEAD)} == {DeliveryStatus.PENDING}


def test_default_schedule_first_retry_within_10s_grows_to_hours_and_spans_24h():
    policy = retry_policy(NotifySettings())
    rng = random.Random(7)
    assert max(policy.delay(1, rng) for _ in range(1000)) <= 10.0
    schedule = policy.schedule()
    assert schedule[0] <= 10.0
    assert all(b >= a for a, b in itertools.pairwise(schedule[:-1]))  # the last one is cut to the window
    assert max(schedule) >= 3600  # hours
    assert sum(schedule) == 24 * 3600  # the last attempt comes as the 24 h close
    assert NotifySettings().webhook_timeout_seconds == 10.0


def test_a_failure_retries_until_the_window_is_over_then_dead():
    policy = RetryPolicy(first_retry_seconds=1, factor=2, max_backoff_seconds=4, jitter=0, window_seconds=10)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    window_ends = now + timedelta(seconds=10)
    first = after_attempt(
        DeliveryStatus.PENDING, ok=False, now=now, window_ends_at=window_ends, failures=0, policy=policy
    )
    assert (first.status, first.next_attempt_at, first.failures) == (
        DeliveryStatus.RETRYING,
        now + timedelta(seconds=1),
        1,
    )
    last = after_attempt(
        DeliveryStatus.RETRYING,
        ok=False,
        now=now + timedelta(seconds=7),
        window_ends_at=window_ends,
        failures=3,
        policy=policy,
    )
    assert (last.status, last.next_attempt_at) == (
        DeliveryStatus.RETRYING,
        window_ends,
    )  # 7 + 4 > 10: one last try at 10
    dead = after_attempt(
        DeliveryStatus.RETRYING, ok=False, now=window_ends, window_ends_at=window_ends, failures=4, policy=policy
    )
    assert dead.status is DeliveryStatus.DEAD and dead.next_attempt_at is None
    done = after_attempt(
        DeliveryStatus.RETRYING, ok=True, now=now, window_ends_at=window_ends, failures=3, policy=policy
    )
    assert done.status is DeliveryStatus.DELIVERED
    assert policy.schedule() == [1, 2, 4, 3]  # 1 + 2 + 4 = 7; the last try is at the window's end, 10


def test_back_off_is_capped():
    policy = RetryPolicy(first_retry_seconds=5, factor=4, max_backoff_seconds=60, jitter=0, window_seconds=1e9)
    assert [policy.delay(n) for n in range(1, 6)] == [5, 20, 60, 60, 60]


@pytest.mark.parametrize(
    "address,reason",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "reserved"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_only_public_addresses_are_allowed(address, reason):
    assert forbidden_address(address) == reason


@pytest.mark.parametrize(
    "principal,expected",
    [
        (Principal("u1", Role.BUYER), Recipient(Audience.BUYER, "u1")),
        (Principal("s-user", Role.SELLER, shop_id="shop1"), Recipient(Audience.SHOP, "shop1")),
        (Principal("h1", Role.HOST), Recipient(Audience.HOST, "h1")),
        (Principal("w-user", Role.WAREHOUSE, warehouse_id="wh1"), Recipient(Audience.WAREHOUSE, "wh1")),
        (Principal("i-user", Role.INSPECTOR, warehouse_id="wh1"), Recipient(Audience.WAREHOUSE, "wh1")),
        (Principal("p1", Role.PARTNER), None),
        (Principal("a1", Role.ADMIN), None),
    ],
)
def test_each_role_reads_its_own_inbox(principal, expected):
    assert recipient_of(principal) == expected


def test_event_type_matching():
    assert matches(["*"], "xinren.order.paid")
    assert matches(["xinren.order.paid"], "xinren.order.paid")
    assert not matches(["xinren.order.shipped"], "xinren.order.paid")


# ---------------------------------------------------------------------------------------------------------------
# Subscriptions: scope, state, recovery


def test_a_partner_is_granted_its_shops_and_its_older_shop_id_and_an_admin_every_shop():
    assert granted_shops(Principal("p", Role.PARTNER, shops=frozenset({"a", "b"}))) == {"a", "b"}
    assert granted_shops(Principal("p", Role.PARTNER, shop_id="c", shops=frozenset({"a"}))) == {"a", "c"}
    assert granted_shops(Principal("p", Role.PARTNER)) == frozenset()
    assert granted_shops(Principal("ops", Role.ADMIN)) is None


def test_the_state_of_a_subscription():
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert subscription_state(None, None) is SubscriptionState.HEALTHY
    assert subscription_state(at, None) is SubscriptionState.FAILING
    assert subscription_state(at, at) is SubscriptionState.DISABLED


@pytest.mark.parametrize(
    "failing_for,failures,recovered",
    [(0.5, 1, True), (60.0, 0, True), (0.5, 0, False), (5.0, 0, True)],
    ids=["a-retry-succeeds", "failing-long", "a-fresh-event-right-after-a-failure", "one-back-off-step"],
)
def test_what_counts_as_the_receiver_being_back(failing_for, failures, recovered):
    assert is_recovery(failing_for=failing_for, failures=failures, first_retry_seconds=5.0) is recovered


def test_recover_and_disable_are_transitions_the_delivery_table_allows():
    assert all(DeliveryStatus.PENDING in DELIVERY_TRANSITIONS[s] for s in RECOVERABLE_STATUSES)
    assert all(DeliveryStatus.DEAD in DELIVERY_TRANSITIONS[s] for s in OPEN_STATUSES)
