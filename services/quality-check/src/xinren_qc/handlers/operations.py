"""Warehouse operations: the admin changes what a warehouse inspects and how much it holds; staff assign an
inspector to a case."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from xinren_shared.auth import Principal
from xinren_shared.errors import NotFound

from ..domain import CASE, CaseStatus
from ..models import QcCaseEvent, Warehouse
from ..schemas import AssignIn, CasePublic, WarehousePatch, WarehousePublic
from ..views import case_public, open_counts, warehouse_public
from .cases import QcUnit, lock_own_case
from .routing import route_waiting, routing_lock

# An inspector may be (re)assigned while the item waits for a verdict or a review.
ASSIGNABLE = frozenset(
    {CaseStatus.AWAITING_INBOUND, CaseStatus.IN_TRANSIT, CaseStatus.IN_INSPECTION, CaseStatus.APPEALED}
)


async def update_warehouse(
    uow: QcUnit, principal: Principal, warehouse_id: str, body: WarehousePatch
) -> WarehousePublic:
    """New categories take effect for the next routing (cases already routed stay); cases that waited for a
    warehouse inspecting a newly listed category are routed here at once. Capacity null: no limit."""
    session = uow.session
    await routing_lock(session, exclusive=True)
    warehouse = (
        await session.scalars(select(Warehouse).where(col(Warehouse.warehouse_id) == warehouse_id).with_for_update())
    ).one_or_none()
    if warehouse is None:
        raise NotFound(f"warehouse {warehouse_id} not found", code="WAREHOUSE_NOT_FOUND")
    if body.categories is not None:
        added = [c for c in body.categories if c not in warehouse.categories]
        warehouse.categories = body.categories
        if added:
            await route_waiting(uow, warehouse, added, principal.actor)
    if "capacity" in body.model_fields_set:
        warehouse.capacity = body.capacity
    await session.flush()
    return warehouse_public(warehouse, (await open_counts(session, [warehouse_id]))[warehouse_id])


async def assign_inspector(uow: QcUnit, principal: Principal, case_id: str, body: AssignIn) -> CasePublic:
    """Staff of the case's warehouse (or the admin) name the inspector who gives its verdict."""
    case = await lock_own_case(uow.session, principal, case_id)
    if case.assigned_inspector_id == body.inspector_id:
        return await case_public(uow.session, principal, case)  # the same assignment again
    status = CaseStatus(case.status)
    if status not in ASSIGNABLE:
        CASE.require(status, CaseStatus.IN_INSPECTION)  # 409 ILLEGAL_TRANSITION with the current status
    case.assigned_inspector_id = body.inspector_id
    case.updated_at = uow.now
    uow.session.add(
        QcCaseEvent(
            case_id=case.case_id,
            at=uow.now,
            status=status,
            actor=principal.actor,
            reason=f"assigned to inspector {body.inspector_id}",
        )
    )
    return await case_public(uow.session, principal, case)
