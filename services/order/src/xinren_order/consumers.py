"""Which handler each consumed event type goes to."""

from xinren_shared.consumer import Handler
from xinren_shared.contracts import aftersales as ae
from xinren_shared.contracts import qc as qe
from xinren_shared.contracts import trust as te
from xinren_shared.events import Event

from .handlers import aftersales, catalog, money, qc_reactions, trust_reactions

EVENT_HANDLERS: dict[type[Event], Handler] = {
    # xinren.qc.v1: the order follows the case (qc_reactions.REACTIONS says how), and a suspension stops the shop
    **{event_type: qc_reactions.on_qc_event for event_type in qc_reactions.REACTIONS},
    qe.QcShopSuspended: catalog.on_shop_suspended,
    # xinren.trust.v1: the shop's standing (suspension, closure, reinstatement), fines and fines given back
    **{event_type: trust_reactions.on_trust_event for event_type in trust_reactions.EVENTS},
    # xinren.trust.v1: the public bands of shops and products (newest wins)
    te.TrustScoreChanged: trust_reactions.on_score_changed,
    # xinren.aftersales.v1: money requests
    ae.RefundRequested: money.on_refund_requested,
    ae.CompensationGranted: money.on_compensation_granted,
    # xinren.aftersales.v1: case lifecycle (an open case pauses auto-confirm)
    ae.AfterSaleRequested: aftersales.on_aftersale_event,
    ae.AfterSaleApproved: aftersales.on_aftersale_event,
    ae.AfterSaleRejected: aftersales.on_aftersale_event,
    ae.AfterSaleEscalated: aftersales.on_aftersale_event,
    ae.AfterSaleReturnShipped: aftersales.on_aftersale_event,
    ae.AfterSaleReturnReceived: aftersales.on_aftersale_event,
    ae.AfterSaleRefunded: aftersales.on_aftersale_event,
    ae.AfterSaleClosed: aftersales.on_aftersale_event,
    ae.AfterSaleOfferMade: aftersales.on_aftersale_event,
    ae.AfterSaleOfferAccepted: aftersales.on_aftersale_event,
    ae.AfterSaleOfferDeclined: aftersales.on_aftersale_event,
    ae.AfterSaleEvidenceRequested: aftersales.on_aftersale_event,
    ae.AfterSaleMessagePosted: aftersales.on_aftersale_event,
    ae.AfterSaleReplacementShipped: aftersales.on_aftersale_event,
    ae.AfterSaleReplacementDelivered: aftersales.on_aftersale_event,
    ae.AfterSaleReplacementInspected: aftersales.on_aftersale_event,
}
