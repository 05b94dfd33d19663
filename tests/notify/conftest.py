"""One notify instance for the session, served by a real uvicorn server (SSE streams for real), with short webhook
timings, plus a webhook receiver on loopback. The consumer group starts at the end of the shared topics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
import pytest_asyncio
from fastapi import FastAPI

from xinren_notify.app import create_app
from xinren_notify.settings import NotifySettings
from xinren_shared.events import topics
from xinren_shared.testing.http import bearer

from .support import LiveServer, Receiver, start_group_at_end

SECRET = "notify-test-secret-" + uuid.uuid4().hex


@dataclass
class Notify:
    app: FastAPI
    client: httpx.AsyncClient
    url: str
    settings: NotifySettings

    def auth(self, role: str, sub: str | None = None, **claims) -> dict[str, str]:
        return bearer(SECRET, role, sub or f"{role}_{uuid.uuid4().hex[:8]}", **claims)


def notify_settings(database_url: str, kafka_bootstrap: str, group: str, **overrides) -> NotifySettings:
    values = dict(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        jwt_secret=SECRET,
        consumer_group=group,
        timer_poll_seconds=0.5,
        webhook_allow_private=True,
        webhook_timeout_seconds=1.0,
        webhook_first_retry_seconds=0.2,
        webhook_backoff_factor=2.0,
        webhook_max_backoff_seconds=1.0,
        webhook_backoff_jitter=0.0,
        webhook_retry_window_seconds=3.5,
        webhook_poll_seconds=0.5,
        webhook_probe_seconds=1.0,
        webhook_catchup_per_second=200.0,
        # Long, so that the stream tests prove LISTEN/NOTIFY does the waking, not the fallback poll.
        sse_poll_seconds=30.0,
        sse_ping_seconds=5.0,
    )
    values.update(overrides)
    return NotifySettings(**values)


@pytest_asyncio.fixture(scope="session")
async def notify(make_database, kafka_bootstrap):
    import xinren_shared.contracts  # noqa: F401

    group = f"test-notify-{uuid.uuid4().hex}"
    await start_group_at_end(kafka_bootstrap, group, topics())
    settings = notify_settings(await make_database("notify"), kafka_bootstrap, group)
    app = create_app(settings)
    async with LiveServer(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            yield Notify(app, client, server.url, settings)


@pytest_asyncio.fixture(scope="session")
async def receiver():
    rec = Receiver()
    async with LiveServer(rec.app(), lifespan="off") as server:
        rec.base_url = server.url
        try:
            yield rec
        finally:
            rec.release.set()
