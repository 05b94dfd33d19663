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
from xinren_shared.contracts.qc import (
    QcCaseOpened,
    QcDispatched,
    QcExpired,
    QcFailed,
    QcItemReceived,
    QcPassed,
    QcReturnChecked,
)
from xinren_shared.contracts.trust import TrustScoreChanged
from xinren_shared.events import Event

from .handlers import money_answers, platform_refunds, projection, trust_bands, verified_returns
from .handlers import replacement_inspection as replacement
from .handlers.replacement_inspection import by_item

EVENT_HANDLERS: dict[type[Event], Handler] = {
    # The service's own view of each order.
    OrderCreated: projection.on_order_created,
    OrderPaid: projection.on_order_paid,
    OrderShipped: projection.on_order_shipped,
    OrderDelivered: projection.on_order_delivered,
    OrderCompleted: projection.on_order_completed,
    # xinren.qc.v1: by_item sends the events of a replacement's inspection (they name its after-sales case) to
    # handlers/replacement_inspection.py, those of the order's own item to the handler on its left.
    QcCaseOpened: by_item(projection.on_qc_case_opened, replacement.on_opened),  # where a certified return goes
    QcItemReceived: by_item(None, replacement.on_received),
    QcPassed: by_item(projection.on_qc_passed, replacement.on_passed),  # the item's certificate
    QcDispatched: by_item(None, replacement.on_dispatched),  # a passed replacement on its way to the buyer
    QcReturnChecked: verified_returns.on_qc_return_checked,  # a certified item's return checked at the warehouse
    # Platform refunds and compensation (a paid order's cancellation is handled with the view); a failed or late
    # replacement moves its case instead.
    OrderCancelled: projection.on_order_cancelled,
    QcFailed: by_item(platform_refunds.on_qc_failed, replacement.on_failed),
    QcExpired: by_item(platform_refunds.on_qc_expired, replacement.on_expired),
    OrderShippingLate: platform_refunds.on_order_shipping_late,
    # The order service's answers to our money requests.
    OrderRefunded: money_answers.on_order_refunded,
    OrderRefundRejected: money_answers.on_order_refund_rejected,
    OrderCompensationPaid: money_answers.on_order_compensation_paid,
    TrustScoreChanged: trust_bands.on_score_changed,  # the shop's band: whether FAST_REFUND still applies
}
