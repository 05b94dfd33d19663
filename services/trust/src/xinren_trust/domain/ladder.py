"""The graded 匹诺曹 ladder as data, and the state machines of enforcement actions and appeals."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from xinren_shared.contracts.trust import ActionKind, ShopStanding
from xinren_shared.statemachine import StateMachine


class StepSetting(BaseModel):
    """At the `at`-th violation of its kind within the window, take `action` (a FINE of `fine_fen`)."""

    at: int = Field(ge=1)
    action: ActionKind
    fine_fen: int = Field(default=0, ge=0)


class LadderSetting(BaseModel):
    """One violation kind's ladder: violations counted within `window_seconds` (a reinstated shop keeps them)."""

    window_seconds: float = Field(gt=0)
    steps: list[StepSetting]

    @model_validator(mode="after")
    def _ordered(self) -> LadderSetting:
        ats = [s.at for s in self.steps]
        if not ats or ats != sorted(set(ats)):
            raise ValueError("a ladder needs steps with increasing `at` counts")
        return self


def action_for(ladder: LadderSetting, count: int) -> StepSetting | None:
    """The step the `count`-th violation reaches: the step at that count, the last step beyond the top, none
    between steps."""
    for step in ladder.steps:
        if step.at == count:
            return step
    top = ladder.steps[-1]
    return top if count > top.at else None


class ActionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    APPEALED = "APPEALED"  # an appeal is pending
    UPHELD = "UPHELD"  # the appeal failed: final
    OVERTURNED = "OVERTURNED"  # reversed: a fine given back, a suspension lifted, the violation no longer counts
    LIFTED = "LIFTED"  # a suspension ended by reinstatement (the violation still counts)


A = ActionStatus
ACTION = StateMachine(
    "enforcement action",
    ActionStatus,
    {
        A.ACTIVE: {A.APPEALED, A.LIFTED},
        # A suspension under appeal may be lifted by reinstatement meanwhile; the appeal still decides its record.
        A.APPEALED: {A.UPHELD, A.OVERTURNED, A.LIFTED},
        A.UPHELD: {A.LIFTED},
        A.OVERTURNED: set(),
        A.LIFTED: {A.OVERTURNED},
    },
)


class AppealStatus(StrEnum):
    PENDING = "PENDING"
    UPHELD = "UPHELD"
    OVERTURNED = "OVERTURNED"


class AppealDecision(StrEnum):
    UPHOLD = "UPHOLD"
    OVERTURN = "OVERTURN"


APPEAL = StateMachine(
    "appeal",
    AppealStatus,
    {
        AppealStatus.PENDING: {AppealStatus.UPHELD, AppealStatus.OVERTURNED},
        AppealStatus.UPHELD: set(),
        AppealStatus.OVERTURNED: set(),
    },
)

# The actions that keep a shop from trading while they hold (ACTIVE, under appeal or upheld).
HOLDING = frozenset({A.ACTIVE, A.APPEALED, A.UPHELD})


def standing_after(holding: Iterable[ActionKind]) -> ShopStanding:
    """A shop's standing from the kinds of the actions that hold: a closure closes, a suspension suspends."""
    kinds = set(holding)
    if ActionKind.CLOSURE in kinds:
        return ShopStanding.CLOSED
    if ActionKind.SUSPENSION in kinds:
        return ShopStanding.SUSPENDED
    return ShopStanding.ACTIVE
