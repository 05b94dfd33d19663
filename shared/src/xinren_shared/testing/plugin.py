"""The pytest plugin (entry point `xinren`): real Kafka and PostgreSQL for the session, fresh databases,
in-process services with their lifespans, and helpers to publish and await events.

Kafka and PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, from testcontainers when a
Docker engine answers, and from local processes (infra/up.sh) otherwise. If none can start, every test that
needs them errors with the reason: nothing is skipped.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from ..events import Envelope, Event
from ..settings import to_plain_url
from .infra import Infra, InfrastructureUnavailable, provide
from .kafka import EventCollector, publish_events

_state: dict[str, object] = {}


def _infra(config: pytest.Config) -> Infra:
    if "error" in _state:
        raise InfrastructureUnavailable(str(_state["error"]))
    if "infra" not in _state:
        try:
            _state["infra"] = provide(Path(str(config.rootpath)))
        except InfrastructureUnavailable as exc:
            _state["error"] = exc
            raise
    return _state["infra"]  # type: ignore[return-value]


def pytest_configure(config: pytest.Config) -> None:
    # On a broker shared with other runs, this session's topics get a namespace of their own, so that no other
    # run's services react to this run's events (and the other way round). A broker of its own needs none.
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and "XINREN_TOPIC_NAMESPACE" not in os.environ:
        os.environ["XINREN_TOPIC_NAMESPACE"] = _state["namespace"] = f"test-{uuid.uuid4().hex[:8]}."


async def delete_topics(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The session's own topics on a broker of one's own go with it (a broker started for the run goes whole); on a
    # developer's broker every run left its tens of topics behind, thousands of partitions the broker kept serving.
    namespace = _state.pop("namespace", None)
    if isinstance(namespace, str) and not os.environ.get("XINREN_THROWAWAY_CLUSTER"):
        asyncio.run(delete_topics(os.environ["KAFKA_BOOTSTRAP_SERVERS"], namespace))
    infra = _state.pop("infra", None)
    if infra is not None:
        infra.stop()  # type: ignore[attr-defined]


def pytest_report_header(config: pytest.Config) -> str:
    return "xinren: Kafka and PostgreSQL from the environment, testcontainers, or local processes (infra/up.sh)"


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Infra:
    return _infra(request.config)


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Infra) -> str:
    return infra.kafka_bootstrap


@pytest.fixture(scope="session")
def postgres_url(infra: Infra) -> str:
    """The server's admin URL; tests make their own databases with `make_database`."""
    return infra.database_url


async def create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(to_plain_url(admin_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = to_plain_url(admin_url).rpartition("/")
    return f"{base}/{name}"


async def drop_databases(admin_url: str, database_urls: list[str]) -> None:
    conn = await asyncpg.connect(to_plain_url(admin_url))
    try:
        for url in database_urls:
            name = url.rpartition("/")[2].split("?")[0]
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def make_database(postgres_url: str) -> Iterator[Callable[..., Awaitable[str]]]:
    """`url = await make_database("order")`: a fresh, empty database on the suite's server. On a server of the
    environment's (DATABASE_URL: a developer's own), the session drops the databases it made as it ends; one started
    for the run (by the plugin, or by scripts/test.sh: XINREN_THROWAWAY_CLUSTER) goes with all of them."""
    made: list[str] = []

    async def make(prefix: str = "xt") -> str:
        url = await create_database(postgres_url, f"xt_{prefix}")
        made.append(url)
        return url

    yield make
    if made and os.environ.get("DATABASE_URL") and not os.environ.get("XINREN_THROWAWAY_CLUSTER"):
        asyncio.run(drop_databases(postgres_url, made))


@pytest_asyncio.fixture(scope="session")
async def event_collector(kafka_bootstrap: str) -> AsyncIterator[EventCollector]:
    """Every event on the catalog's topics since the session started, to await with a deadline."""
    collector = EventCollector(kafka_bootstrap)
    await collector.start()
    try:
        yield collector
    finally:
        await collector.stop()


@pytest.fixture(scope="session")
def publish(kafka_bootstrap: str) -> Callable[..., Awaitable[list[Envelope]]]:
    """`await publish(event, source="/xinren/qc")`: puts another service's event on its topic, as that service would."""

    async def _publish(*evts: Event | Envelope, source: str = "/xinren/test", **kwargs: Any) -> list[Envelope]:
        return await publish_events(kafka_bootstrap, list(evts), source=source, **kwargs)

    return _publish
