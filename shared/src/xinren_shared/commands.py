"""How a route runs a command: one unit of work (a transaction) handed to the handler, committed when it returns.

Routes parse, authorize and call `commands.run(handler, ...)`; they never open, commit or roll back a transaction
themselves. A handler gets a `UnitOfWork`: the session of that one transaction, the service's runtime (settings,
outbox, timers) and the time the command is taken to happen at.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Concatenate, Generic, ParamSpec, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from .ids import utcnow
from .runtime import ServiceRuntime, SettingsT

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class UnitOfWork(Generic[SettingsT]):
    session: AsyncSession
    runtime: ServiceRuntime[SettingsT]
    now: datetime

    @property
    def settings(self) -> SettingsT:
        return self.runtime.settings


def runtime_of(request: Request) -> ServiceRuntime[Any]:
    """The runtime of the app serving this request (each service aliases it with its own settings type)."""
    runtime: ServiceRuntime[Any] = request.app.state.runtime
    return runtime


class CommandRunner:
    """Runs one command handler in one transaction: commits when the handler returns, rolls back if it raises."""

    def __init__(self, request: Request):
        self.request = request
        self.runtime: ServiceRuntime[Any] = request.app.state.runtime

    async def run(
        self,
        handler: Callable[Concatenate[UnitOfWork[Any], P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        async with self.runtime.transaction() as session:
            return await handler(UnitOfWork(session, self.runtime, utcnow()), *args, **kwargs)


Commands = Annotated[CommandRunner, Depends(CommandRunner)]
