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
    # The after-sales case the event is about. On case_opened, item_received, passed, failed, dispatched and expired:
    # set when the inspection is of an exchange's or reship's replacement (换货/补寄 of a QC product, a case of its
    # own), not of the order's item; the order's status does not follow those. On return_checked and
    # certificate_revoked: the case of the return, or of the upheld claim.
    aftersale_case_id: str | None = None


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
    seal_id: str | None = None  # the tamper-evident tag attached to the item
    # Set when the pass is a review's: the seller appealed a failure and another inspector passed the item.
    reviewed_by: str | None = None


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
    """The FINAL failure: published once the seller's appeal window passed, or a review upheld the failure (a
    failure under appeal publishes nothing until then). Strikes count these, never a first verdict."""

    reason: QcFailureReason
    findings: str
    inspector_id: str | None = None  # who gave the final verdict
    # Set when a review upheld the failure (then equal to inspector_id; the first verdict stays in the QC case).
    reviewed_by: str | None = None
    # What order.paid told of the item, so that a consumer that has not (yet) seen the order's own events can still
    # charge the failure to the live room's host who sold it (None: no host) and count it against its products.
    host_id: str | None = None
    sku_ids: list[str] = []


@event("xinren.qc.dispatched", TOPIC)
class QcDispatched(QcEvent):
    to: DispatchTarget
    carrier: str
    tracking_no: str


@event("xinren.qc.return_checked", TOPIC)
class QcReturnChecked(QcEvent):
    """A certified item came back through the warehouse on an after-sales return and was checked against its
    certificate: VERIFIED (seal intact, measurements as certified: the refund may be released), SEAL_BROKEN (the
    tag is missing, broken or not the certificate's: evidence for the seller, the platform decides) or MISMATCH
    (the item does not measure as certified: the platform decides)."""

    aftersale_case_id: str
    certificate_no: str
    outcome: str
    seal_intact: bool
    mismatches: list[str] = []
    findings: str = ""


@event("xinren.qc.expired", TOPIC)
class QcExpired(QcEvent):
    pass


@event("xinren.qc.shop_suspended", TOPIC)
class QcShopSuspended(Event):
    """No longer published (kept so old records parse): the shop's standing comes from xinren.trust.v1."""

    shop_id: str
    strikes: int

    def partition_key(self) -> str:
        return self.shop_id

    def subject(self) -> str | None:
        return self.shop_id
