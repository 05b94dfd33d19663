"""HTTP routes of hosts and their cooperations with shops: parse, authorize, call a handler or a query."""

from typing import Annotated

from fastapi import APIRouter, Path

from xinren_shared.auth import CurrentPrincipal, Principal, Role
from xinren_shared.commands import Commands
from xinren_shared.errors import Forbidden, error_responses
from xinren_shared.pagination import Cursor, Limit, Page

from . import queries, schemas
from .access import SHOP_STAFF, ShopRef
from .api import RuntimeDep, ShopId
from .commission import CooperationStatus
from .domain import ID_PATTERN
from .handlers import hosts

router = APIRouter(prefix="/v1", tags=["hosts"])

HostId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]
CooperationId = Annotated[str, Path(pattern=rf"^{ID_PATTERN}$")]


@router.post("/hosts", status_code=201, response_model=schemas.HostPublic, responses=error_responses(403, 409))
async def register_host(
    body: schemas.HostCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.HostPublic:
    """Registers a host: an admin registers any, a host itself (token subject = host_id)."""
    principal.require(Role.ADMIN, Role.HOST)
    if principal.role is Role.HOST and principal.sub != body.host_id:
        raise Forbidden("a host registers itself only")
    return await commands.run(hosts.register_host, principal, body)


@router.get("/hosts/{host_id}", response_model=schemas.HostPublic, responses=error_responses(404))
async def get_host(host_id: HostId, principal: CurrentPrincipal, runtime: RuntimeDep) -> schemas.HostPublic:
    return await queries.get_host(runtime, host_id)


@router.get(
    "/hosts/{host_id}/cooperations",
    response_model=Page[schemas.CooperationPublic],
    responses=error_responses(403, 404),
)
async def list_host_cooperations(
    host_id: HostId,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    status: CooperationStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.CooperationPublic]:
    """The host's cooperations: the host itself and admins see all, a seller those with its own shop."""
    principal.require(Role.HOST, Role.SELLER, Role.ADMIN)
    items, nxt = await queries.list_cooperations(
        runtime, principal, host_id=host_id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=nxt)


@router.post(
    "/shops/{shop_id}/cooperations",
    status_code=201,
    response_model=schemas.CooperationPublic,
    responses=error_responses(403, 404, 409),
)
async def create_cooperation(
    shop_id: ShopId, body: schemas.CooperationCreate, principal: CurrentPrincipal, commands: Commands
) -> schemas.CooperationPublic:
    """Binds a registered host to the shop at a commission rate, for the whole shop or the given products."""
    principal.require(Role.SELLER, Role.ADMIN)
    _require_shop_staff(principal, shop_id)
    return await commands.run(hosts.create_cooperation, principal, shop_id, body)


@router.get(
    "/shops/{shop_id}/cooperations",
    response_model=Page[schemas.CooperationPublic],
    responses=error_responses(403, 404),
)
async def list_shop_cooperations(
    shop_id: ShopId,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    status: CooperationStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[schemas.CooperationPublic]:
    """The shop's cooperations: its seller and admins see all, a host its own with the shop."""
    principal.require(Role.SELLER, Role.HOST, Role.ADMIN)
    if principal.role is Role.SELLER:
        _require_shop_staff(principal, shop_id)
    items, nxt = await queries.list_cooperations(
        runtime, principal, shop_id=shop_id, status=status, limit=limit, cursor=cursor
    )
    return Page(items=items, next_cursor=nxt)


@router.delete(
    "/shops/{shop_id}/cooperations/{cooperation_id}",
    response_model=schemas.CooperationPublic,
    responses=error_responses(403, 404),
)
async def end_cooperation(
    shop_id: ShopId, cooperation_id: CooperationId, principal: CurrentPrincipal, commands: Commands
) -> schemas.CooperationPublic:
    """Ends a cooperation (status ENDED): orders placed after it refuse the host."""
    principal.require(Role.SELLER, Role.ADMIN)
    _require_shop_staff(principal, shop_id)
    return await commands.run(hosts.end_cooperation, principal, shop_id, cooperation_id)


def _require_shop_staff(principal: Principal, shop_id: str) -> None:
    if not SHOP_STAFF.allows(principal, ShopRef(shop_id)):
        raise Forbidden("a seller manages only its own shop")
