"""The public shape of a case and a compensation, built from their rows (for command answers and reads alike)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from . import domain
from .models import AfterSaleCase, CaseMessage, CaseTimelineEntry, Compensation, OrderView
from .schemas import (
    AddressPublic,
    CaseItemPublic,
    CasePublic,
    CaseSummary,
    CompensationPublic,
    MessagePublic,
    OfferPublic,
    ReturnShipmentPublic,
    TimelineEntryPublic,
)

# Where a QC product's replacement is on its way to (or is to be sent to) the quality-check warehouse.
_TO_THE_WAREHOUSE = frozenset({domain.S.AWAITING_REPLACEMENT, domain.S.REPLACEMENT_INSPECTING})


def case_summary(case: AfterSaleCase) -> CaseSummary:
    summary = CaseSummary.model_validate(case, from_attributes=True)
    summary.next_actor = domain.next_actor(case.status)
    summary.due_at = domain.due_at(case)
    return summary


def compensation_public(cp: Compensation) -> CompensationPublic:
    return CompensationPublic.model_validate(cp, from_attributes=True)


async def case_public(s: AsyncSession, case: AfterSaleCase) -> CasePublic:
    """The case with its timeline and compensations, as this transaction sees them."""
    await s.flush()
    timeline = await s.execute(
        select(CaseTimelineEntry).where(CaseTimelineEntry.case_id == case.case_id).order_by(col(CaseTimelineEntry.id))
    )
    compensations = await s.execute(
        select(Compensation).where(Compensation.case_id == case.case_id).order_by(col(Compensation.created_at))
    )
    shipment = None
    if case.return_carrier and case.return_tracking_no:
        shipment = ReturnShipmentPublic(carrier=case.return_carrier, tracking_no=case.return_tracking_no)
    replacement = None
    if case.replacement_carrier and case.replacement_tracking_no:
        replacement = ReturnShipmentPublic(carrier=case.replacement_carrier, tracking_no=case.replacement_tracking_no)
    address, missing, via_warehouse, replacement_via = None, False, None, None
    if case.status in _TO_THE_WAREHOUSE:
        view = await s.get(OrderView, case.order_id)
        replacement_via = view.qc_warehouse_address if view is not None and view.qc_required else None
    if case.return_required and case.approved_at is not None:
        # The view is in this session already when a command answers (it locked it): no second read then.
        view = await s.get(OrderView, case.order_id)
        if view is not None and view.certificate_no and view.qc_warehouse_address:
            via_warehouse = view.qc_warehouse_address  # a certified item goes back through the warehouse
        else:
            raw = view.return_address if view is not None else None
            address, missing = (AddressPublic.model_validate(raw), False) if raw else (None, True)
    return CasePublic(
        **dict(case_summary(case)),
        description=case.description,
        evidence=list(case.evidence or []),
        return_address=address,
        return_address_missing=missing,
        return_via_warehouse=via_warehouse,
        return_shipment=shipment,
        items=[CaseItemPublic.model_validate(i) for i in case.items or []],
        offer=OfferPublic.model_validate(case.offer) if case.offer else None,
        evidence_requested_at=case.evidence_requested_at,
        replacement_shipment=replacement,
        replacement_shipped_at=case.replacement_shipped_at,
        replacement_via_warehouse=replacement_via,
        replacement_inspection_id=case.replacement_qc_case_id,
        replacement_certificate_no=case.replacement_certificate_no,
        completed_at=case.completed_at,
        compensations=[compensation_public(c) for c in compensations.scalars()],
        timeline=[TimelineEntryPublic.model_validate(t, from_attributes=True) for t in timeline.scalars()],
    )


def message_public(m: CaseMessage) -> MessagePublic:
    return MessagePublic.model_validate(m, from_attributes=True)
