"""Every event the refund service publishes, built from the case or compensation it is about."""

from __future__ import annotations

from typing import TypedDict

from xinren_shared.contracts.aftersales import (
    AfterSaleApproved,
    AfterSaleClosed,
    AfterSaleCounterfeitUpheld,
    AfterSaleEscalated,
    AfterSaleEvent,
    AfterSaleRefunded,
    AfterSaleRejected,
    AfterSaleRequested,
    AfterSaleReturnReceived,
    AfterSaleReturnShipped,
    CompensationGranted,
    RefundRequested,
)
from xinren_shared.contracts.vocabulary import AfterSaleReason, AfterSaleType, CompensationKind, CompensationPayer

from .domain import CaseStatus, S, due_at
from .models import AfterSaleCase, Compensation

# The event each status is entered with. AWAITING_RETURN and REFUNDING follow APPROVED / RETURN_RECEIVED within the
# same step: that step's event (with refund.requested for REFUNDING) announces them.
CASE_EVENTS: dict[CaseStatus, type[AfterSaleEvent] | None] = {
    S.REQUESTED: AfterSaleRequested,
    S.APPROVED: AfterSaleApproved,
    S.REJECTED: AfterSaleRejected,
    S.ARBITRATION: AfterSaleEscalated,
    S.AWAITING_RETURN: None,
    S.RETURN_SHIPPED: AfterSaleReturnShipped,
    S.RETURN_RECEIVED: AfterSaleReturnReceived,
    S.REFUNDING: None,
    S.REFUNDED: AfterSaleRefunded,
    S.CLOSED: AfterSaleClosed,
    S.CANCELLED: AfterSaleClosed,
}


class Parties(TypedDict):
    order_id: str
    buyer_id: str
    shop_id: str


def parties(row: AfterSaleCase | Compensation) -> Parties:
    """The order and the two sides every outgoing event names (the events' key is the order id)."""
    return Parties(order_id=row.order_id, buyer_id=row.buyer_id, shop_id=row.shop_id)


def case_event(case: AfterSaleCase, entered: CaseStatus | None = None) -> AfterSaleEvent | None:
    """The event announcing the status the case has just entered (`entered`: one it has passed through within
    the same step), if that status has one of its own; `due_at` is the case's deadline as it is now."""
    status = entered or CaseStatus(case.status)
    event_cls = CASE_EVENTS[status]
    if event_cls is None:
        return None
    return event_cls(
        **parties(case),
        case_id=case.case_id,
        type=AfterSaleType(case.type),
        reason=AfterSaleReason(case.reason),
        amount_fen=case.amount_fen,
        status=status,
        certificate_no=case.certificate_no,
        due_at=due_at(case),
    )


def counterfeit_upheld(case: AfterSaleCase, certificate_no: str) -> AfterSaleCounterfeitUpheld:
    """The platform upheld a counterfeit claim on a certified item: the quality-check service revokes the
    certificate and books the error against its warehouse and inspector."""
    return AfterSaleCounterfeitUpheld(**parties(case), case_id=case.case_id, certificate_no=certificate_no)


def refund_requested(case: AfterSaleCase) -> RefundRequested:
    """Asks the order service for the case's money; the same refund_id on every attempt."""
    return RefundRequested(**parties(case), case_id=case.case_id, amount_fen=case.amount_fen, refund_id=case.refund_id)


def compensation_granted(cp: Compensation) -> CompensationGranted:
    """Asks the order service to pay a compensation; the same compensation_id on every attempt."""
    return CompensationGranted(
        **parties(cp),
        compensation_id=cp.compensation_id,
        kind=CompensationKind(cp.kind),
        amount_fen=cp.amount_fen,
        payer=CompensationPayer(cp.payer),
        case_id=cp.case_id,
    )
