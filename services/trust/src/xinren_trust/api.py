"""HTTP routes of the trust service: parse, authorize by role, run a command or a query."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from xinren_shared.auth import CurrentPrincipal, Role
from xinren_shared.commands import Commands, runtime_of
from xinren_shared.contracts.trust import TrustSubject
from xinren_shared.errors import error_responses
from xinren_shared.pagination import Cursor, Limit, Page
from xinren_shared.runtime import ServiceRuntime

from . import queries
from .access import CONCERNED
from .domain import ActionStatus, AppealStatus
from .handlers import appeals, enforcement
from .schemas import ActionPublic, AppealCreate, AppealDecide, AppealPublic, ScorePublic, ScoreSummary
from .settings import TrustSettings

router = APIRouter(prefix="/v1/trust", tags=["trust"])

RuntimeDep = Annotated[ServiceRuntime[TrustSettings], Depends(runtime_of)]
PathId = Annotated[str, Path(min_length=1, max_length=200)]
IdFilter = Annotated[str | None, Query(min_length=1, max_length=200)]
BandFilter = Annotated[str | None, Query(min_length=1, max_length=32)]


@router.get("/shops", response_model=Page[ScoreSummary], responses=error_responses(403))
async def list_shops(
    runtime: RuntimeDep, principal: CurrentPrincipal, band: BandFilter = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[ScoreSummary]:
    """Admins: shops by score, lowest first, optionally of one band."""
    principal.require(Role.ADMIN)
    return await queries.list_scores(runtime, TrustSubject.SHOP, band=band, limit=limit, cursor=cursor)


@router.get("/shops/{shop_id}", response_model=ScorePublic, responses=error_responses(403))
async def shop_score(shop_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> ScorePublic:
    """The shop's experience score (商家体验分) and band; its seller and admins also see indicators and actions."""
    return await queries.score_of(runtime, principal, TrustSubject.SHOP, shop_id)


@router.post("/shops/{shop_id}/reinstate", response_model=dict[str, str], responses=error_responses(403, 409))
async def reinstate_shop(shop_id: PathId, principal: CurrentPrincipal, commands: Commands) -> dict[str, str]:
    """Admins: lift a suspension after review (trust.shop_reinstated); the shop keeps its history on the ladder."""
    principal.require(Role.ADMIN)
    result: dict[str, str] = await commands.run(enforcement.reinstate_shop, principal, shop_id)
    return result


@router.get("/hosts/{host_id}", response_model=ScorePublic, responses=error_responses(403))
async def host_score(host_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> ScorePublic:
    """The host's reputation score (带货口碑分); the host and admins also see indicators and actions."""
    return await queries.score_of(runtime, principal, TrustSubject.HOST, host_id)


@router.get("/products/{sku_id}", response_model=ScorePublic, responses=error_responses(403))
async def product_score(sku_id: PathId, runtime: RuntimeDep, principal: CurrentPrincipal) -> ScorePublic:
    """The product score (商品分); its shop's seller and admins also see the indicators."""
    return await queries.score_of(runtime, principal, TrustSubject.PRODUCT, sku_id)


@router.get("/actions", response_model=Page[ActionPublic], responses=error_responses(403))
async def list_actions(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    shop_id: IdFilter = None,
    host_id: IdFilter = None,
    status: ActionStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ActionPublic]:
    """Enforcement actions: a seller its shop's, a host its own, admins all; newest first."""
    principal.require(*CONCERNED)
    return await queries.list_actions(
        runtime, principal, shop_id=shop_id, host_id=host_id, status=status, limit=limit, cursor=cursor
    )


@router.post("/appeals", status_code=201, response_model=AppealPublic, responses=error_responses(403, 404, 409))
async def file_appeal(body: AppealCreate, principal: CurrentPrincipal, commands: Commands) -> AppealPublic:
    """The seller or host concerned appeals an action, once, within the appeal window."""
    principal.require(Role.SELLER, Role.HOST)
    return await commands.run(appeals.file_appeal, principal, body)


@router.get("/appeals", response_model=Page[AppealPublic], responses=error_responses(403))
async def list_appeals(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    status: AppealStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AppealPublic]:
    """Appeals: admins all (status=PENDING: the queue), sellers and hosts their own; newest first."""
    principal.require(*CONCERNED)
    return await queries.list_appeals(runtime, principal, status=status, limit=limit, cursor=cursor)


@router.post("/appeals/{appeal_id}/decide", response_model=AppealPublic, responses=error_responses(403, 404, 409))
async def decide_appeal(
    appeal_id: PathId, body: AppealDecide, principal: CurrentPrincipal, commands: Commands
) -> AppealPublic:
    """Admins: UPHOLD keeps the action; OVERTURN reverses it (fine refunded, suspension lifted, score recomputed)."""
    principal.require(Role.ADMIN)
    return await commands.run(appeals.decide_appeal, principal, appeal_id, body)
