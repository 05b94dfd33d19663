"""HTTP routes of the refund service: parse, authorize by role, run a command or a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request

from xinren_shared.auth import CurrentPrincipal, Principal, Role
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.contracts.vocabulary import AfterSaleStatus, CompensationKind
from xinren_shared.errors import Forbidden, error_responses
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import queries, visibility
from .access import READERS
from .domain import CompensationStatus
from .handlers import commands as case_commands
from .handlers import negotiation, replacement
from .listener import OrderViewWatch
from .schemas import (
    ArbitrateBody,
    CaseCreate,
    CasePublic,
    CaseSummary,
    CompensationPublic,
    EligibilityPublic,
    EvidenceRequestCreate,
    MessageCreate,
    MessagePublic,
    OfferCreate,
    ReasonBody,
    RejectBody,
    ReplacementShipmentBody,
    ReturnShipmentBody,
)
from .settings import RefundSettings

router = APIRouter(prefix="/v1", tags=["after-sales"])

RuntimeDep = Annotated[ServiceRuntime[RefundSettings], Depends(runtime_of)]
OrderFilter = Annotated[str | None, Query(max_length=200)]
OptionalReason = Annotated[ReasonBody | None, Body()]


async def _order_view_watch(request: Request) -> OrderViewWatch:
    watch: OrderViewWatch = request.app.state.order_view_watch
    return watch


OrderViewWatchDep = Annotated[OrderViewWatch, Depends(_order_view_watch)]


def _reader(principal: Principal) -> Principal:
    """Reads are for the parties of a case and for admins (which rows each sees is access.py's)."""
    if principal.role not in READERS:
        raise Forbidden(
            f"role {principal.role} has no after-sales", details={"allowed_roles": [str(r) for r in READERS]}
        )
    return principal


def _reason(body: ReasonBody | None) -> str | None:
    return body.reason if body else None


@router.post("/after-sales", status_code=201, response_model=CasePublic, responses=error_responses(403, 404, 409))
async def open_case(
    body: CaseCreate, principal: CurrentPrincipal, commands: Commands, runtime: RuntimeDep, watch: OrderViewWatchDep
) -> CasePublic:
    """A buyer asks for a refund (or a return and refund) on own order; rules may approve it at once. Right after
    the payment this service may not know the order yet: the request waits for it (409 ORDER_NOT_YET_VISIBLE with
    Retry-After if it does not come in time), before its transaction opens."""
    buyer = principal.require(Role.BUYER)
    await visibility.await_order(runtime, watch, buyer, body.order_id)
    return await commands.run(case_commands.open_case, buyer, body)


@router.get("/after-sales", response_model=Page[CaseSummary], responses=error_responses(403))
async def list_cases(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    order_id: OrderFilter = None,
    status: AfterSaleStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CaseSummary]:
    return await queries.list_cases(
        runtime, _reader(principal), order_id=order_id, status=status, limit=limit, cursor=cursor
    )


@router.get("/after-sales/eligibility", response_model=EligibilityPublic, responses=error_responses(403, 404))
async def eligibility(
    runtime: RuntimeDep, principal: CurrentPrincipal, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> EligibilityPublic:
    """How much of an order can still be asked for, and until when a no-reason return is possible."""
    return await queries.eligibility(runtime, _reader(principal), order_id)


@router.get("/after-sales/{case_id}", response_model=CasePublic, responses=error_responses(403, 404))
async def get_case(runtime: RuntimeDep, case_id: str, principal: CurrentPrincipal) -> CasePublic:
    return await queries.get_case(runtime, _reader(principal), case_id)


@router.post("/after-sales/{case_id}/approve", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def approve(
    case_id: str, principal: CurrentPrincipal, commands: Commands, body: OptionalReason = None
) -> CasePublic:
    return await commands.run(case_commands.approve_case, principal.require(Role.SELLER), case_id, _reason(body))


@router.post("/after-sales/{case_id}/reject", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def reject(case_id: str, body: RejectBody, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    return await commands.run(case_commands.reject_case, principal.require(Role.SELLER), case_id, body.reason)


@router.post(
    "/after-sales/{case_id}/return-shipment", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def return_shipment(
    case_id: str, body: ReturnShipmentBody, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    return await commands.run(
        case_commands.ship_return, principal.require(Role.BUYER), case_id, body.carrier, body.tracking_no
    )


@router.post(
    "/after-sales/{case_id}/return-received", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def return_received(case_id: str, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    return await commands.run(case_commands.confirm_return_received, principal.require(Role.SELLER), case_id)


@router.post("/after-sales/{case_id}/escalate", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def escalate(
    case_id: str, principal: CurrentPrincipal, commands: Commands, body: OptionalReason = None
) -> CasePublic:
    return await commands.run(case_commands.escalate_case, principal.require(Role.BUYER), case_id, _reason(body))


@router.post("/after-sales/{case_id}/arbitrate", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def arbitrate(case_id: str, body: ArbitrateBody, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    return await commands.run(case_commands.arbitrate_case, principal.require(Role.ADMIN), case_id, body)


@router.post("/after-sales/{case_id}/cancel", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def cancel(
    case_id: str, principal: CurrentPrincipal, commands: Commands, body: OptionalReason = None
) -> CasePublic:
    """The buyer withdraws an open case (before any goods or money are on the way)."""
    return await commands.run(case_commands.cancel_case, principal.require(Role.BUYER), case_id, _reason(body))


@router.get(
    "/compensations", response_model=Page[CompensationPublic], tags=["compensations"], responses=error_responses(403)
)
async def list_compensations(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    order_id: OrderFilter = None,
    case_id: OrderFilter = None,
    kind: CompensationKind | None = None,
    status: CompensationStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[CompensationPublic]:
    return await queries.list_compensations(
        runtime,
        _reader(principal),
        order_id=order_id,
        case_id=case_id,
        kind=kind,
        status=status,
        limit=limit,
        cursor=cursor,
    )


# Negotiation (协商): messages, the seller's counter-offer and the buyer's answer, a request for more evidence.


@router.post(
    "/after-sales/{case_id}/messages",
    status_code=201,
    response_model=MessagePublic,
    responses=error_responses(403, 404, 409),
)
async def post_message(
    case_id: str, body: MessageCreate, principal: CurrentPrincipal, commands: Commands
) -> MessagePublic:
    """A message on the case to the other party (the buyer, the shop's seller, or an admin for the platform);
    the buyer's message with evidence_ids answers a request for more evidence."""
    return await commands.run(negotiation.post_message, _reader(principal), case_id, body)


@router.get("/after-sales/{case_id}/messages", response_model=Page[MessagePublic], responses=error_responses(403, 404))
async def list_messages(
    runtime: RuntimeDep, case_id: str, principal: CurrentPrincipal, limit: Limit = 50, cursor: Cursor = None
) -> Page[MessagePublic]:
    """The case's messages, oldest first."""
    return await queries.list_messages(runtime, _reader(principal), case_id, limit=limit, cursor=cursor)


@router.post("/after-sales/{case_id}/offer", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def make_offer(case_id: str, body: OfferCreate, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    """The seller's counter-offer on a requested case: a lower amount and/or another handling way."""
    return await commands.run(negotiation.make_offer, principal.require(Role.SELLER), case_id, body)


@router.post("/after-sales/{case_id}/offer/accept", response_model=CasePublic, responses=error_responses(403, 404, 409))
async def accept_offer(case_id: str, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    """The buyer accepts the counter-offer: the case goes on under its terms."""
    return await commands.run(negotiation.accept_offer, principal.require(Role.BUYER), case_id)


@router.post(
    "/after-sales/{case_id}/offer/decline", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def decline_offer(case_id: str, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    """The buyer declines the counter-offer: the case is rejected and may be escalated within the window."""
    return await commands.run(negotiation.decline_offer, principal.require(Role.BUYER), case_id)


@router.post(
    "/after-sales/{case_id}/evidence-request", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def request_evidence(
    case_id: str, body: EvidenceRequestCreate, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """The seller asks the buyer for more evidence by a deadline (once per case)."""
    return await commands.run(negotiation.request_evidence, principal.require(Role.SELLER), case_id, body.reason)


# Exchange and reship: the replacement parcel.


@router.post(
    "/after-sales/{case_id}/replacement-shipment", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def replacement_shipment(
    case_id: str, body: ReplacementShipmentBody, principal: CurrentPrincipal, commands: Commands
) -> CasePublic:
    """The seller ships the replacement of an EXCHANGE (after the return arrived) or a RESHIP."""
    return await commands.run(
        replacement.ship_replacement, principal.require(Role.SELLER), case_id, body.carrier, body.tracking_no
    )


@router.post(
    "/after-sales/{case_id}/replacement-received", response_model=CasePublic, responses=error_responses(403, 404, 409)
)
async def replacement_received(case_id: str, principal: CurrentPrincipal, commands: Commands) -> CasePublic:
    """The replacement arrived: the buyer confirms it, or a partner of its carrier (or of the shop) reports the
    delivery; the case completes."""
    caller = principal.require(Role.BUYER, Role.PARTNER, Role.ADMIN)
    return await commands.run(replacement.replacement_received, caller, case_id)
