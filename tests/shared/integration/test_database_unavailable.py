"""A database that cannot serve (restarting, unreachable) answers 503 DATABASE_UNAVAILABLE with Retry-After, never
a 500; a database refusing what was asked is still an error of its own kind."""

import asyncpg
import pytest_asyncio
from fastapi import APIRouter
from sqlalchemy.exc import DBAPIError

from xinren_shared.testing.http import serve

from .conftest import web_app

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

    @router.get("/bug")
    async def bug() -> None:
        raise DBAPIError("SELECT nope", {}, asyncpg.UndefinedColumnError("column nope does not exist"))

    async with serve(web_app(world, kafka_bootstrap, "unavailable", router, SECRET)) as c:
        yield c


async def test_an_unavailable_database_is_a_503_with_retry_after(client):
    for path in ("/restarting", "/unreachable"):
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
