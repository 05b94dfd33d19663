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
from xinren_shared.contracts.qc import QcExpired, QcFailed
from xinren_shared.events import Event

from . import handlers as h

EVENT_HANDLERS: dict[type[Event], Handler] = {
    # The service's own view of each order.
    OrderCreated: h.on_order_created,
    OrderPaid: h.on_order_paid,
    OrderShipped: h.on_order_shipped,
    OrderDelivered: h.on_order_delivered,
    OrderCompleted: h.on_order_completed,
    # Platform refunds and compensation.
    OrderCancelled: h.on_order_cancelled,
    QcFailed: h.on_qc_failed,
    QcExpired: h.on_qc_expired,
    OrderShippingLate: h.on_order_shipping_late,
    # The order service's answers to our money requests.
    OrderRefunded: h.on_order_refunded,
    OrderRefundRejected: h.on_order_refund_rejected,
    OrderCompensationPaid: h.on_order_compensation_paid,
}
