"""The after-sale case and compensation state machines, as data; timer kinds and close codes."""

from __future__ import annotations

from enum import StrEnum

from xinren_shared.contracts.vocabulary import AfterSaleStatus
from xinren_shared.statemachine import StateMachine

# ---------------------------------------------------------------------------------------------------------------
# The after-sale case state machine (API.md). APPROVED is left at once for AWAITING_RETURN (a return is needed) or
# REFUNDING (money requested); REFUNDING ends in REFUNDED on `order.refunded`, or in CLOSED when the order
# service answers `order.refund_rejected` (nothing moved; the reason is kept on the case).

CaseStatus = AfterSaleStatus
S = CaseStatus

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    # CLOSED from REQUESTED: superseded by a platform full refund (QC failure, paid cancellation). ARBITRATION
    # from REQUESTED: a counterfeit claim on a certified item is the platform's to decide, never the seller's.
    # OFFERED, AWAITING_EVIDENCE: the seller negotiates (a counter-offer, a request for more evidence).
    S.REQUESTED: frozenset(
        {S.APPROVED, S.REJECTED, S.ARBITRATION, S.CANCELLED, S.CLOSED, S.OFFERED, S.AWAITING_EVIDENCE}
    ),
    # AWAITING_REPLACEMENT from APPROVED: a reship (nothing comes back).
    S.APPROVED: frozenset({S.AWAITING_RETURN, S.REFUNDING, S.AWAITING_REPLACEMENT}),
    # CLOSED from AWAITING_RETURN: superseded, or the goods were not sent back in time.
    S.AWAITING_RETURN: frozenset({S.RETURN_SHIPPED, S.CANCELLED, S.CLOSED}),
    S.RETURN_SHIPPED: frozenset({S.RETURN_RECEIVED, S.ARBITRATION}),  # ARBITRATION: the warehouse found the seal broken
    # AWAITING_REPLACEMENT from RETURN_RECEIVED: an exchange (the goods are back, the new ones go out).
    S.RETURN_RECEIVED: frozenset({S.REFUNDING, S.AWAITING_REPLACEMENT}),
    # The buyer accepts the counter-offer (APPROVED with its terms) or declines it (REJECTED: no agreement, the
    # buyer may escalate); CLOSED: not answered in time, or superseded.
    S.OFFERED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED, S.CLOSED}),
    # REQUESTED again once the buyer gave evidence (the seller reviews anew); CLOSED: none given in time.
    S.AWAITING_EVIDENCE: frozenset({S.REQUESTED, S.CANCELLED, S.CLOSED}),
    # ARBITRATION: the seller did not ship the replacement in time, the platform steps in. REPLACEMENT_INSPECTING: a
    # QC product's replacement goes to the quality-check warehouse first (先验后发).
    S.AWAITING_REPLACEMENT: frozenset({S.REPLACEMENT_SHIPPED, S.REPLACEMENT_INSPECTING, S.ARBITRATION}),
    # REPLACEMENT_SHIPPED: it passed and the warehouse shipped it on to the buyer; AWAITING_REPLACEMENT: it failed
    # (back to the seller, who ships another); ARBITRATION: it did not reach the warehouse in time.
    S.REPLACEMENT_INSPECTING: frozenset({S.REPLACEMENT_SHIPPED, S.AWAITING_REPLACEMENT, S.ARBITRATION}),
    # COMPLETED on the carrier's delivery report, the buyer's confirmation, or when neither came in time.
    S.REPLACEMENT_SHIPPED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.REFUNDING: frozenset({S.REFUNDED, S.CLOSED}),
    # CLOSED from REJECTED: the escalation window passed, the rejection is final.
    S.REJECTED: frozenset({S.ARBITRATION, S.CLOSED, S.CANCELLED}),
    S.ARBITRATION: frozenset({S.APPROVED, S.CLOSED, S.CANCELLED}),
    S.REFUNDED: frozenset(),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}

CASES = StateMachine("after-sale case", CaseStatus, TRANSITIONS)

TERMINAL = CASES.terminal
# Every open case holds its amount back from what the order can still refund (even a rejected one: it may be
# escalated and won).
RESERVING = frozenset(TRANSITIONS) - TERMINAL
# Open cases with neither goods nor money on the way: a platform full refund closes them.
SUPERSEDABLE = frozenset({S.REQUESTED, S.REJECTED, S.ARBITRATION, S.AWAITING_RETURN, S.OFFERED, S.AWAITING_EVIDENCE})
# What the buyer may escalate: a rejection (REQUESTED → ARBITRATION is the platform's own move, for a counterfeit
# claim on a certified item).
ESCALATABLE = frozenset({S.REJECTED})
# What the buyer may still withdraw.
CANCELLABLE = frozenset(s for s in RESERVING if CASES.can(s, S.CANCELLED))


class CompensationStatus(StrEnum):
    GRANTED = "GRANTED"  # compensation.granted sent, waiting for the order service to pay
    PAID = "PAID"  # order.compensation_paid received


COMPENSATION_TRANSITIONS: dict[CompensationStatus, frozenset[CompensationStatus]] = {
    CompensationStatus.GRANTED: frozenset({CompensationStatus.PAID}),
    CompensationStatus.PAID: frozenset(),
}

COMPENSATIONS = StateMachine("compensation", CompensationStatus, COMPENSATION_TRANSITIONS)


class TimerKind(StrEnum):
    REVIEW = "review_deadline"
    RETURN_SEND = "return_send_deadline"
    RETURN_RECEIPT = "return_receipt_deadline"
    ESCALATION = "escalation_deadline"
    OFFER_ANSWER = "offer_answer_deadline"
    EVIDENCE = "evidence_deadline"
    REPLACEMENT_SHIP = "replacement_ship_deadline"
    REPLACEMENT_RECEIPT = "replacement_receipt_deadline"
    REFUND_RESEND = "refund_resend"
    COMPENSATION_RESEND = "compensation_resend"


class CloseCode(StrEnum):
    """Why a case ended without a refund (CLOSED or CANCELLED), for a front end to word; close_reason says more."""

    WITHDRAWN = "WITHDRAWN"  # the buyer cancelled it
    SUPERSEDED = "SUPERSEDED"  # the platform refunded the whole order instead
    NOT_ESCALATED = "NOT_ESCALATED"  # rejected, and not escalated within the window
    RETURN_NOT_SENT = "RETURN_NOT_SENT"  # approved for a return the buyer did not send in time
    ARBITRATION_REJECTED = "ARBITRATION_REJECTED"
    REFUND_REJECTED = "REFUND_REJECTED"  # the order service refused to move the money
    OFFER_NOT_ANSWERED = "OFFER_NOT_ANSWERED"  # the buyer neither accepted nor declined the counter-offer in time
    EVIDENCE_NOT_GIVEN = "EVIDENCE_NOT_GIVEN"  # the buyer gave no more evidence in time
