"""Pure rules of the trust service: indicators and scores (scores.py), the enforcement ladder and the action and
appeal state machines (ladder.py). No I/O."""

from .ladder import (
    ACTION,
    APPEAL,
    HOLDING,
    ActionStatus,
    AppealDecision,
    AppealStatus,
    LadderSetting,
    StepSetting,
    action_for,
    standing_after,
)
from .scores import (
    INDICATORS,
    MAX_SCORE,
    Explained,
    IndicatorDef,
    IndicatorSetting,
    Measure,
    Sums,
    band_of,
    explain,
    rights_of,
)

__all__ = [
    "ACTION",
    "APPEAL",
    "HOLDING",
    "INDICATORS",
    "MAX_SCORE",
    "ActionStatus",
    "AppealDecision",
    "AppealStatus",
    "Explained",
    "IndicatorDef",
    "IndicatorSetting",
    "LadderSetting",
    "Measure",
    "StepSetting",
    "Sums",
    "action_for",
    "band_of",
    "explain",
    "rights_of",
    "standing_after",
]
