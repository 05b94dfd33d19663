"""Which handler each consumed event type goes to: orders, QC and after-sales facts become observations and
violations (handlers/facts.py)."""

from xinren_shared.consumer import Batched, Handler
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import orders as oe
from xinren_shared.contracts import qc as qe
from xinren_shared.events import Event

from .handlers import facts

EVENT_HANDLERS: dict[type[Event], Handler | Batched] = {
    # xinren.orders.v1: who an order belongs to, paid orders, shipments on time or late
    oe.OrderCreated: Batched(facts.on_orders_created),  # one statement for a batch's run of them
    oe.OrderPaid: facts.on_order_paid,
    oe.OrderShipped: facts.on_order_shipped,
    oe.OrderShippingLate: facts.on_order_shipping_late,
    # xinren.qc.v1: verdicts (a counterfeit climbs the ladder), missed inbound deadlines
    qe.QcPassed: facts.on_qc_passed,
    qe.QcFailed: facts.on_qc_failed,
    qe.QcExpired: facts.on_qc_expired,
    # xinren.aftersales.v1: buyers' cases, response times, arbitrations lost
    ae.AfterSaleRequested: facts.on_aftersale_requested,
    ae.AfterSaleEscalated: facts.on_aftersale_escalated,
    ae.AfterSaleApproved: facts.on_aftersale_decided,
    ae.AfterSaleRejected: facts.on_aftersale_decided,
    ae.AfterSaleRefunded: facts.on_aftersale_decided,
}
