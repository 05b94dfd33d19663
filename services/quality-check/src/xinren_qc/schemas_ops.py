"""Request and response models of evidence, checklists and warehouse operations."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from .domain import CaseStatus
from .schemas import ReturnPublic


class EvidencePublic(BaseModel):
    evidence_id: str
    sha256: str
    content_type: str
    size: int


class ChecklistMeasurement(BaseModel):
    name: str
    label: str
    kind: str
    unit: str | None = None
    choices: list[str] = []
    required: bool
    tolerance: float


class ChecklistPublic(BaseModel):
    category: str
    # False: the category has no checklist and a pass needs findings only (photos as URLs or evidence).
    checklist: bool
    measurements: list[ChecklistMeasurement]
    min_photos: int
    seal_required: bool
    notes: str = ""


# --- warehouse operations ---------------------------------------------------------------------------------------


class QueueItem(BaseModel):
    case_id: str
    order_id: str
    aftersale_case_id: str | None = None  # the inspection of an exchange's or reship's replacement
    category: str
    status: CaseStatus
    since: datetime  # when it entered this lane
    age_seconds: float
    assigned_inspector_id: str | None = None
    due_at: datetime | None = None  # inbound deadline, appeal window


class WarehouseQueue(BaseModel):
    warehouse_id: str
    inbound: list[QueueItem]  # expected: awaiting inbound or in transit
    arrived: list[QueueItem]  # in the warehouse, no inspector assigned yet
    awaiting_verdict: list[QueueItem]  # arrived and assigned, or appealed
    awaiting_dispatch: list[QueueItem]  # passed, or failed for good
    returns: list[ReturnPublic]  # certified items expected back
    # How many cases each lane holds: a lane lists its oldest 500 (workqueue.LANE_LIMIT) at most.
    counts: dict[str, int] = {}


class WarehouseStats(BaseModel):
    warehouse_id: str
    window_days: float
    verdicts: int  # throughput: verdicts given (first verdicts and reviews) within the window
    passed: int
    failed: int
    pass_rate: float | None
    average_seconds_to_verdict: float | None  # arrival to first verdict
    appeals: int
    overturned: int
    open_cases: int
    capacity: int | None
