"""Events of `xinren.trust.v1`, published by the trust service; key = the subject's id (the shop, host or sku)."""

from enum import StrEnum

from ..events import Event, event
from .vocabulary import TrustRight

TOPIC = "xinren.trust.v1"


class TrustSubject(StrEnum):
    SHOP = "SHOP"
    HOST = "HOST"
    PRODUCT = "PRODUCT"


class ActionKind(StrEnum):
    """The steps of the graded 匹诺曹 ladder, mildest first."""

    WARNING = "WARNING"
    FINE = "FINE"
    TRAFFIC_LIMIT = "TRAFFIC_LIMIT"
    SUSPENSION = "SUSPENSION"
    CLOSURE = "CLOSURE"


class Violation(StrEnum):
    COUNTERFEIT = "COUNTERFEIT"  # the quality check found the item counterfeit
    FALSE_PROMISE = "FALSE_PROMISE"  # a promise broken, e.g. a missed FAST_SHIPPING
    QC_EXPIRED = "QC_EXPIRED"  # the item never reached the quality-check warehouse in time
    ARBITRATION_LOST = "ARBITRATION_LOST"  # the platform refunded a case the seller had rejected


class ShopStanding(StrEnum):
    """Whether a shop may trade: the order service follows this, as every trust event about a shop carries it."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    CLOSED = "CLOSED"  # permanent


class TrustEvent(Event):
    subject_kind: TrustSubject
    subject_id: str
    # The parties concerned, so consumers (notify, partners) can address them without state.
    shop_id: str | None = None
    host_id: str | None = None

    def partition_key(self) -> str:
        return self.subject_id

    def subject(self) -> str | None:
        return self.subject_id


@event("xinren.trust.score_changed", TOPIC)
class TrustScoreChanged(TrustEvent):
    """A score crossed into another band. For shops, `rights` are the trust-card rights the band allows (a shop
    keeps using only those it holds and the band allows, e.g. FAST_REFUND only in the top band)."""

    score: float
    band: str
    previous_band: str | None = None
    previous_score: float | None = None
    rights: list[TrustRight] = []


@event("xinren.trust.action_taken", TOPIC)
class TrustActionTaken(TrustEvent):
    """An enforcement step. A FINE asks the order service to charge `fine_fen` from the shop's deposit to the
    platform, once per `action_id`. `shop_status` is the shop's standing after the action (shop subjects)."""

    action_id: str
    kind: ActionKind
    violation: Violation
    step: int  # the violation's count within its window that reached this step
    fine_fen: int = 0
    order_id: str | None = None
    shop_status: ShopStanding | None = None
    reason: str


@event("xinren.trust.action_reversed", TOPIC)
class TrustActionReversed(TrustEvent):
    """An appeal overturned an action: a fine is given back (once per `action_id`), a suspension or closure lifted
    unless another one still holds (`shop_status` says which)."""

    action_id: str
    kind: ActionKind
    violation: Violation
    fine_fen: int = 0
    appeal_id: str
    shop_status: ShopStanding | None = None
    reason: str


@event("xinren.trust.shop_reinstated", TOPIC)
class TrustShopReinstated(TrustEvent):
    """The platform reinstated a suspended shop after review; its history stays and counts on the ladder."""

    action_id: str
    shop_status: ShopStanding
    by: str


@event("xinren.trust.appeal_decided", TOPIC)
class TrustAppealDecided(TrustEvent):
    """An admin decided an appeal: UPHOLD keeps the action, OVERTURN reverses it (trust.action_reversed)."""

    appeal_id: str
    action_id: str
    decision: str
    reason: str
