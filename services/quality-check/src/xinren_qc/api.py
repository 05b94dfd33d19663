"""HTTP routes of the quality-check service: parse, authorize, run a command or a query."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from xinren_shared.auth import CurrentPrincipal, Role
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.errors import error_responses
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import queries
from .access import CASE_READERS, INSPECTION_ERROR_READERS
from .domain import CaseStatus
from .handlers import inspection, routing
from .schemas import (
    ArrivalIn,
    CasePublic,
    CertificatePublic,
    DispatchIn,
    InspectionErrorPublic,
    RouteIn,
    ShopStrikes,
    VerdictIn,
    WarehouseCreate,
    WarehouseCreated,
    WarehousePublic,
)
from .settings import QcSettings

router = APIRouter(prefix="/v1")

PathId = Annotated[str, Path(min_length=1, max_length=200)]
RuntimeDep = Annotated[ServiceRuntime[QcSettings], Depends(runtime_of)]


# --- warehouses ---------------------------------------------------------------------------------------------------


@router.post(
    "/warehouses",
    status_code=201,
    response_model=WarehouseCreated,
    tags=["warehouses"],
    responses=error_responses(403, 409),
)
async def create_warehouse(body: WarehouseCreate, principal: CurrentPrincipal, commands: Commands) -> WarehouseCreated:
    principal.require(Role.ADMIN)
    return await commands.run(routing.create_warehouse, principal, body)


@router.get("/warehouses", response_model=Page[WarehousePublic], tags=["warehouses"])
async def list_warehouses(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    category: Annotated[str | None, Query(max_length=100)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[WarehousePublic]:
    # Any signed-in caller: which warehouses inspect what, and their load.
    return await queries.list_warehouses(runtime, category=category, limit=limit, cursor=cursor)


@router.get(
    "/warehouses/{warehouse_id}", response_model=WarehousePublic, tags=["warehouses"], responses=error_responses(404)
)
async def get_warehouse(warehouse_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> WarehousePublic:
    return await queries.get_warehouse(runtime, warehouse_id)


@router.get(
    "/warehouses/{warehouse_id}/inspection-errors",
    response_model=Page[InspectionErrorPublic],
    tags=["warehouses"],
    responses=error_responses(403, 404),
)
async def list_inspection_errors(
    warehouse_id: PathId,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    inspector_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[InspectionErrorPublic]:
    """Certified items later ruled counterfeit: the warehouse's and its inspectors' errors, never the shop's."""
    principal.require(*INSPECTION_ERROR_READERS)
    return await queries.list_inspection_errors(
        runtime, principal, warehouse_id, inspector_id=inspector_id, limit=limit, cursor=cursor
    )


# --- cases --------------------------------------------------------------------------------------------------------


@router.get("/qc/cases", response_model=Page[CasePublic], tags=["cases"], responses=error_responses(403))
async def list_cases(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    order_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    status: CaseStatus | None = None,
    warehouse_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CasePublic]:
    principal.require(*CASE_READERS)
    return await queries.list_cases(
        runtime, principal, order_id=order_id, status=status, warehouse_id=warehouse_id, limit=limit, cursor=cursor
    )


@router.get("/qc/cases/{case_id}", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404))
async def get_case(case_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> CasePublic:
    principal.require(*CASE_READERS)
    return await queries.get_case(runtime, principal, case_id)


@router.post(
    "/qc/cases/{case_id}/arrival", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_arrival(
    case_id: PathId, body: ArrivalIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    principal.require(Role.WAREHOUSE)
    return await commands.run(inspection.record_arrival, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/verdict", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_verdict(
    case_id: PathId, body: VerdictIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    principal.require(Role.INSPECTOR)
    return await commands.run(inspection.record_verdict, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/dispatch", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def record_dispatch(
    case_id: PathId, body: DispatchIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    principal.require(Role.WAREHOUSE)
    return await commands.run(inspection.record_dispatch, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/route", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def route_case(case_id: PathId, body: RouteIn, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    """Admin: send a case that awaits routing (no warehouse inspects its category) to a named warehouse."""
    principal.require(Role.ADMIN)
    return await commands.run(routing.route_case, principal, case_id, body)


# --- public certificate verification ------------------------------------------------------------------------------


@router.get(
    "/certificates/{certificate_no}",
    response_model=CertificatePublic,
    tags=["certificates"],
    responses=error_responses(404),
)
async def verify_certificate(
    certificate_no: Annotated[str, Path(min_length=1, max_length=64)], runtime: RuntimeDep
) -> CertificatePublic:
    """Anyone, without a token: what a buyer (or a later buyer) needs to trust the item, and nothing private."""
    return await queries.get_certificate(runtime, certificate_no)


# --- seller enforcement -------------------------------------------------------------------------------------------


@router.get(
    "/shops/{shop_id}/strikes", response_model=ShopStrikes, tags=["enforcement"], responses=error_responses(403)
)
async def shop_strikes(shop_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> ShopStrikes:
    principal.require(Role.ADMIN, Role.SELLER)
    return await queries.shop_strikes(runtime, principal, shop_id)
