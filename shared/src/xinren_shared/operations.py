"""Operations endpoints every service serves: the consistency report and its safe repair (admins only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from .auth import CurrentPrincipal, Role
from .commands import Commands, UnitOfWork, runtime_of
from .errors import error_responses
from .runtime import ServiceRuntime

RuntimeDep = Annotated[ServiceRuntime[Any], Depends(runtime_of)]


def consistency_router() -> APIRouter:
    """`GET /v1/admin/consistency` lists what is stuck; `POST /v1/admin/consistency/repair` re-requests what is
    safe to re-request. Admins only."""
    router = APIRouter(prefix="/v1/admin/consistency", tags=["operations"])

    @router.get("", responses=error_responses(401, 403))
    async def consistency_report(principal: CurrentPrincipal, runtime: RuntimeDep) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        async with runtime.transaction() as session:
            return (await runtime.consistency.run(session)).as_dict()

    @router.post("/repair", responses=error_responses(401, 403))
    async def consistency_repair(principal: CurrentPrincipal, commands: Commands) -> dict[str, Any]:
        principal.require(Role.ADMIN)
        return await commands.run(_repair)

    return router


async def _repair(uow: UnitOfWork[Any]) -> dict[str, Any]:
    return (await uow.runtime.consistency.run(uow.session, repair=True)).as_dict()
