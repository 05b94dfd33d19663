"""How a route runs a command: one unit of work (a transaction) handed to the handler, committed when it returns.

Routes parse, authorize and call `commands.run(handler, ...)`; they never open, commit or roll back a transaction
themselves. A handler gets a `UnitOfWork`: the session of that one transaction, the service's runtime (settings,
outbox, timers) and the time the command is taken to happen at.

Idempotency-Key (API.md), exactly once: the key is claimed and its answer stored in the same transaction as the
command's effect. A crash at any point leaves either nothing (the retry runs the command once) or the effect with
its recorded answer (the retry gets that answer); there is no lease after which a committed command runs again.
- Same caller, key and request → the first answer again, with `idempotent-replayed: true`.
- Same key with another request → 422 IDEMPOTENCY_KEY_REUSED; nothing runs.
- The same key while its first request is still running → 409 IDEMPOTENCY_KEY_IN_FLIGHT (a transaction-scoped
  advisory lock on the key tells, without waiting).
- A command refused with a domain error (4xx) records that answer too; a server error records nothing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Concatenate, Generic, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Table, and_, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from .auth import Principal, principal_from_request
from .errors import DomainError, error_body, error_response
from .ids import utcnow
from .runtime import ServiceRuntime, SettingsT

P = ParamSpec("P")
R = TypeVar("R")

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
REPLAYED = "idempotent-replayed"


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


class AnswerGiven(Exception):
    """The command was answered before (or cannot run now): `response` is what this request gets instead."""

    def __init__(self, response: Response):
        super().__init__("answered from the Idempotency-Key record")
        self.response = response


async def answer_given(_: Request, exc: Exception) -> Response:
    """The app's handler for AnswerGiven."""
    assert isinstance(exc, AnswerGiven)
    return exc.response


class _Lost(Exception):
    """Another request with the same key committed between this one's look-up and its record."""


@dataclass(frozen=True)
class _Key:
    principal: str  # a digest of the caller's whole identity
    key: str
    scope: str  # "POST /v1/orders"
    digest: str  # of the scope and the body
    lock: int  # the advisory lock id of (principal, key)


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
        key = await self._key()
        if key is None:
            async with self.runtime.transaction() as session:
                result = await handler(UnitOfWork(session, self.runtime, utcnow()), *args, **kwargs)
        else:
            try:
                result = await self._run_once(key, handler, *args, **kwargs)
            except _Lost:
                raise AnswerGiven(await self._recorded(key)) from None
        self._crash_if_asked()
        return result

    def _crash_if_asked(self) -> None:
        """Test-only fault hook: the process dies between the commit and the response, as kill -9 would."""
        settings = self.runtime.settings
        route = getattr(settings, "fault_crash_after_commit", "")
        if route and settings.env == "test" and route == f"{self.request.method} {self.request.url.path}":
            os._exit(137)

    async def _run_once(
        self,
        key: _Key,
        handler: Callable[Concatenate[UnitOfWork[Any], P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        table = self.runtime.tables.idempotency
        try:
            async with self.runtime.transaction() as session:
                await self._claim(session, table, key)
                result = await handler(UnitOfWork(session, self.runtime, utcnow()), *args, **kwargs)
                if isinstance(result, Response):
                    await self._record(session, table, key, result.status_code, bytes(result.body))
                else:
                    await self._record(session, table, key, self._status(), bytes(JSONResponse(_json(result)).body))
                return result
        except DomainError as exc:
            # The effect rolled back; the refusal is the key's answer (a retry is refused the same way).
            async with self.runtime.transaction() as session:
                await self._claim(session, table, key)
                body = JSONResponse(error_body(exc.code, exc.message, exc.details)).body
                await self._record(session, table, key, exc.status, bytes(body))
            raise

    async def _key(self) -> _Key | None:
        raw = self.request.headers.get(HEADER)
        if raw is None or self.request.method != "POST":
            return None
        key = raw.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise AnswerGiven(
                error_response(400, "BAD_IDEMPOTENCY_KEY", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
            )
        principal = _identity(principal_from_request(self.request))
        scope = f"{self.request.method} {self.request.url.path}"
        digest = hashlib.sha256(scope.encode() + b"\n" + await self.request.body()).hexdigest()
        lock = int.from_bytes(hashlib.sha256(f"{principal}\x1f{key}".encode()).digest()[:8], "big", signed=True)
        return _Key(principal, key, scope, digest, lock)

    async def _claim(self, session: AsyncSession, table: Table, key: _Key) -> None:
        """Takes the key for this transaction, or answers instead (replay, 422 or 409); one round trip."""
        got = func.pg_try_advisory_xact_lock(key.lock).label("got")
        row = (
            await session.execute(
                select(got, table.c.request_hash, table.c.scope, table.c.response_status)
                .select_from(select(literal(1).label("one")).subquery())
                .outerjoin(table, and_(table.c.principal == key.principal, table.c.key == key.key))
            )
        ).one()
        if row.request_hash is not None:
            if row.request_hash != key.digest:
                raise AnswerGiven(
                    error_response(
                        422,
                        "IDEMPOTENCY_KEY_REUSED",
                        "this Idempotency-Key was used with another request",
                        {"first_request": row.scope},
                    )
                )
            raise AnswerGiven(await self._recorded(key))
        if not row.got:
            raise AnswerGiven(
                error_response(
                    409, "IDEMPOTENCY_KEY_IN_FLIGHT", "a request with this Idempotency-Key is still in progress"
                )
            )

    async def _record(self, session: AsyncSession, table: Table, key: _Key, status: int, body: bytes) -> None:
        stored = await session.execute(
            insert(table)
            .values(
                principal=key.principal,
                key=key.key,
                scope=key.scope,
                request_hash=key.digest,
                state="DONE",
                response_status=status,
                response_headers={"content-type": "application/json"},
                response_body=body,
            )
            .on_conflict_do_nothing(index_elements=["principal", "key"])
            .returning(table.c.key)
        )
        if stored.first() is None:
            raise _Lost

    async def _recorded(self, key: _Key) -> Response:
        table = self.runtime.tables.idempotency
        async with self.runtime.transaction() as session:
            row = (
                await session.execute(
                    select(table).where(and_(table.c.principal == key.principal, table.c.key == key.key))
                )
            ).one()
        if row.request_hash != key.digest:
            return error_response(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with another request",
                {"first_request": row.scope},
            )
        headers = {**(row.response_headers or {}), REPLAYED: "true"}
        return Response(row.response_body or b"", status_code=row.response_status, headers=headers)

    def _status(self) -> int:
        route = self.request.scope.get("route")
        status = route.status_code if isinstance(route, APIRoute) else None
        return status or 200


def _identity(p: Principal) -> str:
    # The whole identity: the same user id acting for another shop or warehouse is another caller.
    identity = "\x1f".join([str(p.role), p.sub, p.shop_id or "", p.warehouse_id or ""])
    return hashlib.sha256(identity.encode()).hexdigest()


def _json(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(result)


Commands = Annotated[CommandRunner, Depends(CommandRunner)]
