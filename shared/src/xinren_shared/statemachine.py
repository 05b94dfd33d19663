"""State machines as data: one transition table per entity and one way to move along it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from .errors import IllegalTransition

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    """The allowed (from -> to) moves of one entity's status.

    `move(current, target)` is the only way a handler changes a status: False when the entity already is in the
    target state (a repeated request is a no-op), IllegalTransition (409 with the current status) when the table
    does not allow the move, True when it moves. A state listed among its own targets is a legal self-move that
    still returns False: nothing changes, and the caller decides whether to do its work again.
    """

    def __init__(self, entity: str, status: type[S], transitions: Mapping[S, Iterable[S]]):
        missing = set(status) - set(transitions)
        if missing:
            raise ValueError(f"{entity}: no transitions listed for {sorted(missing)}")
        self.entity = entity
        self.status = status
        self.transitions: dict[S, frozenset[S]] = {s: frozenset(t) for s, t in transitions.items()}
        self.terminal: frozenset[S] = frozenset(s for s, targets in self.transitions.items() if not targets)

    def can(self, current: S | str, target: S | str) -> bool:
        """Whether the table allows current -> target (staying put counts only where the table lists it)."""
        return self.status(target) in self.transitions[self.status(current)]

    def move(self, current: S | str, target: S | str) -> bool:
        current, target = self.status(current), self.status(target)
        if current == target:
            return False
        if target not in self.transitions[current]:
            raise IllegalTransition(self.entity, current.value, target.value)
        return True

    def require(self, current: S | str, target: S | str) -> S:
        """Like move, but staying where it is counts as illegal unless the table lists it: for commands that
        must change something (a second 'deliver' of a delivered order is a 409, not a no-op)."""
        current, target = self.status(current), self.status(target)
        if not self.can(current, target):
            raise IllegalTransition(self.entity, current.value, target.value)
        return target

    def pairs(self) -> list[tuple[S, S]]:
        """Every (from, to) pair of the statuses, for exhaustive tests."""
        return [(a, b) for a in self.status for b in self.status]
