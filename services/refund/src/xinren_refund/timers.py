"""Which handler each durable timer kind goes to."""

from xinren_shared.timers import TimerHandler

from . import handlers as h
from .handlers import TimerKind

TIMER_HANDLERS: dict[str, TimerHandler] = {
    TimerKind.REVIEW: h.on_review_deadline,  # seller silence → approved
    TimerKind.RETURN_RECEIPT: h.on_return_receipt_deadline,  # seller silence after the return → refunded
    TimerKind.ESCALATION: h.on_escalation_deadline,  # rejected and not escalated → closed
    TimerKind.REFUND_RESEND: h.on_refund_resend,  # refund.requested unanswered → sent again, same refund_id
    TimerKind.COMPENSATION_RESEND: h.on_compensation_resend,  # compensation.granted unanswered → sent again
}
