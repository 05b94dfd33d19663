"""HTTP routes of settlement: a shop's balances and statements, a host's earnings, the payout run, the platform's
money. Parse, authorize, call a handler or a query."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from xinren_shared.auth import CurrentPrincipal, Principal, Role
from xinren_shared.commands import Commands
from xinren_shared.errors import Forbidden, error_responses
from xinren_shared.pagination import Cursor, Limit, Page

from . import settlement_queries as queries
from . import settlement_schemas as schemas
from .access import SHOP_STAFF, ShopRef
from .api import RuntimeDep, ShopId
from .domain import ID_PATTERN
from .handlers import payouts

router = APIRouter(prefix="/v1", tags=["settlement"])

HostId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
StatementId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "the statement, as JSON or (Accept: text/csv) CSV"}
}


def _require_shop_money(principal: Principal, shop_id: str) -> None:
    principal.require(Role.SELLER, Role.ADMIN)
    if not SHOP_STAFF.allows(principal, ShopRef(shop_id)):
        raise Forbidden("a seller sees only its own shop's money")


@router.get("/shops/{shop_id}/balances", response_model=schemas.ShopBalances, responses=error_responses(403, 404))
async def shop_balances(shop_id: ShopId, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.ShopBalances:
    """The shop's money: pending (held until after-sales windows close), available, in payout, paid out, and what it
    owes the platform guarantee."""
    _require_shop_money(principal, shop_id)
    return await queries.shop_balances(runtime, shop_id)


@router.get(
    "/shops/{shop_id}/statements",
    response_model=Page[schemas.StatementSummary],
    responses=error_responses(403),
)
async def list_statements(
    shop_id: ShopId, principal: CurrentPrincipal, runtime: RuntimeDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.StatementSummary]:
    """The shop's statements, newest first: one per payout."""
    _require_shop_money(principal, shop_id)
    items, nxt = await queries.list_statements(runtime, "SHOP", shop_id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=nxt)


@router.get(
    "/shops/{shop_id}/statements/{statement_id}",
    response_model=schemas.StatementPublic,
    responses={**error_responses(403, 404), **_CSV},
)
async def get_statement(
    shop_id: ShopId, statement_id: StatementId, request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> schemas.StatementPublic | Response:
    """One statement: a line per order line (gross, platform and host commission, refunds, compensations, fines,
    payout) and adjustments, summing to the payout; CSV with Accept: text/csv."""
    _require_shop_money(principal, shop_id)
    return _as_asked(request, await queries.get_statement(runtime, "SHOP", shop_id, statement_id))


def _require_host(principal: Principal, host_id: str) -> None:
    principal.require(Role.HOST, Role.ADMIN)
    if principal.role is Role.HOST and principal.sub != host_id:
        raise Forbidden("a host sees only its own earnings")


@router.get("/hosts/{host_id}/earnings", response_model=schemas.HostEarnings, responses=error_responses(403, 404))
async def host_earnings(
    host_id: HostId,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> schemas.HostEarnings:
    """The host's commission per live room and per order (up to `limit` orders) and in all: pending, available,
    in payout, paid out."""
    _require_host(principal, host_id)
    return await queries.host_earnings(runtime, host_id, limit)


@router.get(
    "/hosts/{host_id}/statements",
    response_model=Page[schemas.StatementSummary],
    responses=error_responses(403),
)
async def list_host_statements(
    host_id: HostId, principal: CurrentPrincipal, runtime: RuntimeDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[schemas.StatementSummary]:
    """The host's statements, newest first: one per payout."""
    _require_host(principal, host_id)
    items, nxt = await queries.list_statements(runtime, "HOST", host_id, limit=limit, cursor=cursor)
    return Page(items=items, next_cursor=nxt)


@router.get(
    "/hosts/{host_id}/statements/{statement_id}",
    response_model=schemas.StatementPublic,
    responses={**error_responses(403, 404), **_CSV},
)
async def get_host_statement(
    host_id: HostId, statement_id: StatementId, request: Request, principal: CurrentPrincipal, runtime: RuntimeDep
) -> schemas.StatementPublic | Response:
    """One of the host's statements (CSV with Accept: text/csv)."""
    _require_host(principal, host_id)
    return _as_asked(request, await queries.get_statement(runtime, "HOST", host_id, statement_id))


def _as_asked(request: Request, statement: schemas.StatementPublic) -> schemas.StatementPublic | Response:
    """The statement as JSON, or as a CSV file when the caller asks for text/csv."""
    if "text/csv" not in request.headers.get("accept", ""):
        return statement
    return Response(
        queries.statement_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{statement.statement_id}.csv"'},
    )


@router.post("/payouts/run", response_model=schemas.PayoutRun, responses=error_responses(403))
async def run_payouts(principal: CurrentPrincipal, commands: Commands) -> schemas.PayoutRun:
    """Runs the payout job of the current period now (it also runs on its schedule): each available balance of at
    least the minimum is paid once per period, with its statement."""
    principal.require(Role.ADMIN)
    return await commands.run(payouts.run_now, principal)


@router.get("/admin/finance", response_model=schemas.PlatformFinance, responses=error_responses(403))
async def platform_finance(principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.PlatformFinance:
    """The platform's commission and fines income, the guarantee fund's position, and sellers' and hosts' money
    pending, available, in payout and paid out."""
    principal.require(Role.ADMIN)
    return await queries.platform_finance(runtime)
