"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from .domain import TimerKind
from .handlers import timers as t

TIMER_HANDLERS: dict[str, TimerHandler] = {
    TimerKind.REVIEW: t.on_review_deadline,  # seller silence → approved
    TimerKind.RETURN_SEND: t.on_return_send_deadline,  # no return shipment in time → closed (RETURN_NOT_SENT)
    TimerKind.RETURN_RECEIPT: t.on_return_receipt_deadline,  # seller silence after the return → refunded
    TimerKind.ESCALATION: t.on_escalation_deadline,  # rejected and not escalated → closed
    TimerKind.REFUND_RESEND: t.on_refund_resend,  # refund.requested unanswered → sent again, same refund_id
    TimerKind.COMPENSATION_RESEND: t.on_compensation_resend,  # compensation.granted unanswered → sent again
}
