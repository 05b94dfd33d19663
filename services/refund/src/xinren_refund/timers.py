"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from .domain import TimerKind
from .handlers import timers as t

TIMER_HANDLERS: dict[str, TimerHandler] = {
    TimerKind.REVIEW: t.on_review_deadline,  # seller silence → approved
    TimerKind.RETURN_SEND: t.on_return_send_deadline,  # no return shipment in time → closed (RETURN_NOT_SENT)
    TimerKind.RETURN_RECEIPT: t.on_return_receipt_deadline,  # seller silence after the return → refunded
    TimerKind.ESCALATION: t.on_escalation_deadline,  # rejected and not escalated → closed
    TimerKind.OFFER_ANSWER: t.on_offer_answer_deadline,  # counter-offer unanswered → closed (OFFER_NOT_ANSWERED)
    TimerKind.EVIDENCE: t.on_evidence_deadline,  # evidence not given → closed (EVIDENCE_NOT_GIVEN)
    TimerKind.REPLACEMENT_SHIP: t.on_replacement_ship_deadline,  # replacement not shipped → arbitration
    TimerKind.REPLACEMENT_RECEIPT: t.on_replacement_receipt_deadline,  # no delivery report → completed
    TimerKind.REFUND_RESEND: t.on_refund_resend,  # refund.requested unanswered → sent again, same refund_id
    TimerKind.COMPENSATION_RESEND: t.on_compensation_resend,  # compensation.granted unanswered → sent again
}
