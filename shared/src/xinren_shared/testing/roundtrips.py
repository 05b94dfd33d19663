"""Every round trip a service's engine makes while recorded, in the order they were made: the statements SQLAlchemy
sends (as it sends them), and what goes on the driver's connection directly (`xinren_shared.sql` statements, the
BEGIN and the COMMIT/ROLLBACK, as each completes). For tests and benchmarks that hold a request to a budget of
round trips."""

from __future__ import annotations

import asyncio
import time
from functools import partial
from typing import Any

from asyncpg.connection import LoggedQuery, _Callback
from sqlalchemy import event
from sqlalchemy.engine import Engine


class RoundTrips:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.trips: list[str] = []
        # The driver's queries as they completed: (the driver connection's id, the trip, perf_counter at completion,
        # seconds it took from sending).
        self.completed: list[tuple[int, str, float, float]] = []
        # The statements with their parameters as sent (BEGIN and COMMIT/ROLLBACK left out), for a replay.
        self.statements: list[tuple[str, tuple[Any, ...]]] = []
        self._logged: dict[int, tuple[Any, _Callback]] = {}
        # Every trip with the id of the driver connection it went on, in the order recorded: `transaction` gives one
        # transaction's when the engine serves others (a service's background tasks) at the same time.
        self._on: list[tuple[int, str]] = []

    def _driver_query(self, connection: int, record: LoggedQuery) -> Any:
        now = time.perf_counter()
        query = record.query.strip().rstrip(";").strip()
        word = query.split(None, 1)[0].upper() if query else ""
        trip = word if word in ("BEGIN", "COMMIT", "ROLLBACK") else query
        self.trips.append(trip)
        self._on.append((connection, trip))
        self.completed.append((connection, trip, now, record.elapsed))
        if trip is query:
            self.statements.append((query, tuple(record.args or ())))
        return asyncio.sleep(0)

    def _statement(self, conn: Any, cursor: Any, sql: str, params: Any, *_: Any) -> None:
        self.trips.append(sql)
        self._on.append((id(conn.connection.dbapi_connection._connection), sql))
        self.statements.append((sql, tuple(params or ())))

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        driver = dbapi_connection._connection  # the asyncpg connection under SQLAlchemy's adapter
        if id(driver) not in self._logged:
            # Called as the query completes: asyncpg calls a coroutine-function logger synchronously to make its
            # task (a plain one only on a later loop turn, after the next statement may have started).
            logger = _Callback(partial(self._driver_query, id(driver)), True)
            driver._query_loggers.add(logger)
            self._logged[id(driver)] = (driver, logger)

    def mark(self) -> int:
        """A point in the record, for `transaction`: take it once the transaction has begun (`sql.driver`)."""
        return len(self._on)

    def transaction(self, connection: int, since: int) -> list[str]:
        """The trips of the transaction open on `connection` (`id()` of the asyncpg connection `sql.driver` gives)
        at `since`, up to its COMMIT or ROLLBACK: statements as they were sent, the end as it completed. The other
        transactions of the engine (a service's background tasks), before, during or after it, are left out, those
        on the same pooled connection included."""
        trips = []
        for conn, trip in self._on[since:]:
            if conn == connection:
                trips.append(trip)
                if trip in ("COMMIT", "ROLLBACK"):
                    break
        return trips

    def __enter__(self) -> RoundTrips:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine.pool, "checkout", self._checkout)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine.pool, "checkout", self._checkout)
        for driver, logger in self._logged.values():
            driver._query_loggers.discard(logger)
