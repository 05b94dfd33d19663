"""Pure rules of host commission: a cooperation's life, which cooperation covers each ordered sku, and how much of
its commission the platform and the host give back when money is refunded after the release. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from xinren_shared.statemachine import StateMachine

from .domain import BPS


class CooperationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ENDED = "ENDED"


# Ending is final: a new rate is a new cooperation.
COOPERATION = StateMachine(
    "cooperation",
    CooperationStatus,
    {CooperationStatus.ACTIVE: {CooperationStatus.ENDED}, CooperationStatus.ENDED: set()},
)


def max_host_bps(platform_rates: dict[str, int]) -> int:
    """The highest host rate a cooperation may have: platform and host together never take more than the whole."""
    return BPS - max(platform_rates.values(), default=0)


@dataclass(frozen=True)
class Terms:
    """A cooperation as the rules need it: its rate and the skus it covers (None: the whole shop)."""

    cooperation_id: str
    commission_bps: int
    sku_ids: frozenset[str] | None

    @property
    def shop_wide(self) -> bool:
        return self.sku_ids is None


def covering(cooperations: Iterable[Terms], skus: Sequence[str]) -> dict[str, Terms]:
    """The cooperation that covers each sku: one naming the sku wins over a shop-wide one. A sku no active
    cooperation covers is missing from the answer."""
    shop_wide: Terms | None = None
    per_sku: dict[str, Terms] = {}
    for terms in cooperations:
        if terms.sku_ids is None:
            shop_wide = shop_wide or terms
        else:
            for sku in terms.sku_ids:
                per_sku.setdefault(sku, terms)
    chosen = {sku: per_sku.get(sku) or shop_wide for sku in skus}
    return {sku: terms for sku, terms in chosen.items() if terms is not None}


def overlaps(new_skus: frozenset[str] | None, active: Iterable[Terms]) -> Terms | None:
    """An active cooperation of the same host and shop the new one would compete with: two shop-wide ones, or two
    naming a common sku (a per-sku one next to a shop-wide one is the point: it wins for its skus)."""
    for terms in active:
        if new_skus is None and terms.sku_ids is None:
            return terms
        if new_skus is not None and terms.sku_ids is not None and new_skus & terms.sku_ids:
            return terms
    return None


def order_rate_bps(lines: Sequence[tuple[int, int]]) -> int:
    """The order's host rate from its lines' (subtotal, rate): the one rate when they share it, else the rate of the
    whole rounded down (the release applies each line's own rate)."""
    rates = {bps for _, bps in lines}
    if len(rates) <= 1:
        return next(iter(rates), 0)
    total = sum(subtotal for subtotal, _ in lines)
    return sum(subtotal * bps for subtotal, bps in lines) // total if total else 0


@dataclass(frozen=True)
class ReleasedShares:
    """What an order's release paid (the escrow released, the platform's and the host's commission), what its
    refunds took back from the platform and the host so far, and how much was refunded after the release."""

    released_fen: int = 0
    platform_fen: int = 0
    host_fen: int = 0
    platform_clawed_fen: int = 0
    host_clawed_fen: int = 0
    refunded_after_release_fen: int = 0


def clawback(shares: ReleasedShares, amount_fen: int) -> tuple[int, int]:
    """(platform, host) to take back for a refund of `amount_fen` of released money. Cumulative, so that several
    partial refunds take back what one refund of their sum would: once a total `r` of the released `R` is refunded,
    the platform has given back floor(r * P / R) and the two together floor(r * (P + H) / R), the host the rest of
    that; so one refund never takes back more than its amount, the rounding remainder stays on the seller's part,
    and a refund in full takes back exactly the commission the order paid, never more."""
    released = shares.released_fen
    if released <= 0 or amount_fen <= 0:
        return 0, 0
    refunded = min(released, shares.refunded_after_release_fen + amount_fen)
    platform_total = refunded * shares.platform_fen // released
    both_total = refunded * (shares.platform_fen + shares.host_fen) // released
    host_total = max(shares.host_clawed_fen, min(shares.host_fen, both_total - platform_total))
    return max(0, platform_total - shares.platform_clawed_fen), host_total - shares.host_clawed_fen
