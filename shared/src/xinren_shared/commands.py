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
  advisory lock on the key tells, without waiting). A command in one statement (`OneStatement`: order intake, pay)
  has no lock to tell: the second request's write waits for the first's at the key's unique index, and gets its
  answer.
- A command refused with a domain error (4xx) records that answer too; a server error records nothing.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Concatenate, Generic, ParamSpec, TypeVar

import asyncpg
from fastapi import Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    RowMapping,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse, Response

from . import sql
from .auth import Principal, principal_from_request
from .db import lock_conflict
from .errors import DomainError, error_response, refusal_of
from .ids import utcnow
from .runtime import ServiceRuntime, SettingsT

P = ParamSpec("P")
R = TypeVar("R")

HEADER = "idempotency-key"
MAX_KEY_LENGTH = 200
REPLAYED = "idempotent-replayed"

log = logging.getLogger("xinren.commands")


@dataclass(frozen=True)
class UnitOfWork(Generic[SettingsT]):
    session: AsyncSession
    runtime: ServiceRuntime[SettingsT]
    now: datetime

    @property
    def settings(self) -> SettingsT:
        return self.runtime.settings


async def runtime_of(request: Request) -> ServiceRuntime[Any]:
    """The runtime of the app serving this request (each service aliases it with its own settings type); a
    coroutine, as every dependency here, so that FastAPI never hands it to its thread pool."""
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
            try:
                async with self.runtime.transaction() as session:
                    result = await handler(UnitOfWork(session, self.runtime, utcnow()), *args, **kwargs)
            except DBAPIError as exc:
                raise refusal_of(exc) or exc from exc
        else:
            try:
                result = await self._run_once(key, handler, *args, **kwargs)
            except _Lost:
                raise AnswerGiven(await self._recorded(key)) from None
        self._crash_if_asked()
        return result

    async def run_in_one_statement(
        self,
        handler: Callable[Concatenate[OneStatement[Any], P], Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """Runs a command whose effect is one statement (`OneStatement`): no transaction of its own, its key's answer
        read with its first read and recorded by its write."""
        key = await self._key()
        try:
            try:
                async with self.runtime.connection() as conn:
                    result = await handler(
                        OneStatement(conn, self.runtime, utcnow(), key, self._response), *args, **kwargs
                    )
            except DomainError as exc:
                if key is not None:  # nothing was written
                    await self._record_refusal(key, exc)
                raise
        except _Lost:
            assert key is not None
            raise AnswerGiven(await self._recorded(key)) from None
        self._crash_if_asked()
        return result

    def _crash_if_asked(self) -> None:
        """Test-only fault hook: the process dies between the commit and the response, as kill -9 would."""
        settings = self.runtime.settings
        route = settings.fault_crash_after_commit
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
            try:
                async with self.runtime.transaction() as session:
                    await self._claim(session, table, key)
                    result = await handler(UnitOfWork(session, self.runtime, utcnow()), *args, **kwargs)
                    await self._record(session, table, key, self._response(result))
                    return result
            except DBAPIError as exc:
                # A rule the database checks at commit (a deferred trigger) refused: as if the handler had.
                raise refusal_of(exc) or exc from exc
        except DomainError as exc:
            await self._record_refusal(key, exc)
            raise

    async def _record_refusal(self, key: _Key, refusal: DomainError) -> None:
        """The effect rolled back (or was never written): the refusal is the key's answer (a retry is refused the same
        way), unless another request with the key has answered meanwhile (then that answer is given)."""
        table = self.runtime.tables.idempotency
        async with self.runtime.transaction() as session:
            await self._claim(session, table, key)
            await self._record(session, table, key, refusal.response())

    async def _body(self) -> bytes:
        """The request's body as the key's fingerprint. A multipart body has been parsed into a form by then (its
        stream is consumed): the fingerprint is its fields and files, in order."""
        if not self.request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await self.request.body()
        digest = hashlib.sha256()
        for name, value in (await self.request.form()).multi_items():
            digest.update(name.encode() + b"\x1f")
            if isinstance(value, UploadFile):
                await value.seek(0)
                digest.update((value.filename or "").encode() + b"\x1f" + await value.read())
                await value.seek(0)
            else:
                digest.update(value.encode())
            digest.update(b"\x1e")
        return digest.digest()

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
        scope = f"{self.request.method} {self.request.scope['path']}"  # what request.url.path says, without its parse
        digest = hashlib.sha256(scope.encode() + b"\n" + await self._body()).hexdigest()
        lock = int.from_bytes(hashlib.sha256(f"{principal}\x1f{key}".encode()).digest()[:8], "big", signed=True)
        return _Key(principal, key, scope, digest, lock)

    async def _claim(self, session: AsyncSession, table: Table, key: _Key) -> None:
        """Takes the key for this transaction, or answers instead (replay, 422 or 409); one round trip that both
        tries the key's advisory lock and reads an answer already recorded."""
        conn = await sql.driver(session)
        row = await _statements(table).claim.fetchrow(
            conn, {"lock": key.lock, "principal": key.principal, "key": key.key}
        )
        assert row is not None  # the outer join answers one row, found or not
        if row["request_hash"] is not None:
            raise AnswerGiven(_answer(row, key))
        if not row["got"]:
            raise AnswerGiven(
                error_response(
                    409, "IDEMPOTENCY_KEY_IN_FLIGHT", "a request with this Idempotency-Key is still in progress"
                )
            )

    async def _record(self, session: AsyncSession, table: Table, key: _Key, answer: Response) -> None:
        conn = await sql.driver(session)
        if await _statements(table).record.fetchrow(conn, _recorded(key, answer)) is None:
            raise _Lost

    async def _recorded(self, key: _Key) -> Response:
        table = self.runtime.tables.idempotency
        async with self.runtime.transaction() as session:
            row = (await session.execute(select(*_answer_columns(table)).where(_is(table, key)))).one()
        return _answer(row._mapping, key)

    def _response(self, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        if isinstance(result, BaseModel):
            # Rendered as FastAPI renders a route's model (pydantic's own JSON), so that a replay is the very bytes
            # the first answer had.
            return Response(result.model_dump_json(by_alias=True), self._status(), media_type="application/json")
        return JSONResponse(jsonable_encoder(result), self._status())

    def _status(self) -> int:
        route = self.request.scope.get("route")
        status = route.status_code if isinstance(route, APIRoute) else None
        return status or 200


@dataclass(frozen=True)
class OneStatement(Generic[SettingsT]):
    """A command whose whole effect is one statement (data-modifying CTEs), sent on a connection with no transaction
    open: PostgreSQL commits it on its own, its deferred triggers with it, in the round trip that sends it. What it
    is made from is read before it, each read a statement of its own (`read`). With an Idempotency-Key, the key's
    answer is read by the command's first read (a statement made with `with_key_answer`) and recorded by its write
    (made with `with_key_record`): a keyed command costs two round trips, where a transaction costs six (BEGIN, the
    key's claim, the read, the write, the answer, COMMIT).

    Exactly once without the claim's advisory lock: the write inserts the key's row, so of two requests with one key
    racing the second's write waits at the key's unique index for the first's, and fails with it (nothing of it is
    written): it is answered what the first recorded. A refusal writes nothing, and is recorded after (as
    `CommandRunner._run_once` does)."""

    conn: asyncpg.Connection
    runtime: ServiceRuntime[SettingsT]
    now: datetime
    key: _Key | None
    render: Callable[[Any], Response]

    @property
    def settings(self) -> SettingsT:
        return self.runtime.settings

    async def read(self, statement: sql.Statement, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        """The command's first read, made with `with_key_answer`: its rows, unless the key was answered before (then
        that answer is given, or 422 for a key used with another request)."""
        key = {"k_principal": self.key.principal, "k_key": self.key.key} if self.key is not None else {}
        rows = await statement.fetch(self.conn, {**params, **key})
        if self.key is not None and rows and rows[0]["k_request_hash"] is not None:
            raise AnswerGiven(_answer({name: rows[0][f"k_{name}"] for name in _ANSWERED}, self.key))
        return rows

    async def write(
        self, statement: sql.Statement, params: Mapping[str, Any], result: Any, *, wakes: tuple[str, ...] = ()
    ) -> Response:
        """Sends the command's one statement, made with `with_key_record`, with the key's answer: `result` as the
        route answers it (returned). A refusal the database makes at the commit (a deferred trigger's) is raised as
        the handler's would be; once committed, the listeners of `wakes` are told (the process's announcer)."""
        answer = self.render(result)
        recorded = _recorded(self.key, answer, prefix="k_") if self.key is not None else {}  # else k_key is null
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            try:
                await statement.execute(self.conn, {**params, **recorded})
                break
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == _KEY_CONSTRAINT:
                    raise _Lost from None  # the same key's first request committed meanwhile
                raise
            except asyncpg.PostgresError as exc:
                # Undone to break a deadlock (or a conflict): nothing of it was written, and what it checks it checks
                # again as it runs. Sent again, the other side having gone through meanwhile.
                if lock_conflict(exc) and attempt < _WRITE_ATTEMPTS:
                    log.info("the command's statement was chosen to break a deadlock; sending it again")
                    continue
                raise refusal_of(exc) or exc from exc
        if wakes:
            self.runtime.announcer.send((channel, "") for channel in wakes)
        return answer


_WRITE_ATTEMPTS = 3
_ANSWERED = ("request_hash", "scope", "response_status", "response_headers", "response_body")
_KEY_CONSTRAINT = "pk_idempotency_key"


def with_key_answer(read: Select[Any], table: Table) -> Select[Any]:
    """`read`'s rows, each with the answer already recorded for the key `k_principal`, `k_key` (columns `k_<name>`,
    null when there is none, or no key); one row of nulls when `read` has none."""
    c = table.c
    is_key = and_(c.principal == bindparam("k_principal", type_=String), c.key == bindparam("k_key", type_=String))
    answer = select(*(c[name].label(f"k_{name}") for name in _ANSWERED)).where(is_key).subquery("key_answer")
    rows = read.subquery("command_read")
    one = select(literal(1).label("one")).subquery("one")
    joined = one.outerjoin(answer, true()).outerjoin(rows, true())
    return select(*rows.c, *answer.c).select_from(joined)


def with_key_record(write: Select[Any], table: Table) -> Select[Any]:
    """`write` (a statement of data-modifying CTEs) that also records the key's answer (bind parameters `k_<name>`),
    when there is a key: inserted without ON CONFLICT, so that a key answered meanwhile fails the whole statement."""
    c = table.c
    values = {name: bindparam(f"k_{name}", type_=c[name].type) for name in _RECORDED}
    key_given = bindparam("k_key", type_=String).is_not(None)
    record = insert(table).from_select(list(values), select(*values.values()).where(key_given))
    return write.add_cte(record.cte("key_answer"))


def _answer_columns(table: Table) -> list[ColumnElement[Any]]:
    return [table.c[name] for name in _ANSWERED]


def _recorded(key: _Key, answer: Response, prefix: str = "") -> dict[str, Any]:
    """The key's row as recorded with `answer`: the bind parameters of the record (`prefix` + column)."""
    values = {
        "principal": key.principal,
        "key": key.key,
        "scope": key.scope,
        "request_hash": key.digest,
        "response_status": answer.status_code,
        "response_headers": {"content-type": "application/json"},
        "response_body": bytes(answer.body),
    }
    return {f"{prefix}{name}": value for name, value in values.items()}


def _is(table: Table, key: _Key) -> ColumnElement[bool]:
    return and_(table.c.principal == key.principal, table.c.key == key.key)


@dataclass(frozen=True)
class _KeyStatements:
    claim: sql.Statement
    record: sql.Statement


@functools.cache
def _statements(table: Table) -> _KeyStatements:
    """The claim and the answer of a service's key table, compiled once (they run on every keyed request)."""
    c = table.c
    is_key = and_(c.principal == bindparam("principal"), c.key == bindparam("key"))
    got = func.pg_try_advisory_xact_lock(bindparam("lock", type_=BigInteger)).label("got")
    claim = select(got, *_answer_columns(table)).select_from(select(literal(1).label("one")).subquery())
    record = (
        insert(table)
        .values({name: bindparam(name, type_=c[name].type) for name in _RECORDED})
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(c.key)
    )
    return _KeyStatements(sql.Statement(claim.outerjoin(table, is_key)), sql.Statement(record))


_RECORDED = ("principal", "key", "scope", "request_hash", "response_status", "response_headers", "response_body")


def _answer(row: Mapping[str, Any] | RowMapping, key: _Key) -> Response:
    """What a request gets for a key already answered: that answer again, or 422 when the key was used with
    another request."""
    if row["request_hash"] != key.digest:
        return error_response(
            422,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with another request",
            {"first_request": row["scope"]},
        )
    headers = {**(row["response_headers"] or {}), REPLAYED: "true"}
    return Response(row["response_body"] or b"", status_code=row["response_status"], headers=headers)


def _identity(p: Principal) -> str:
    # The whole identity: the same user id acting for another shop or warehouse is another caller.
    identity = "\x1f".join([str(p.role), p.sub, p.shop_id or "", p.warehouse_id or ""])
    return hashlib.sha256(identity.encode()).hexdigest()


async def command_runner(request: Request) -> CommandRunner:
    return CommandRunner(request)


Commands = Annotated[CommandRunner, Depends(command_runner)]
