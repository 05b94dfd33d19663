"""Shed load, never fail: beyond its bounds a service answers 503 with Retry-After at once, through a real app on the
real PostgreSQL."""

import asyncio

import pytest
import pytest_asyncio
from fastapi import APIRouter
from sqlalchemy import text

from xinren_shared.auth import CurrentPrincipal
from xinren_shared.commands import Commands, UnitOfWork
from xinren_shared.settings import ServiceSettings
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "admission-test-secret-0123456789abcdef"


@pytest_asyncio.fixture(params=[3])
async def client(world, kafka_bootstrap, request):
    router = APIRouter()
    gate, entered = asyncio.Event(), asyncio.Event()

    async def hold_a_connection(uow: UnitOfWork[ServiceSettings]) -> dict[str, bool]:
        await uow.session.execute(text("SELECT 1"))  # the transaction has its connection now
        entered.set()
        await gate.wait()
        return {"done": True}

    async def quick(uow: UnitOfWork[ServiceSettings]) -> dict[str, bool]:
        await uow.session.execute(text("SELECT 1"))
        return {"done": True}

    @router.post("/hold")
    async def hold(principal: CurrentPrincipal, commands: Commands) -> dict[str, bool]:
        return await commands.run(hold_a_connection)

    @router.post("/quick")
    async def quick_route(principal: CurrentPrincipal, commands: Commands) -> dict[str, bool]:
        return await commands.run(quick)

    app = web_app(
        world,
        kafka_bootstrap,
        "admission",
        router,
        SECRET,
        max_in_flight=request.param,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=0.3,
    )
    async with serve(app) as c:
        c.gate, c.entered = gate, entered
        yield c


AUTH = bearer(SECRET, "buyer", "u1")


async def test_no_free_connection_is_503_database_busy_with_retry_after(client):
    held = asyncio.create_task(client.post("/hold", headers=AUTH))
    try:
        await asyncio.wait_for(client.entered.wait(), 10)
        busy = await asyncio.wait_for(client.post("/quick", headers=AUTH), 5)  # 0.3 s pool wait, not 30 s
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "DATABASE_BUSY"
    finally:
        client.gate.set()
    assert (await held).status_code == 200
    assert (await client.post("/quick", headers=AUTH)).status_code == 200  # the connection is back


@pytest.mark.parametrize("client", [1], indirect=True)
async def test_beyond_max_in_flight_is_503_server_busy_at_once_and_health_still_answers(client):
    held = asyncio.create_task(client.post("/hold", headers=AUTH))
    try:
        await asyncio.wait_for(client.entered.wait(), 10)
        shed = await asyncio.wait_for(client.post("/quick", headers=AUTH), 5)
        assert shed.status_code == 503 and shed.headers["retry-after"] == "1", shed.text
        assert shed.json()["error"]["code"] == "SERVER_BUSY"
        assert (await client.get("/healthz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'xinren_http_shed_total{reason="in_flight",service="admission"}' in metrics
    finally:
        client.gate.set()
    assert (await held).status_code == 200
    assert (await client.post("/quick", headers=AUTH)).status_code == 200
