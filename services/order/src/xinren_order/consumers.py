"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import qc as qe
from xinren_shared.events import Event

from . import handlers as h

EVENT_HANDLERS: dict[type[Event], Handler] = {
    # xinren.qc.v1
    qe.QcCaseOpened: h.on_qc_case_opened,
    qe.QcItemReceived: h.on_qc_item_received,
    qe.QcPassed: h.on_qc_passed,
    qe.QcFailed: h.on_qc_failed,
    qe.QcDispatched: h.on_qc_dispatched,
    qe.QcExpired: h.on_qc_expired,
    qe.QcShopSuspended: h.on_shop_suspended,
    # xinren.aftersales.v1: money requests
    ae.RefundRequested: h.on_refund_requested,
    ae.CompensationGranted: h.on_compensation_granted,
    # xinren.aftersales.v1: case lifecycle (an open case pauses auto-confirm)
    ae.AfterSaleRequested: h.on_aftersale_event,
    ae.AfterSaleApproved: h.on_aftersale_event,
    ae.AfterSaleRejected: h.on_aftersale_event,
    ae.AfterSaleEscalated: h.on_aftersale_event,
    ae.AfterSaleReturnShipped: h.on_aftersale_event,
    ae.AfterSaleReturnReceived: h.on_aftersale_event,
    ae.AfterSaleRefunded: h.on_aftersale_event,
    ae.AfterSaleClosed: h.on_aftersale_event,
}
