"""Every event the refund service publishes, built from the case or compensation it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypedDict

from xinren_shared.contracts.aftersales import (
    AfterSaleApproved,
    AfterSaleClosed,
    AfterSaleCounterfeitUpheld,
    AfterSaleEscalated,
    AfterSaleEvent,
    AfterSaleEvidenceRequested,
    AfterSaleItem,
    AfterSaleMessagePosted,
    AfterSaleOfferAccepted,
    AfterSaleOfferDeclined,
    AfterSaleOfferMade,
    AfterSaleRefunded,
    AfterSaleRejected,
    AfterSaleReplacementDelivered,
    AfterSaleReplacementInspected,
    AfterSaleReplacementShipped,
    AfterSaleRequested,
    AfterSaleReturnReceived,
    AfterSaleReturnShipped,
    CompensationGranted,
    RefundRequested,
)
from xinren_shared.contracts.vocabulary import (
    AfterSaleReason,
    AfterSaleType,
    CompensationKind,
    CompensationPayer,
    QcFailureReason,
)

from .domain import CaseStatus, S, due_at
from .models import AfterSaleCase, CaseMessage, Compensation

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
    # Negotiation and replacement steps need more than the case says: the step that takes them builds its own
    # event (offer_made, evidence_requested, replacement_shipped, replacement_delivered, below). AWAITING_REPLACEMENT
    # follows APPROVED (reship) or RETURN_RECEIVED (exchange) within the same step.
    S.OFFERED: None,
    S.AWAITING_EVIDENCE: None,
    S.AWAITING_REPLACEMENT: None,
    S.REPLACEMENT_INSPECTING: None,
    S.REPLACEMENT_SHIPPED: None,
    S.COMPLETED: None,
}

CaseAnnouncer = Callable[["AfterSaleCase", "CaseStatus | None"], "AfterSaleEvent | None"]


class Parties(TypedDict):
    order_id: str
    buyer_id: str
    shop_id: str


def parties(row: AfterSaleCase | Compensation) -> Parties:
    """The order and the two sides every outgoing event names (the events' key is the order id)."""
    return Parties(order_id=row.order_id, buyer_id=row.buyer_id, shop_id=row.shop_id)


def _common(case: AfterSaleCase, status: CaseStatus) -> dict[str, Any]:
    return dict(
        **parties(case),
        case_id=case.case_id,
        type=AfterSaleType(case.type),
        reason=AfterSaleReason(case.reason),
        amount_fen=case.amount_fen,
        status=status,
        certificate_no=case.certificate_no,
        due_at=due_at(case),
        items=[AfterSaleItem.model_validate(i) for i in case.items or []],
    )


def case_event(case: AfterSaleCase, entered: CaseStatus | None = None) -> AfterSaleEvent | None:
    """The event announcing the status the case has just entered (`entered`: one it has passed through within
    the same step), if that status has one of its own; `due_at` is the case's deadline as it is now."""
    status = entered or CaseStatus(case.status)
    event_cls = CASE_EVENTS[status]
    if event_cls is None:
        return None
    return event_cls(**_common(case, status))


def offer_made(case: AfterSaleCase) -> AfterSaleOfferMade:
    offer = case.offer or {}
    return AfterSaleOfferMade(
        **_common(case, S.OFFERED),
        offer_amount_fen=int(offer.get("amount_fen", 0)),
        offer_type=AfterSaleType(offer.get("type", case.type)),
        offer_reason=offer.get("reason"),
    )


def offer_accepted(case: AfterSaleCase, entered: CaseStatus | None = None) -> AfterSaleOfferAccepted:
    return AfterSaleOfferAccepted(**_common(case, entered or CaseStatus(case.status)))


def offer_declined(case: AfterSaleCase) -> AfterSaleOfferDeclined:
    return AfterSaleOfferDeclined(**_common(case, CaseStatus(case.status)))


def evidence_requested(case: AfterSaleCase, reason: str) -> AfterSaleEvidenceRequested:
    return AfterSaleEvidenceRequested(**_common(case, S.AWAITING_EVIDENCE), request_reason=reason)


def message_posted(case: AfterSaleCase, msg: CaseMessage) -> AfterSaleMessagePosted:
    return AfterSaleMessagePosted(
        **_common(case, CaseStatus(case.status)),
        message_id=msg.message_id,
        author=msg.author,
        text=msg.text,
        evidence_ids=list(msg.evidence_ids),
    )


def replacement_shipped(
    case: AfterSaleCase, qc_required: bool, *, from_warehouse_id: str | None = None
) -> AfterSaleReplacementShipped:
    """The replacement left: to the buyer (REPLACEMENT_SHIPPED; from the warehouse after a QC pass when
    `from_warehouse_id`), or a QC product's from the seller to the warehouse (REPLACEMENT_INSPECTING)."""
    return AfterSaleReplacementShipped(
        **_common(case, CaseStatus(case.status)),
        carrier=case.replacement_carrier or "",
        tracking_no=case.replacement_tracking_no or "",
        qc_required=qc_required,
        from_warehouse_id=from_warehouse_id,
        replacement_certificate_no=case.replacement_certificate_no if from_warehouse_id else None,
    )


def replacement_inspected(
    case: AfterSaleCase,
    outcome: Literal["PASSED", "FAILED"],
    *,
    warehouse_id: str | None,
    failure_reason: QcFailureReason | None = None,
    findings: str | None = None,
) -> AfterSaleReplacementInspected:
    return AfterSaleReplacementInspected(
        **_common(case, CaseStatus(case.status)),
        outcome=outcome,
        inspection_case_id=case.replacement_qc_case_id or "",
        warehouse_id=warehouse_id,
        replacement_certificate_no=case.replacement_certificate_no if outcome == "PASSED" else None,
        failure_reason=failure_reason,
        findings=findings,
    )


def replacement_delivered(case: AfterSaleCase, confirmed_by: str) -> AfterSaleReplacementDelivered:
    return AfterSaleReplacementDelivered(**_common(case, S.COMPLETED), confirmed_by=confirmed_by)


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
