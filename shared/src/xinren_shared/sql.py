"""Hot statements on the driver's own connection, inside the session's transaction.

A SQLAlchemy statement costs tens to hundreds of microseconds of Python per execution (cache key, compile lookup,
the greenlet bridge, result wrapping) on top of the driver's own work. On the few paths run for every request of a
flash sale (the Idempotency-Key's claim and answer, the outbox row, the order's intake), `Statement` compiles a Core
statement once, at import, to the SQL asyncpg prepares ($1, $2, …) and the order of its parameters, with each
parameter's bind processor (JSON serialised as SQLAlchemy would); `driver()` gives the asyncpg connection under
the session's transaction, so these statements commit or roll back with everything else the session did.

asyncpg caches the prepared statement per connection by its SQL, so after the first use a statement is one
Bind/Execute round trip. Rows come back as asyncpg Records (JSON columns decoded by the codecs SQLAlchemy's dialect
registers on every connection). Lists of strings are bound as text[] (`ARRAY(Text)`), whose codec asyncpg has built
in: a varchar[] it looks up in the catalog on each new connection (`db.open_pool`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from .db import database_unavailable

_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
_DRIVER = "xinren.driver"


async def driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection of the session's transaction, begun on the server. SQLAlchemy's asyncpg adapter sends
    BEGIN lazily, with the transaction's first statement: when nothing has been sent yet it is begun here, so a
    statement sent on the driver can never run outside the transaction."""
    transaction = session.get_transaction()
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] is transaction:
        conn: asyncpg.Connection = cached[1]
        return conn
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if adapter._transaction is None:  # the adapter's own state: no BEGIN sent yet
        try:
            await adapter._start_transaction()
        except Exception as exc:
            if database_unavailable(exc):
                # Sent outside SQLAlchemy's execution, so it would not drop a dead connection: the pool must not
                # hand this one out again.
                await connection.invalidate(exc)
            raise
    conn = raw.driver_connection
    session.info[_DRIVER] = (transaction, conn)
    return conn


class Statement:
    """A Core statement compiled once for asyncpg; run it with its bind parameters by name."""

    def __init__(self, statement: ClauseElement):
        compiled = statement.compile(dialect=_DIALECT)
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        names = list(compiled.positiontup or [])
        defaults = compiled.construct_params(_check=False) or {}
        self._names = names
        self._defaults = [defaults.get(name) for name in names]
        self._processors: list[Callable[[Any], Any] | None] = [
            compiled.binds[name].type.dialect_impl(_DIALECT).bind_processor(_DIALECT) for name in names
        ]

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        out = []
        for name, default, process in zip(self._names, self._defaults, self._processors, strict=True):
            value = params.get(name, default)
            out.append(process(value) if process is not None and value is not None else value)
        return out

    async def fetch(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(self.sql, *self.args(params))
        return rows

    async def fetchrow(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(self.sql, *self.args(params))
        return row

    async def fetchval(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> Any:
        return await conn.fetchval(self.sql, *self.args(params))

    async def execute(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> None:
        await conn.execute(self.sql, *self.args(params))
