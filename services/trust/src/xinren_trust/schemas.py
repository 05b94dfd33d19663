"""Request and response models of the trust service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from xinren_shared.contracts.trust import ActionKind, ShopStanding, TrustSubject, Violation
from xinren_shared.contracts.vocabulary import TrustRight

from .domain import ActionStatus, AppealDecision, AppealStatus

Text = Annotated[str, Field(min_length=1, max_length=2000)]
EvidenceId = Annotated[str, Field(min_length=1, max_length=200)]


class IndicatorPublic(BaseModel):
    name: str
    value: float | None  # None: nothing observed in the window yet
    weight: float
    contribution: float  # points of the 0-5 score it brings


class ActionPublic(BaseModel):
    action_id: str
    kind: ActionKind
    violation: Violation
    at: datetime
    status: ActionStatus
    subject_kind: TrustSubject
    subject_id: str
    shop_id: str | None
    host_id: str | None
    step: int
    fine_fen: int
    order_id: str | None
    reason: str


class ScorePublic(BaseModel):
    """A score with its band; indicators and actions only for the subject itself and admins (else empty)."""

    subject_kind: TrustSubject
    subject_id: str
    score: float
    band: str
    status: ShopStanding | None = None  # shops and hosts: whether they may trade
    rights: list[TrustRight] = []  # shops: the trust-card rights the band allows
    indicators: list[IndicatorPublic]
    actions: list[ActionPublic]
    updated_at: datetime | None = None


class ScoreSummary(BaseModel):
    subject_kind: TrustSubject
    subject_id: str
    score: float
    band: str
    updated_at: datetime


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action_id: Annotated[str, Field(min_length=1, max_length=200)]
    reason: Text
    evidence_ids: Annotated[list[EvidenceId], Field(max_length=20)] = []


class AppealDecide(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: AppealDecision
    reason: Text


class AppealPublic(BaseModel):
    appeal_id: str
    action_id: str
    subject_kind: TrustSubject
    subject_id: str
    shop_id: str | None
    host_id: str | None
    by: str
    reason: str
    evidence_ids: list[str]
    status: AppealStatus
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    action: ActionPublic
