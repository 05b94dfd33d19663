"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts.orders import (
    OrderCancelled,
    OrderCompensationPaid,
    OrderCompleted,
    OrderCreated,
    OrderDelivered,
    OrderPaid,
    OrderRefunded,
    OrderRefundRejected,
    OrderShipped,
    OrderShippingLate,
)
from xinren_shared.contracts.qc import QcCaseOpened, QcExpired, QcFailed, QcPassed, QcReturnChecked
from xinren_shared.contracts.trust import TrustScoreChanged
from xinren_shared.events import Event

from .handlers import money_answers, platform_refunds, projection, trust_bands, verified_returns

EVENT_HANDLERS: dict[type[Event], Handler] = {
    # The service's own view of each order.
    OrderCreated: projection.on_order_created,
    OrderPaid: projection.on_order_paid,
    OrderShipped: projection.on_order_shipped,
    OrderDelivered: projection.on_order_delivered,
    OrderCompleted: projection.on_order_completed,
    QcCaseOpened: projection.on_qc_case_opened,  # the warehouse a certified item's return goes back to
    QcPassed: projection.on_qc_passed,  # the item's certificate
    QcReturnChecked: verified_returns.on_qc_return_checked,  # a certified item's return checked at the warehouse
    # Platform refunds and compensation (a paid order's cancellation is handled with the view).
    OrderCancelled: projection.on_order_cancelled,
    QcFailed: platform_refunds.on_qc_failed,
    QcExpired: platform_refunds.on_qc_expired,
    OrderShippingLate: platform_refunds.on_order_shipping_late,
    # The order service's answers to our money requests.
    OrderRefunded: money_answers.on_order_refunded,
    OrderRefundRejected: money_answers.on_order_refund_rejected,
    OrderCompensationPaid: money_answers.on_order_compensation_paid,
    TrustScoreChanged: trust_bands.on_score_changed,  # the shop's band: whether FAST_REFUND still applies
}
