"""Reads of warehouse operations: a warehouse's work queue and its figures (also as Prometheus gauges), and the
evidence a reader may see. Never imports handlers/."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from prometheus_client import Gauge
from sqlalchemy import DateTime, Float, cast, func, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from xinren_shared.auth import Principal, Role
from xinren_shared.errors import Forbidden, NotFound
from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime

from .access import CASES
from .domain import OPEN, AppealStatus, CaseStatus, ReturnStatus, VerdictResult
from .models import Evidence, EvidenceAftersale, EvidenceLink, QcAppeal, QcCase, QcReturn, Warehouse
from .schemas_ops import QueueItem, WarehouseQueue, WarehouseStats
from .settings import QcSettings
from .storage import EvidenceStore
from .views import open_counts, return_public

log = logging.getLogger("xinren.qc")

QcRuntime = ServiceRuntime[QcSettings]
S = CaseStatus

QUEUE = Gauge(
    "xinren_qc_warehouse_queue",
    "Cases of a warehouse in each lane of its work queue",
    ["warehouse", "lane"],
    multiprocess_mode="livemostrecent",
)
OLDEST = Gauge(
    "xinren_qc_warehouse_queue_oldest_seconds",
    "Age of the oldest case in each lane",
    ["warehouse", "lane"],
    multiprocess_mode="livemostrecent",
)
VERDICTS = Gauge(
    "xinren_qc_warehouse_verdicts",
    "Verdicts of a warehouse within the stats window, by result",
    ["warehouse", "result"],
    multiprocess_mode="livemostrecent",
)
PASS_RATE = Gauge(
    "xinren_qc_warehouse_pass_rate",
    "Share of passes among the window's verdicts",
    ["warehouse"],
    multiprocess_mode="livemostrecent",
)
TIME_TO_VERDICT = Gauge(
    "xinren_qc_warehouse_time_to_verdict_seconds",
    "Average time from arrival to first verdict",
    ["warehouse"],
    multiprocess_mode="livemostrecent",
)

LANE_LIMIT = 500


def may_operate(principal: Principal, warehouse_id: str) -> None:
    """Admin, or staff and inspectors of this warehouse (another warehouse: 403)."""
    if principal.role in (Role.WAREHOUSE, Role.INSPECTOR) and principal.warehouse_id != warehouse_id:
        raise Forbidden("you may see only your own warehouse's work", code="OTHER_WAREHOUSE")


async def _warehouse(session: AsyncSession, warehouse_id: str) -> Warehouse:
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
    return warehouse


# The lane a case waits in, since when, and the deadline that runs there, as SQL over its row: the queue reads them
# with its cases, the gauges count them without loading any case.
_STATUS = col(QcCase.status)
_INBOUND = _STATUS.in_([S.AWAITING_INBOUND.value, S.IN_TRANSIT.value])
_INSPECTING, _APPEALED = _STATUS == S.IN_INSPECTION.value, _STATUS == S.APPEALED.value
LANE = sa.case(
    (_INBOUND, "inbound"),
    (_INSPECTING, sa.case((col(QcCase.assigned_inspector_id).is_(None), "arrived"), else_="awaiting_verdict")),
    (_APPEALED, "awaiting_verdict"),
    else_="awaiting_dispatch",  # PASSED, or FAILED (a failure still open to appeal leaves once its window closes)
).label("lane")
SINCE = sa.case(
    (_INBOUND, col(QcCase.created_at)),
    (_INSPECTING, col(QcCase.arrived_at)),
    (_APPEALED, col(QcCase.updated_at)),
    else_=func.coalesce(col(QcCase.verdict_final_at), col(QcCase.verdict_at)),
).label("since")
DUE = sa.case(
    (_INBOUND, col(QcCase.inbound_deadline)),
    (or_(_INSPECTING, _APPEALED, col(QcCase.verdict_final_at).is_not(None)), null()),
    else_=col(QcCase.appeal_due_at),
).label("due")
_OPEN = _STATUS.in_([str(s) for s in OPEN])


# A lane's cases in the order they entered it (the oldest first), and where each stands in its lane.
_SINCE_OR_UPDATED = func.coalesce(SINCE.element, col(QcCase.updated_at))
_PLACE = func.row_number().over(partition_by=LANE.element, order_by=(_SINCE_OR_UPDATED, col(QcCase.case_id)))
_IN_LANE = func.count().over(partition_by=LANE.element)


async def warehouse_queue(runtime: QcRuntime, principal: Principal, warehouse_id: str) -> WarehouseQueue:
    """Each lane's oldest `LANE_LIMIT` cases, and how many each lane holds (`counts`): a lane is cut on its own,
    so thousands of parcels on their way in never hide the few that arrived."""
    may_operate(principal, warehouse_id)
    now = utcnow()
    lanes: dict[str, list[QueueItem]] = {"inbound": [], "arrived": [], "awaiting_verdict": [], "awaiting_dispatch": []}
    counts = dict.fromkeys(lanes, 0)
    async with runtime.snapshot() as session:
        await _warehouse(session, warehouse_id)
        ranked = (
            select(
                QcCase, LANE, _SINCE_OR_UPDATED.label("since"), DUE, _PLACE.label("place"), _IN_LANE.label("in_lane")
            )
            .where(col(QcCase.warehouse_id) == warehouse_id, _OPEN)
            .subquery("ranked")
        )
        case = aliased(QcCase, ranked)
        cases = (
            await session.execute(
                select(case, ranked.c.lane, ranked.c.since, ranked.c.due, ranked.c.in_lane)
                .where(ranked.c.place <= LANE_LIMIT)
                .order_by(ranked.c.lane, ranked.c.place)
            )
        ).all()
        returns = (
            await session.scalars(
                select(QcReturn)
                .join(QcCase, col(QcCase.case_id) == col(QcReturn.case_id))
                .where(col(QcCase.warehouse_id) == warehouse_id, col(QcReturn.status) == ReturnStatus.EXPECTED)
                .order_by(col(QcReturn.expected_at))
                .limit(LANE_LIMIT)
            )
        ).all()
    for row, lane, since, due, in_lane in cases:
        since = since or now
        counts[lane] = in_lane
        lanes[lane].append(
            QueueItem(
                case_id=row.case_id,
                order_id=row.order_id,
                aftersale_case_id=row.aftersale_case_id,
                category=row.category,
                status=row.status,
                since=since,
                age_seconds=max(0.0, (now - since).total_seconds()),
                assigned_inspector_id=row.assigned_inspector_id,
                due_at=due,
            )
        )
    return WarehouseQueue(
        warehouse_id=warehouse_id, returns=[return_public(r) for r in returns], counts=counts, **lanes
    )


async def _stats(session: AsyncSession, warehouse: Warehouse, since: datetime, window: timedelta) -> WarehouseStats:
    wid = warehouse.warehouse_id
    # Time to verdict counts to the first verdict (an appeal's review replaced it on the case).
    first_at = func.coalesce(
        cast(col(QcAppeal.first_verdict)["decided_at"].astext, DateTime(timezone=True)), col(QcCase.verdict_at)
    )
    row = (
        await session.execute(
            select(
                func.count().filter(col(QcCase.verdict_result) == VerdictResult.PASSED),
                func.count().filter(col(QcCase.verdict_result) == VerdictResult.FAILED),
                func.avg(cast(func.extract("epoch", first_at - col(QcCase.arrived_at)), Float)),
                func.count(col(QcAppeal.case_id)),
                func.count().filter(col(QcAppeal.status) == AppealStatus.OVERTURNED),
                func.count().filter(col(QcAppeal.status) != AppealStatus.OPEN),
            )
            .select_from(QcCase)
            .outerjoin(QcAppeal, col(QcAppeal.case_id) == col(QcCase.case_id))
            .where(col(QcCase.warehouse_id) == wid, col(QcCase.verdict_at) > since)
        )
    ).one()
    passed, failed, avg_seconds, appeals, overturned, reviewed = row
    open_cases = (await open_counts(session, [wid]))[wid]
    decided = passed + failed
    return WarehouseStats(
        warehouse_id=wid,
        window_days=window.total_seconds() / 86_400,
        verdicts=decided + reviewed,  # a reviewed appeal had two verdicts
        passed=passed,
        failed=failed,
        pass_rate=passed / decided if decided else None,
        average_seconds_to_verdict=float(avg_seconds) if avg_seconds is not None else None,
        appeals=appeals,
        overturned=overturned,
        open_cases=open_cases,
        capacity=warehouse.capacity,
    )


async def warehouse_stats(runtime: QcRuntime, principal: Principal, warehouse_id: str) -> WarehouseStats:
    may_operate(principal, warehouse_id)
    window = timedelta(seconds=runtime.settings.warehouse_stats_window_seconds)
    async with runtime.snapshot() as session:
        warehouse = await _warehouse(session, warehouse_id)
        stats = await _stats(session, warehouse, utcnow() - window, window)
    _export(stats)
    return stats


def _export(stats: WarehouseStats) -> None:
    wid = stats.warehouse_id
    VERDICTS.labels(wid, "PASSED").set(stats.passed)
    VERDICTS.labels(wid, "FAILED").set(stats.failed)
    PASS_RATE.labels(wid).set(stats.pass_rate if stats.pass_rate is not None else float("nan"))
    seconds = stats.average_seconds_to_verdict
    TIME_TO_VERDICT.labels(wid).set(seconds if seconds is not None else float("nan"))


async def refresh_metrics(runtime: QcRuntime) -> None:
    """Every warehouse's queue and figures into the gauges, at once."""
    window = timedelta(seconds=runtime.settings.warehouse_stats_window_seconds)
    async with runtime.transaction() as session:
        warehouses = (await session.scalars(select(Warehouse))).all()
        now = utcnow()
        for warehouse in warehouses:
            _export(await _stats(session, warehouse, now - window, window))
        # Each warehouse's lanes counted by the database: a warehouse holds thousands of open cases, and loading each
        # of them here (every worker, every round) kept the event loop, and the consumer on it, from running.
        waiting = (
            await session.execute(
                select(col(QcCase.warehouse_id), LANE, func.count(), func.min(SINCE))
                .where(col(QcCase.warehouse_id).is_not(None), _OPEN)
                .group_by(col(QcCase.warehouse_id), LANE)
            )
        ).all()
    counted = {(wid, lane): (n, oldest) for wid, lane, n, oldest in waiting}
    for warehouse in warehouses:
        for lane in ("inbound", "arrived", "awaiting_verdict", "awaiting_dispatch"):
            n, oldest = counted.get((warehouse.warehouse_id, lane), (0, None))
            QUEUE.labels(warehouse.warehouse_id, lane).set(n)
            OLDEST.labels(warehouse.warehouse_id, lane).set(max(0.0, (now - (oldest or now)).total_seconds()))


async def metrics_loop(runtime: QcRuntime) -> None:
    while True:
        try:
            await refresh_metrics(runtime)
        except Exception:  # the loop outlives a database hiccup; the figures just age until the next round
            log.exception("warehouse metrics refresh failed")
        await asyncio.sleep(runtime.settings.warehouse_metrics_seconds)


# --- evidence -----------------------------------------------------------------------------------------------------


async def read_evidence(
    runtime: QcRuntime, store: EvidenceStore, principal: Principal | None, evidence_id: str
) -> tuple[bytes, str]:
    """The bytes and content type, when the reader may see them: anyone for a certificate's photos; otherwise the
    uploader, the admin and whoever may see a case that uses the evidence. Everything else is a 404."""
    async with runtime.transaction() as session:
        evidence = await session.get(Evidence, evidence_id)
        cases = []
        grants: list[EvidenceAftersale] = []
        if evidence is not None:
            cases = list(
                (
                    await session.execute(
                        select(QcCase, col(EvidenceLink.purpose))
                        .join(EvidenceLink, col(EvidenceLink.case_id) == col(QcCase.case_id))
                        .where(col(EvidenceLink.evidence_id) == evidence_id)
                    )
                ).all()
            )
            grants = list(
                (
                    await session.scalars(
                        select(EvidenceAftersale).where(col(EvidenceAftersale.evidence_id) == evidence_id)
                    )
                ).all()
            )
    public = any(purpose == "VERDICT" and case.certificate_no is not None for case, purpose in cases)
    allowed = public or (
        principal is not None
        and evidence is not None
        and (
            principal.role is Role.ADMIN
            or principal.actor == evidence.uploaded_by
            or any(CASES.allows(principal, case) for case, _ in cases)
            or any(aftersale_party(principal, grant) for grant in grants)
        )
    )
    if evidence is None or not allowed:
        raise NotFound(f"evidence {evidence_id} not found", code="EVIDENCE_NOT_FOUND")
    data = await store.get(evidence.sha256)
    if data is None:
        raise NotFound(f"evidence {evidence_id} has no stored content", code="EVIDENCE_NOT_FOUND")
    return data, evidence.content_type


def aftersale_party(principal: Principal, grant: EvidenceAftersale) -> bool:
    """The buyer or the shop (its seller, or a partner acting for it) of the after-sales case the evidence is on."""
    if principal.role is Role.BUYER:
        return grant.buyer_id is not None and principal.sub == grant.buyer_id
    if principal.role is Role.SELLER:
        return grant.shop_id is not None and principal.serves_shop(grant.shop_id)
    return False
