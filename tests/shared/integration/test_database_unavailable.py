"""A database that cannot serve (restarting, unreachable) answers 503 DATABASE_UNAVAILABLE with Retry-After, never
a 500; a database refusing what was asked is still an error of its own kind."""

from typing import Any

import asyncpg
import pytest_asyncio
from fastapi import APIRouter, Request
from sqlalchemy import event
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi
from sqlalchemy.exc import DBAPIError

from xinren_shared import sql
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.http import serve

from .conftest import web_app
from .support import wait_until

SECRET = "unavailable-test-secret-0123456789abcdef"


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    router = APIRouter()

    @router.get("/restarting")
    async def restarting() -> None:
        raise DBAPIError("SELECT 1", {}, asyncpg.CannotConnectNowError("the database system is starting up"))

    @router.get("/unreachable")
    async def unreachable() -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    @router.get("/reset")
    async def reset() -> None:
        raise ConnectionResetError(104, "Connection reset by peer")

    @router.get("/closed")
    async def closed() -> None:
        # What the asyncpg adapter raises, unwrapped, for a BEGIN sent on the driver over a connection PostgreSQL
        # closed (xinren_shared.sql.driver).
        lost = asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        raise AsyncAdapt_asyncpg_dbapi.Error(str(lost)) from lost

    @router.get("/nul")
    async def nul() -> None:
        raise DBAPIError("INSERT", {}, asyncpg.CharacterNotInRepertoireError("invalid byte sequence: 0x00"))

    @router.get("/bug")
    async def bug() -> None:
        raise DBAPIError("SELECT nope", {}, asyncpg.UndefinedColumnError("column nope does not exist"))

    # An error that leaves the app fails the request here: a server closes the connection after it, even once the
    # answer was sent (as Starlette's last resort sends one and raises the error again).
    async with serve(web_app(world, kafka_bootstrap, "unavailable", router, SECRET), raise_app_exceptions=True) as c:
        yield c


async def test_an_unavailable_database_is_a_503_with_retry_after(client):
    """Answered inside the app: the client's connection stays open for its next request."""
    for path in ("/restarting", "/unreachable", "/reset", "/closed"):
        r = await client.get(path, headers={"Accept-Language": "en"})
        assert r.status_code == 503 and r.headers["retry-after"] == "2", (path, r.text)
        assert r.json()["error"] == {
            "code": "DATABASE_UNAVAILABLE",
            "message": "the database is unavailable",
            "details": None,
        }
    assert (await client.get("/restarting")).json()["error"]["message"] == "服务暂时不可用，请稍后重试。"
    bug = await client.get("/bug")
    assert bug.status_code == 500 and bug.json()["error"]["code"] == "INTERNAL"
    refused = await client.get("/nul")  # a value PostgreSQL cannot take
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_a_connection_the_server_closed_is_a_503_and_the_next_request_gets_a_new_one(world, kafka_bootstrap):
    """PostgreSQL restarted under the pool (its backends terminated): the request that meets a dead pooled
    connection answers 503 with Retry-After (it wrote nothing), and the pool opens a fresh connection for the next."""
    router = APIRouter()

    @router.post("/touch")
    async def touch(request: Request) -> dict[str, bool]:
        async with request.app.state.runtime.transaction() as session:
            await sql.driver(session)  # BEGIN on the driver's connection, as every hot statement does
        return {"ok": True}

    app = web_app(world, kafka_bootstrap, "closed", router, SECRET, db_pool_size=1)
    returned: list[Any] = []  # the driver connections given back to the pool
    event.listen(app.state.runtime.engine.sync_engine.pool, "checkin", lambda conn, _: returned.append(conn))
    async with serve(app) as c:
        assert (await c.post("/touch")).status_code == 200  # the pool holds one connection now
        admin = await asyncpg.connect(to_plain_url(world.url))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            gone = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            await wait_until(lambda: _one(admin, gone))
        finally:
            await admin.close()
        # The driver has read the server's goodbye: the next checkout meets asyncpg's "connection is closed".
        await wait_until(lambda: returned[-1].driver_connection.is_closed())
        answers = [await c.post("/touch", headers={"Accept-Language": "en"}) for _ in range(3)]
    assert answers[0].status_code == 503 and answers[0].headers["retry-after"] == "2", answers[0].text
    assert answers[0].json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert [a.status_code for a in answers[1:]] == [200, 200]


async def _one(conn: asyncpg.Connection, query: str) -> bool:
    return bool(await conn.fetchval(query) == 1)
