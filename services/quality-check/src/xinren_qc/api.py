"""HTTP routes of the quality-check service: parse, authorize, call a handler, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.errors import error_responses
from xinren_shared.pagination import Cursor, Limit, Page

from . import handlers
from .domain import CaseStatus, VerdictResult
from .models import QcCase, QcCaseEvent, Warehouse
from .schemas import (
    ArrivalIn,
    CasePublic,
    CertificateInspector,
    CertificateItem,
    CertificatePublic,
    CertificateWarehouse,
    DispatchIn,
    DispatchPublic,
    ItemPublic,
    RouteIn,
    ShipmentPublic,
    ShopStrikes,
    StrikePublic,
    TimelineEntry,
    VerdictIn,
    VerdictPublic,
    WarehouseCreate,
    WarehouseCreated,
    WarehousePublic,
)

router = APIRouter(prefix="/v1")

PathId = Annotated[str, Path(min_length=1, max_length=200)]


def _runtime(request: Request):
    return request.app.state.runtime


# --- shaping ------------------------------------------------------------------------------------------------------


def _warehouse(w: Warehouse, open_cases: int) -> WarehousePublic:
    return WarehousePublic(
        warehouse_id=w.warehouse_id,
        name=w.name,
        address=w.address,
        categories=list(w.categories),
        open_cases=open_cases,
        created_at=w.created_at,
    )


def _case(c: QcCase, timeline: list[QcCaseEvent]) -> CasePublic:
    verdict = None
    if c.verdict_result is not None:
        verdict = VerdictPublic(
            result=c.verdict_result,
            failure_reason=c.failure_reason,
            findings=c.findings or "",
            photos=c.photos or [],
            inspector_id=c.inspector_id,
            decided_at=c.verdict_at,
        )
    dispatch = None
    if c.dispatch_to is not None:
        dispatch = DispatchPublic(
            to=c.dispatch_to,
            carrier=c.dispatch_carrier,
            tracking_no=c.dispatch_tracking_no,
            dispatched_at=c.dispatched_at,
            dispatched_by=c.dispatched_by,
        )
    inbound = None
    if c.inbound_tracking_no is not None:
        inbound = ShipmentPublic(carrier=c.inbound_carrier, tracking_no=c.inbound_tracking_no)
    return CasePublic(
        case_id=c.case_id,
        order_id=c.order_id,
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
        dispatch=dispatch,
        created_at=c.created_at,
        updated_at=c.updated_at,
        timeline=[TimelineEntry(at=e.at, status=e.status, actor=e.actor, reason=e.reason) for e in timeline],
    )


async def _case_after(request: Request, principal, case: QcCase) -> CasePublic:
    found, timeline = await handlers.get_case(_runtime(request), principal, case.case_id)
    return _case(found, timeline)


# --- warehouses ---------------------------------------------------------------------------------------------------


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseCreated,
    tags=["warehouses"],
    responses=error_responses(403, 409),
)
async def create_warehouse(body: WarehouseCreate, request: Request, principal: CurrentPrincipal) -> WarehouseCreated:
    created = await handlers.create_warehouse(_runtime(request), principal, body)
    public = _warehouse(created.warehouse, len(created.routed_case_ids))
    return WarehouseCreated(**public.model_dump(), routed_case_ids=created.routed_case_ids)


@router.get("/warehouses", response_model=Page[WarehousePublic], tags=["warehouses"])
async def list_warehouses(
    request: Request,
    principal: CurrentPrincipal,
    category: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WarehousePublic]:
    page, counts, next_cursor = await handlers.list_warehouses(
        _runtime(request), principal, category=category, limit=limit, cursor=cursor
    )
    return Page[WarehousePublic](items=[_warehouse(w, counts[w.warehouse_id]) for w in page], next_cursor=next_cursor)


@router.get(
    "/warehouses/{warehouse_id}", response_model=WarehousePublic, tags=["warehouses"], responses=error_responses(404)
)
async def get_warehouse(warehouse_id: PathId, request: Request, principal: CurrentPrincipal) -> WarehousePublic:
    warehouse, open_cases = await handlers.get_warehouse(_runtime(request), principal, warehouse_id)
    return _warehouse(warehouse, open_cases)


# --- cases --------------------------------------------------------------------------------------------------------


@router.get("/qc/cases", response_model=Page[CasePublic], tags=["cases"], responses=error_responses(403))
async def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    order_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: CaseStatus | None = None,
    warehouse_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CasePublic]:
    page, timelines, next_cursor = await handlers.list_cases(
        _runtime(request),
        principal,
        order_id=order_id,
        status=status,
        warehouse_id=warehouse_id,
        limit=limit,
        cursor=cursor,
    )
    return Page[CasePublic](items=[_case(c, timelines[c.case_id]) for c in page], next_cursor=next_cursor)


@router.get("/qc/cases/{case_id}", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404))
async def get_case(case_id: PathId, request: Request, principal: CurrentPrincipal) -> CasePublic:
    case, timeline = await handlers.get_case(_runtime(request), principal, case_id)
    return _case(case, timeline)


@router.post(
    "/qc/cases/{case_id}/arrival", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_arrival(case_id: PathId, body: ArrivalIn, request: Request, principal: CurrentPrincipal) -> CasePublic:
    case = await handlers.record_arrival(_runtime(request), principal, case_id, body)
    return await _case_after(request, principal, case)


@router.post(
    "/qc/cases/{case_id}/verdict", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_verdict(case_id: PathId, body: VerdictIn, request: Request, principal: CurrentPrincipal) -> CasePublic:
    case = await handlers.record_verdict(_runtime(request), principal, case_id, body)
    return await _case_after(request, principal, case)


@router.post(
    "/qc/cases/{case_id}/dispatch", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_dispatch(
    case_id: PathId, body: DispatchIn, request: Request, principal: CurrentPrincipal
) -> CasePublic:
    case = await handlers.record_dispatch(_runtime(request), principal, case_id, body)
    return await _case_after(request, principal, case)


@router.post(
    "/qc/cases/{case_id}/route", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def route_case(case_id: PathId, body: RouteIn, request: Request, principal: CurrentPrincipal) -> CasePublic:
    """Admin: send a case that awaits routing (no warehouse inspects its category) to a named warehouse."""
    case = await handlers.route_case(_runtime(request), principal, case_id, body)
    return await _case_after(request, principal, case)


# --- public certificate verification ------------------------------------------------------------------------------


@router.get(
    "/certificates/{certificate_no}",
    response_model=CertificatePublic,
    tags=["certificates"],
    responses=error_responses(404),
)
async def verify_certificate(
    certificate_no: Annotated[str, Path(min_length=1, max_length=64)], request: Request
) -> CertificatePublic:
    """Anyone, without a token: what a buyer (or a later buyer) needs to trust the item, and nothing private."""
    found = await handlers.get_certificate(_runtime(request), certificate_no)
    c, w = found.case, found.warehouse
    return CertificatePublic(
        certificate_no=c.certificate_no,
        order_id=c.order_id,
        case_id=c.case_id,
        verdict=VerdictResult(c.verdict_result),
        items=[CertificateItem(title=i["title"], category=i["category"]) for i in c.items],
        category=c.category,
        findings=c.findings or "",
        photos=c.photos or [],
        warehouse=CertificateWarehouse(warehouse_id=w.warehouse_id, name=w.name),
        inspector=CertificateInspector(inspector_id=c.inspector_id),
        issued_at=c.verdict_at,
        dispatched=c.dispatched_at is not None,
    )


# --- seller enforcement -------------------------------------------------------------------------------------------


@router.get(
    "/shops/{shop_id}/strikes", response_model=ShopStrikes, tags=["enforcement"], responses=error_responses(403)
)
async def shop_strikes(shop_id: PathId, request: Request, principal: CurrentPrincipal) -> ShopStrikes:
    runtime = _runtime(request)
    record = await handlers.shop_strikes(runtime, principal, shop_id)
    return ShopStrikes(
        shop_id=record.shop_id,
        status=record.status,
        suspended_at=record.suspended_at,
        strikes_at_suspension=record.strikes_at_suspension,
        active_strikes=len(record.active_ids),
        threshold=runtime.settings.strike_threshold,
        window_days=runtime.settings.strike_window_seconds / 86_400,
        strikes=[
            StrikePublic(
                strike_id=s.strike_id,
                case_id=s.case_id,
                order_id=s.order_id,
                reason=s.reason,
                struck_at=s.struck_at,
                active=s.strike_id in record.active_ids,
            )
            for s in record.strikes
        ],
    )
