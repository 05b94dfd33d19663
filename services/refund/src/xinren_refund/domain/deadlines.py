"""Who must act next on a case, and by when: one deadline per waiting state, with the timer that enforces it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol, cast

from .machine import CaseStatus, S, TimerKind
from .policy import Policy

# Deadlines: while a case is in one of these states, someone must act by a time shown on the case; the state's
# timer decides what happens when nobody did. Entering the state sets the deadline and its timer, leaving it clears
# both, so a deadline on a case is always a live one.


class Party(StrEnum):
    BUYER = "BUYER"
    SELLER = "SELLER"
    PLATFORM = "PLATFORM"  # an arbitrator, or the order service moving the money


@dataclass(frozen=True)
class Deadline:
    field: str  # the case column that shows it
    party: Party  # who must act by then
    length: Callable[[Policy], timedelta]  # from entering the state
    timer: TimerKind


DEADLINES: dict[CaseStatus, Deadline] = {
    # The seller reviews, or the case is approved.
    S.REQUESTED: Deadline("review_due_at", Party.SELLER, lambda p: p.review_sla, TimerKind.REVIEW),
    # The buyer sends the goods back, or the case closes (RETURN_NOT_SENT).
    S.AWAITING_RETURN: Deadline("return_due_at", Party.BUYER, lambda p: p.return_send_window, TimerKind.RETURN_SEND),
    # The seller confirms the return's receipt, or receipt is assumed and the refund proceeds.
    S.RETURN_SHIPPED: Deadline(
        "return_receipt_due_at", Party.SELLER, lambda p: p.return_receipt_sla, TimerKind.RETURN_RECEIPT
    ),
    # The rejected buyer escalates, or the rejection is final.
    S.REJECTED: Deadline("escalation_due_at", Party.BUYER, lambda p: p.escalation_window, TimerKind.ESCALATION),
    # The buyer answers the counter-offer, or the case closes (OFFER_NOT_ANSWERED).
    S.OFFERED: Deadline("offer_due_at", Party.BUYER, lambda p: p.offer_answer_window, TimerKind.OFFER_ANSWER),
    # The buyer gives the evidence asked for, or the case closes (EVIDENCE_NOT_GIVEN).
    S.AWAITING_EVIDENCE: Deadline("evidence_due_at", Party.BUYER, lambda p: p.evidence_window, TimerKind.EVIDENCE),
    # The seller ships the replacement, or the platform steps in (ARBITRATION).
    S.AWAITING_REPLACEMENT: Deadline(
        "replacement_ship_due_at", Party.SELLER, lambda p: p.replacement_ship_sla, TimerKind.REPLACEMENT_SHIP
    ),
    # The replacement is delivered (carrier report or buyer's confirmation), or its receipt is assumed (COMPLETED).
    S.REPLACEMENT_SHIPPED: Deadline(
        "replacement_receipt_due_at",
        Party.BUYER,
        lambda p: p.replacement_receipt_window,
        TimerKind.REPLACEMENT_RECEIPT,
    ),
}

# Who must act next in each open state (the party of its deadline, where it has one).
NEXT_ACTOR: dict[CaseStatus, Party] = {
    **{status: d.party for status, d in DEADLINES.items()},
    S.ARBITRATION: Party.PLATFORM,
    # The quality-check warehouse receives and inspects the replacement (its inbound deadline runs there, not here:
    # no timer may complete a case whose replacement has not left the warehouse).
    S.REPLACEMENT_INSPECTING: Party.PLATFORM,
    S.APPROVED: Party.PLATFORM,
    S.RETURN_RECEIVED: Party.PLATFORM,
    S.REFUNDING: Party.PLATFORM,
}


class HasDeadlines(Protocol):
    status: str


def due_at(case: HasDeadlines) -> datetime | None:
    """The deadline of whoever must act next on the case; None when nobody must by a given time."""
    deadline = DEADLINES.get(CaseStatus(case.status))
    return None if deadline is None else cast(datetime | None, getattr(case, deadline.field))


def next_actor(status: str) -> Party | None:
    return NEXT_ACTOR.get(CaseStatus(status))
