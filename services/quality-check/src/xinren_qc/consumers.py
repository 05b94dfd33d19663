"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts.orders import OrderCancelled, OrderPaid, OrderShipped
from xinren_shared.events import Event

from .handlers import inspection

EVENT_HANDLERS: dict[type[Event], Handler] = {
    OrderPaid: inspection.on_order_paid,
    OrderShipped: inspection.on_order_shipped,
    OrderCancelled: inspection.on_order_cancelled,
}
