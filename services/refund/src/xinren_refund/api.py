"""HTTP routes of the refund service: parse, authorize, call a handler, shape the response."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.contracts.vocabulary import AfterSaleStatus, CompensationKind
from xinren_shared.errors import error_responses
from xinren_shared.pagination import Cursor, Limit, Page

from . import handlers
from .domain import CompensationStatus
from .schemas import (
    ArbitrateBody,
    CaseCreate,
    CasePublic,
    CaseSummary,
    CompensationPublic,
    EligibilityPublic,
    ReasonBody,
    RejectBody,
    ReturnShipmentBody,
)

router = APIRouter(prefix="/v1", tags=["after-sales"])

OrderFilter = Annotated[str | None, Query(max_length=200)]
OptionalReason = Annotated[ReasonBody | None, Body()]


def _rt(request: Request):
    return request.app.state.runtime


@router.post("/after-sales", status_code=201, response_model=CasePublic, responses=error_responses(403, 404, 409))
async def open_case(request: Request, body: CaseCreate, principal: CurrentPrincipal) -> CasePublic:
    """A buyer asks for a refund (or a return and refund) on own order; rules may approve it at once."""
    return await handlers.open_case(_rt(request), principal, body)


@router.get("/after-sales", response_model=Page[CaseSummary], responses=error_responses(403))
async def list_cases(
    request: Request,
    principal: CurrentPrincipal,
    order_id: OrderFilter = None,
    status: AfterSaleStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CaseSummary]:
    return await handlers.list_cases(
        _rt(request), principal, order_id=order_id, status=status, limit=limit, cursor=cursor
    )


@router.get("/after-sales/eligibility", response_model=EligibilityPublic, responses=error_responses(403, 404))
async def eligibility(
    request: Request, principal: CurrentPrincipal, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> EligibilityPublic:
    """How much of an order can still be asked for, and until when a no-reason return is possible."""
    return await handlers.eligibility(_rt(request), principal, order_id)


@router.get("/after-sales/{case_id}", response_model=CasePublic, responses=error_responses(403, 404))
async def get_case(request: Request, case_id: str, principal: CurrentPrincipal) -> CasePublic:
    return await handlers.get_case(_rt(request), principal, case_id)


@router.post("/after-sales/{case_id}/approve", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def approve(
    request: Request, case_id: str, principal: CurrentPrincipal, body: OptionalReason = None
) -> CasePublic:
    return await handlers.approve_case(_rt(request), principal, case_id, body.reason if body else None)


@router.post("/after-sales/{case_id}/reject", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def reject(request: Request, case_id: str, body: RejectBody, principal: CurrentPrincipal) -> CasePublic:
    return await handlers.reject_case(_rt(request), principal, case_id, body.reason)


@router.post(
    "/after-sales/{case_id}/return-shipment", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def return_shipment(
    request: Request, case_id: str, body: ReturnShipmentBody, principal: CurrentPrincipal
) -> CasePublic:
    return await handlers.ship_return(_rt(request), principal, case_id, body.carrier, body.tracking_no)


@router.post(
    "/after-sales/{case_id}/return-received", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def return_received(request: Request, case_id: str, principal: CurrentPrincipal) -> CasePublic:
    return await handlers.confirm_return_received(_rt(request), principal, case_id)


@router.post("/after-sales/{case_id}/escalate", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def escalate(
    request: Request, case_id: str, principal: CurrentPrincipal, body: OptionalReason = None
) -> CasePublic:
    return await handlers.escalate_case(_rt(request), principal, case_id, body.reason if body else None)


@router.post("/after-sales/{case_id}/arbitrate", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def arbitrate(request: Request, case_id: str, body: ArbitrateBody, principal: CurrentPrincipal) -> CasePublic:
    return await handlers.arbitrate_case(_rt(request), principal, case_id, body)


@router.post("/after-sales/{case_id}/cancel", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def cancel(
    request: Request, case_id: str, principal: CurrentPrincipal, body: OptionalReason = None
) -> CasePublic:
    """The buyer withdraws an open case (before any goods or money are on the way)."""
    return await handlers.cancel_case(_rt(request), principal, case_id, body.reason if body else None)


@router.get(
    "/compensations", response_model=Page[CompensationPublic], tags=["compensations"], responses=error_responses(403)
)
async def list_compensations(
    request: Request,
    principal: CurrentPrincipal,
    order_id: OrderFilter = None,
    case_id: OrderFilter = None,
    kind: CompensationKind | None = None,
    status: CompensationStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CompensationPublic]:
    return await handlers.list_compensations(
        _rt(request),
        principal,
        order_id=order_id,
        case_id=case_id,
        kind=kind,
        status=status,
        limit=limit,
        cursor=cursor,
    )
