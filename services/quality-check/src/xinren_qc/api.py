"""HTTP routes of the quality-check service: parse, authorize, run a command or a query."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, UploadFile

from xinren_shared.auth import CurrentPrincipal, Principal, Role, bearer_token, principal_from_request
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.errors import DomainError, error_responses
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import checklists, queries, workqueue
from .access import CASE_READERS, INSPECTION_ERROR_READERS
from .domain import CaseStatus
from .handlers import evidence, inspection, operations, returns, routing, verdicts
from .schemas import (
    AppealIn,
    ArrivalIn,
    AssignIn,
    CasePublic,
    CertificatePublic,
    DispatchIn,
    InspectionErrorPublic,
    ReturnCheckIn,
    RouteIn,
    ShopStrikes,
    VerdictIn,
    WarehouseCreate,
    WarehouseCreated,
    WarehousePatch,
    WarehousePublic,
)
from .schemas_ops import ChecklistMeasurement, ChecklistPublic, EvidencePublic, WarehouseQueue, WarehouseStats
from .settings import QcSettings
from .storage import EvidenceStore

router = APIRouter(prefix="/v1")

PathId = Annotated[str, Path(min_length=1, max_length=200)]
RuntimeDep = Annotated[ServiceRuntime[QcSettings], Depends(runtime_of)]
OPERATORS = (Role.ADMIN, Role.WAREHOUSE, Role.INSPECTOR)


async def store_of(request: Request) -> EvidenceStore:
    store: EvidenceStore = request.app.state.evidence_store
    return store


async def optional_principal(request: Request) -> Principal | None:
    """The caller when a token is given (a bad one is still a 401); None for an anonymous reader."""
    return principal_from_request(request) if bearer_token(request) is not None else None


StoreDep = Annotated[EvidenceStore, Depends(store_of)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


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


@router.patch(
    "/warehouses/{warehouse_id}",
    response_model=WarehousePublic,
    tags=["warehouses"],
    responses=error_responses(403, 404),
)
async def update_warehouse(
    warehouse_id: PathId, body: WarehousePatch, principal: CurrentPrincipal, commands: Commands
) -> WarehousePublic:
    """Admin: change what the warehouse inspects (cases waiting for a new category are routed here) and its
    capacity (routing prefers warehouses with room; null: no limit)."""
    principal.require(Role.ADMIN)
    return await commands.run(operations.update_warehouse, principal, warehouse_id, body)


@router.get(
    "/warehouses/{warehouse_id}/queue",
    response_model=WarehouseQueue,
    tags=["warehouses"],
    responses=error_responses(403, 404),
)
async def warehouse_queue(warehouse_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> WarehouseQueue:
    """The warehouse's work, oldest first in each lane: inbound, arrived (no inspector yet), awaiting verdict,
    awaiting dispatch, and certified items expected back."""
    principal.require(*OPERATORS)
    return await workqueue.warehouse_queue(runtime, principal, warehouse_id)


@router.get(
    "/warehouses/{warehouse_id}/stats",
    response_model=WarehouseStats,
    tags=["warehouses"],
    responses=error_responses(403, 404),
)
async def warehouse_stats(warehouse_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> WarehouseStats:
    """Throughput, pass rate and average time from arrival to verdict over the stats window (also in /metrics)."""
    principal.require(*OPERATORS)
    return await workqueue.warehouse_stats(runtime, principal, warehouse_id)


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
    return await commands.run(verdicts.record_verdict, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/appeal", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def appeal_verdict(
    case_id: PathId, body: AppealIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """The shop's seller appeals a failure within the appeal window; another inspector reviews it."""
    principal.require(Role.SELLER)
    return await commands.run(verdicts.appeal_verdict, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/review", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def review_verdict(
    case_id: PathId, body: VerdictIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """Another inspector of the warehouse (never the first) decides an appeal; the outcome is final."""
    principal.require(Role.INSPECTOR)
    return await commands.run(verdicts.review_verdict, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/assign", response_model=CasePublic, tags=["cases"], responses=error_responses(403, 404, 409)
)
async def assign_inspector(
    case_id: PathId, body: AssignIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """Warehouse staff (or the admin) name the inspector who gives the case's verdict."""
    principal.require(Role.WAREHOUSE, Role.ADMIN)
    return await commands.run(operations.assign_inspector, principal, case_id, body)


@router.post(
    "/qc/cases/{case_id}/return-check",
    response_model=CasePublic,
    tags=["cases"],
    responses=error_responses(403, 404, 409),
)
async def check_return(
    case_id: PathId, body: ReturnCheckIn, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """Warehouse staff check a certified item coming back on a return: the seal, then the measurements."""
    principal.require(Role.WAREHOUSE)
    return await commands.run(returns.record_return_check, principal, case_id, body)


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


# --- evidence and checklists -------------------------------------------------------------------------------------


@router.post(
    "/evidence",
    status_code=201,
    response_model=EvidencePublic,
    tags=["evidence"],
    responses=error_responses(413, 422),
)
async def upload_evidence(
    file: UploadFile, request: Request, principal: CurrentPrincipal, commands: Commands, store: StoreDep
) -> EvidencePublic:
    """Any party: a photo (JPEG, PNG or WebP, judged by its content) stored once by its SHA-256."""
    limit = request.app.state.settings.evidence_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise DomainError(f"the file is larger than {limit} bytes", code="EVIDENCE_TOO_LARGE", status=413)
    return await commands.run(evidence.upload_evidence, principal, data, store)


@router.get(
    "/evidence/{evidence_id}",
    tags=["evidence"],
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}, **error_responses(404)},
    response_class=Response,
)
async def read_evidence(
    evidence_id: PathId, runtime: RuntimeDep, principal: MaybePrincipal, store: StoreDep
) -> Response:
    """The photo: a certificate's photos to anyone; other evidence to the uploader, the admin and the parties of
    a case that uses it (everyone else: 404)."""
    data, content_type = await workqueue.read_evidence(runtime, store, principal, evidence_id)
    return Response(content=data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/qc/checklists/{category}", response_model=ChecklistPublic, tags=["cases"])
async def get_checklist(
    category: Annotated[str, Path(min_length=1, max_length=100)], principal: CurrentPrincipal, runtime: RuntimeDep
) -> ChecklistPublic:
    """What a pass of the category needs: the measurements, the photos, the seal. A category without a checklist
    keeps the plain rule (findings; photos optional)."""
    checklist = checklists.checklist_for(category)
    if checklist is None:
        return ChecklistPublic(
            category=category.strip().lower(), checklist=False, measurements=[], min_photos=0, seal_required=False
        )
    return ChecklistPublic(
        category=checklist.category,
        checklist=True,
        measurements=[ChecklistMeasurement(**m) for m in checklists.describe(checklist)],
        min_photos=runtime.settings.min_pass_photos,
        seal_required=True,
        notes=checklist.notes,
    )


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
