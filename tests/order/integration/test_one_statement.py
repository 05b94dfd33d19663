"""The connection a command in one statement runs on (`ServiceRuntime.connection`): no transaction, given back to the
pool fit for the next request whatever happened on it."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.order.conftest import order_settings
from xinren_order.app import create_app
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.http import serve


async def test_a_request_cancelled_in_the_middle_of_its_statement_leaves_the_pool_fit_for_the_next(
    make_database, kafka_bootstrap
):
    """A pool of one connection: a statement still running when its request is cancelled (the service stopping, a
    timeout) does not hand the next request a connection busy with it."""
    settings = order_settings(
        await make_database("order_one"),
        kafka_bootstrap,
        run_relay=False,
        run_consumers=False,
        run_timers=False,
        db_pool_size=1,
    )
    app = create_app(settings)
    async with serve(app):
        runtime = app.state.runtime
        started = asyncio.Event()

        async def slow() -> None:
            async with runtime.connection() as conn:
                started.set()
                await conn.execute("SELECT pg_sleep(5)")

        task = asyncio.create_task(slow())
        await asyncio.wait_for(started.wait(), 10)
        watcher = await asyncpg.connect(to_plain_url(settings.database_url))
        try:
            for _ in range(200):  # until the statement is running on the server
                query = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT pg_sleep%'"
                if await watcher.fetchval(query):
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the statement never ran")
        finally:
            await watcher.close()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(3):
            async with runtime.connection() as conn:
                assert await asyncio.wait_for(conn.fetchval("SELECT 1"), 10) == 1
                assert not conn.is_in_transaction()
