"""Public shapes of cases and warehouses, with the reads they need: shared by commands and queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.contracts.vocabulary import DispatchTarget

from .access import DISPATCH_ADDRESS_FIELD, sees
from .domain import OPEN
from .models import QcAppeal, QcCase, QcCaseEvent, QcReturn, Warehouse
from .schemas import (
    Address,
    AppealPublic,
    CasePublic,
    DispatchPublic,
    ItemPublic,
    ReturnPublic,
    ShipmentPublic,
    TimelineEntry,
    VerdictPublic,
    WarehousePublic,
)


async def timelines(session: AsyncSession, case_ids: Sequence[str]) -> dict[str, list[QcCaseEvent]]:
    found: dict[str, list[QcCaseEvent]] = {cid: [] for cid in case_ids}
    if case_ids:
        rows = await session.execute(
            select(QcCaseEvent)
            .where(col(QcCaseEvent.case_id).in_(case_ids))
            .order_by(col(QcCaseEvent.case_id), col(QcCaseEvent.id))
        )
        for entry in rows.scalars():
            found[entry.case_id].append(entry)
    return found


async def open_counts(session: AsyncSession, warehouse_ids: Sequence[str]) -> dict[str, int]:
    """Each warehouse's open cases (its load)."""
    if not warehouse_ids:
        return {}
    rows = await session.execute(
        select(col(QcCase.warehouse_id), func.count())
        .where(col(QcCase.warehouse_id).in_(warehouse_ids), col(QcCase.status).in_([str(s) for s in OPEN]))
        .group_by(col(QcCase.warehouse_id))
    )
    counts = {wid: 0 for wid in warehouse_ids}
    counts.update({wid: n for wid, n in rows.all() if wid is not None})
    return counts


def warehouse_public(w: Warehouse, open_cases: int) -> WarehousePublic:
    return WarehousePublic(
        warehouse_id=w.warehouse_id,
        name=w.name,
        address=w.address,
        categories=list(w.categories),
        open_cases=open_cases,
        capacity=w.capacity,
        created_at=w.created_at,
    )


@dataclass
class CaseExtras:
    """What a case shows besides its row: the timeline, the appeal, the returns."""

    timeline: list[QcCaseEvent] = field(default_factory=list)
    appeal: QcAppeal | None = None
    returns: list[QcReturn] = field(default_factory=list)


async def extras(session: AsyncSession, case_ids: Sequence[str]) -> dict[str, CaseExtras]:
    lines = await timelines(session, case_ids)
    found = {cid: CaseExtras(timeline=lines[cid]) for cid in case_ids}
    if case_ids:
        for appeal in (await session.scalars(select(QcAppeal).where(col(QcAppeal.case_id).in_(case_ids)))).all():
            found[appeal.case_id].appeal = appeal
        returns = await session.scalars(
            select(QcReturn).where(col(QcReturn.case_id).in_(case_ids)).order_by(col(QcReturn.expected_at))
        )
        for ret in returns.all():
            found[ret.case_id].returns.append(ret)
    return found


async def case_public(session: AsyncSession, principal: Principal, case: QcCase) -> CasePublic:
    """The case as this reader sees it, with its timeline, appeal and returns."""
    await session.flush()
    return case_view(principal, case, (await extras(session, [case.case_id]))[case.case_id])


def return_public(r: QcReturn) -> ReturnPublic:
    return ReturnPublic.model_validate(r, from_attributes=True)


def _address(principal: Principal, field: str, value: dict[str, object] | None) -> Address | None:
    return Address.model_validate(value) if value is not None and sees(principal, field) else None


def case_view(principal: Principal, c: QcCase, more: CaseExtras) -> CasePublic:
    verdict = None
    if c.verdict_result is not None:
        verdict = VerdictPublic(
            result=c.verdict_result,
            failure_reason=c.failure_reason,
            findings=c.findings or "",
            photos=c.photos or [],
            photo_ids=c.photo_ids or [],
            measurements=c.measurements or {},
            seal_id=c.seal_id,
            inspector_id=c.inspector_id,
            decided_at=c.verdict_at,
            final_at=c.verdict_final_at,
        )
    dispatch = None
    if c.dispatch_to is not None:
        dispatch = DispatchPublic(
            to=c.dispatch_to,
            carrier=c.dispatch_carrier,
            tracking_no=c.dispatch_tracking_no,
            dispatched_at=c.dispatched_at,
            dispatched_by=c.dispatched_by,
            address=_address(principal, DISPATCH_ADDRESS_FIELD[DispatchTarget(c.dispatch_to)], c.dispatch_address),
        )
    inbound = None
    if c.inbound_tracking_no is not None:
        inbound = ShipmentPublic(carrier=c.inbound_carrier, tracking_no=c.inbound_tracking_no)
    return CasePublic(
        case_id=c.case_id,
        order_id=c.order_id,
        aftersale_case_id=c.aftersale_case_id,
        buyer_id=c.buyer_id,
        shop_id=c.shop_id,
        category=c.category,
        items=[ItemPublic.model_validate(i) for i in c.items],
        warehouse_id=c.warehouse_id,
        status=c.status,
        inbound_deadline=c.inbound_deadline,
        inbound_shipment=inbound,
        arrived_at=c.arrived_at,
        verdict=verdict,
        certificate_no=c.certificate_no,
        certificate_status=c.certificate_status,
        certificate_revoked_at=c.certificate_revoked_at,
        dispatch=dispatch,
        appeal_due_at=c.appeal_due_at,
        appeal=AppealPublic.model_validate(more.appeal, from_attributes=True) if more.appeal else None,
        assigned_inspector_id=c.assigned_inspector_id,
        returns=[return_public(r) for r in more.returns],
        shipping_address=_address(principal, "shipping_address", c.shipping_address),
        return_address=_address(principal, "return_address", c.return_address),
        created_at=c.created_at,
        updated_at=c.updated_at,
        timeline=[TimelineEntry(at=e.at, status=e.status, actor=e.actor, reason=e.reason) for e in more.timeline],
    )
