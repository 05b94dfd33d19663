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
}

# Who must act next in each open state (the party of its deadline, where it has one).
NEXT_ACTOR: dict[CaseStatus, Party] = {
    **{status: d.party for status, d in DEADLINES.items()},
    S.ARBITRATION: Party.PLATFORM,
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
