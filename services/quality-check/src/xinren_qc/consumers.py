"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts.aftersales import (
    AfterSaleCounterfeitUpheld,
    AfterSaleMessagePosted,
    AfterSaleReplacementShipped,
    AfterSaleReturnShipped,
)
from xinren_shared.contracts.orders import OrderCancelled, OrderPaid, OrderShipmentCorrected, OrderShipped
from xinren_shared.events import Event

from .handlers import evidence, inspection, liability, replacements, returns

# The consumer subscribes to the topics of these types: xinren.orders.v1 and xinren.aftersales.v1.
EVENT_HANDLERS: dict[type[Event], Handler] = {
    OrderPaid: inspection.on_order_paid,
    OrderShipped: inspection.on_order_shipped,
    OrderShipmentCorrected: inspection.on_order_shipment_corrected,
    OrderCancelled: inspection.on_order_cancelled,
    AfterSaleCounterfeitUpheld: liability.on_counterfeit_upheld,
    AfterSaleReturnShipped: returns.on_return_shipped,  # a certified item coming back through the warehouse
    AfterSaleMessagePosted: evidence.on_aftersale_message,  # its evidence: the case's buyer and shop read it
    AfterSaleReplacementShipped: replacements.on_replacement_shipped,  # a QC product's replacement, inspected first
}
