"""Pure rules of the notify service: who is addressed, the webhook delivery state machine, the retry schedule,
and which addresses a webhook may reach. No I/O here."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from xinren_shared.auth import Principal, Role
from xinren_shared.statemachine import StateMachine

# ---------------------------------------------------------------------------------------------------------------
# Recipients


class Audience(StrEnum):
    """Who a notification is addressed to. SHOP reaches every seller of the shop, WAREHOUSE its staff and
    inspectors."""

    BUYER = "buyer"
    SHOP = "shop"
    HOST = "host"
    WAREHOUSE = "warehouse"


@dataclass(frozen=True, order=True)
class Recipient:
    audience: Audience
    id: str

    @property
    def key(self) -> str:
        """The LISTEN/NOTIFY payload and the stream's address: e.g. "shop:shop_jade_lin"."""
        return f"{self.audience}:{self.id}"


@dataclass(frozen=True)
class Parties:
    """The people an event names itself; those it lacks come from the order view (handlers/inbox.py, in the event's
    one statement)."""

    buyer_id: str | None = None
    shop_id: str | None = None
    host_id: str | None = None
    warehouse_id: str | None = None


_ROLE_AUDIENCE = {
    Role.BUYER: Audience.BUYER,
    Role.SELLER: Audience.SHOP,
    Role.HOST: Audience.HOST,
    Role.WAREHOUSE: Audience.WAREHOUSE,
    Role.INSPECTOR: Audience.WAREHOUSE,
}
INBOX_ROLES = tuple(_ROLE_AUDIENCE)


def recipient_of(principal: Principal) -> Recipient | None:
    """The inbox a token reads: its own (buyer, host), its shop's (seller), its warehouse's (staff, inspector).
    Partners and admins have no inbox."""
    audience = _ROLE_AUDIENCE.get(principal.role)
    if audience is None:
        return None
    if audience is Audience.SHOP:
        return Recipient(audience, principal.shop_id) if principal.shop_id else None
    if audience is Audience.WAREHOUSE:
        return Recipient(audience, principal.warehouse_id) if principal.warehouse_id else None
    return Recipient(audience, principal.sub)


# ---------------------------------------------------------------------------------------------------------------
# Webhook deliveries


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first attempt (or a manual redelivery), or for an earlier event
    RETRYING = "RETRYING"  # failed at least once; next_attempt_at says when it goes again
    DELIVERED = "DELIVERED"  # the receiver answered 2xx
    DEAD = "DEAD"  # the retry window ran out; only a manual redelivery sends it again
    CANCELLED = "CANCELLED"  # the subscription was deleted before it went out


D = DeliveryStatus
DELIVERY_TRANSITIONS: dict[DeliveryStatus, frozenset[DeliveryStatus]] = {
    # PENDING -> PENDING: a redelivery of what is about to go anyway; nothing changes.
    D.PENDING: frozenset({D.DELIVERED, D.RETRYING, D.DEAD, D.CANCELLED, D.PENDING}),
    # RETRYING -> RETRYING: another failed attempt; RETRYING -> PENDING: a manual redelivery, with a fresh window.
    D.RETRYING: frozenset({D.DELIVERED, D.RETRYING, D.DEAD, D.CANCELLED, D.PENDING}),
    D.DELIVERED: frozenset({D.PENDING}),  # only a manual redelivery moves a delivered or dead one
    D.DEAD: frozenset({D.PENDING}),
    D.CANCELLED: frozenset(),
}
DELIVERY = StateMachine("webhook delivery", DeliveryStatus, DELIVERY_TRANSITIONS)
OPEN_STATUSES = (D.PENDING, D.RETRYING)
# What a partner's recover sends again: failed (waiting on back-off) and dead deliveries.
RECOVERABLE_STATUSES = (D.RETRYING, D.DEAD)


@dataclass(frozen=True)
class RetryPolicy:
    first_retry_seconds: float
    factor: float
    max_backoff_seconds: float
    jitter: float
    window_seconds: float

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the `failures`-th consecutive failure (1-based)."""
        base = min(self.max_backoff_seconds, self.first_retry_seconds * self.factor ** max(0, failures - 1))
        if self.jitter <= 0:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + spread))

    def schedule(self) -> list[float]:
        """The delays (without jitter) between attempts until the window closes: for docs and tests."""
        delays, elapsed, n = [], 0.0, 1
        while elapsed < self.window_seconds:
            base = min(self.max_backoff_seconds, self.first_retry_seconds * self.factor ** (n - 1))
            step = min(base, self.window_seconds - elapsed)  # the last attempt comes as the window closes
            delays.append(step)
            elapsed += step
            n += 1
        return delays


@dataclass(frozen=True)
class AttemptOutcome:
    status: DeliveryStatus
    next_attempt_at: datetime | None
    failures: int


def after_attempt(
    current: DeliveryStatus,
    *,
    ok: bool,
    now: datetime,
    window_ends_at: datetime,
    failures: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
) -> AttemptOutcome:
    """What an attempt leads to: DELIVERED on 2xx; otherwise RETRYING at the next back-off step, the last one
    moved to the end of the retry window; a failure at or after the window's end is DEAD."""
    if ok:
        return AttemptOutcome(DELIVERY.require(current, D.DELIVERED), None, failures)
    failures += 1
    if now >= window_ends_at:
        return AttemptOutcome(DELIVERY.require(current, D.DEAD), None, failures)
    next_at = min(window_ends_at, now + timedelta(seconds=policy.delay(failures, rng)))
    return AttemptOutcome(DELIVERY.require(current, D.RETRYING), next_at, failures)


# ---------------------------------------------------------------------------------------------------------------
# Subscriptions: scope and health


class SubscriptionState(StrEnum):
    HEALTHY = "HEALTHY"  # the last attempt succeeded (or none failed yet)
    FAILING = "FAILING"  # attempts fail since `failing_since`; probes look for the receiver's return
    DISABLED = "DISABLED"  # failing for the whole retry window: nothing is attempted until the partner recovers it


def subscription_state(failing_since: datetime | None, disabled_at: datetime | None) -> SubscriptionState:
    if disabled_at is not None:
        return SubscriptionState.DISABLED
    return SubscriptionState.HEALTHY if failing_since is None else SubscriptionState.FAILING


def granted_shops(principal: Principal) -> frozenset[str] | None:
    """The shops whose events a subscription of this principal may receive; None: every shop (an admin). A partner
    is granted its `shops` claim and the older single `shop_id` claim."""
    if principal.is_admin:
        return None
    return principal.shops | ({principal.shop_id} if principal.shop_id else frozenset())


def is_recovery(*, failing_for: float, failures: int, first_retry_seconds: float) -> bool:
    """Does a success on a FAILING subscription show the receiver is back? Yes when the delivery that succeeded had
    failed before (a retry or a probe), or the subscription failed for longer than the first back-off step. A fresh
    delivery succeeding right after another one failed shows nothing: that failure may be the event's own (its
    receiver refusing it), which must go on with its back-off rather than be retried at every success."""
    return failures > 0 or failing_for >= first_retry_seconds


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def matches(event_types: list[str], type_: str) -> bool:
    return "*" in event_types or type_ in event_types


# ---------------------------------------------------------------------------------------------------------------
# Where a webhook may go


def forbidden_address(address: str) -> str | None:
    """Why a webhook must not be sent to this IP address, or None when it is a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or ip.is_reserved:
        return "reserved"
    if ip.is_private or not ip.is_global:
        return "private"
    return None
