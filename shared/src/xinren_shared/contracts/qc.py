"""Events of `xinren.qc.v1`, published by the quality-check service; key = order_id (shop_id for suspensions)."""

from datetime import datetime

from ..events import Event, event
from .vocabulary import DispatchTarget, QcFailureReason

TOPIC = "xinren.qc.v1"


class QcEvent(Event):
    order_id: str
    case_id: str
    shop_id: str | None = None
    buyer_id: str | None = None
    warehouse_id: str | None = None


@event("xinren.qc.case_opened", TOPIC)
class QcCaseOpened(QcEvent):
    warehouse_id: str
    warehouse_address: str
    inbound_deadline: datetime


@event("xinren.qc.item_received", TOPIC)
class QcItemReceived(QcEvent):
    pass


@event("xinren.qc.passed", TOPIC)
class QcPassed(QcEvent):
    certificate_no: str
    inspector_id: str | None = None


@event("xinren.qc.certificate_revoked", TOPIC)
class QcCertificateRevoked(QcEvent):
    """A certified item was found counterfeit after all: the certificate no longer vouches for it, and the error is
    the warehouse's and its inspector's (never a strike on the shop)."""

    certificate_no: str
    aftersale_case_id: str
    inspector_id: str | None = None
    reason: str


@event("xinren.qc.failed", TOPIC)
class QcFailed(QcEvent):
    reason: QcFailureReason
    findings: str


@event("xinren.qc.dispatched", TOPIC)
class QcDispatched(QcEvent):
    to: DispatchTarget
    carrier: str
    tracking_no: str


@event("xinren.qc.expired", TOPIC)
class QcExpired(QcEvent):
    pass


@event("xinren.qc.shop_suspended", TOPIC)
class QcShopSuspended(Event):
    shop_id: str
    strikes: int

    def partition_key(self) -> str:
        return self.shop_id

    def subject(self) -> str | None:
        return self.shop_id
