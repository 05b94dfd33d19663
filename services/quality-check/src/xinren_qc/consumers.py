"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts.orders import OrderCancelled, OrderPaid, OrderShipped
from xinren_shared.events import Event

from . import handlers

EVENT_HANDLERS: dict[type[Event], Handler] = {
    OrderPaid: handlers.on_order_paid,
    OrderShipped: handlers.on_order_shipped,
    OrderCancelled: handlers.on_order_cancelled,
}
