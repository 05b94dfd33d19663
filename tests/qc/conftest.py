"""Fixtures of the quality-check tests: the app on real PostgreSQL and Kafka, one shared, one with short deadlines."""

import tempfile
import uuid

import pytest_asyncio

from xinren_qc.app import create_app
from xinren_qc.settings import QcSettings
from xinren_shared.testing.http import serve

from .support import SECRET, Qc


async def _start(make_database, kafka_bootstrap, **overrides) -> QcSettings:
    # Failures are final at once unless a fixture opens an appeal window; evidence goes to a directory per app.
    overrides.setdefault("appeal_window_seconds", 0)
    overrides.setdefault("evidence_store", tempfile.mkdtemp(prefix="xinren-qc-evidence-"))
    return QcSettings(
        database_url=await make_database("qc"),
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        jwt_secret=SECRET,
        consumer_group=f"test-qc-{uuid.uuid4().hex}",
        timer_poll_seconds=0.2,
        relay_poll_seconds=0.5,
        **overrides,
    )


@pytest_asyncio.fixture(scope="session")
async def qc(make_database, kafka_bootstrap, event_collector, publish):
    """The service with its default rules (5-day inbound deadline, strikes counted over 90 days)."""
    app = create_app(await _start(make_database, kafka_bootstrap))
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)


@pytest_asyncio.fixture(scope="session")
async def qc_fast(make_database, kafka_bootstrap, event_collector, publish):
    """Its own database and consumer group: inbound deadlines of a few seconds."""
    app = create_app(await _start(make_database, kafka_bootstrap, inbound_deadline_seconds=4))
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)


@pytest_asyncio.fixture(scope="session")
async def qc_isolated(make_database, kafka_bootstrap, event_collector, publish):
    """No consumer: tests hand it order events directly, so warehouses for real categories ("jade", "*") can exist
    here without the app routing the other tests' orders from the session's topics. Relay and timers run."""
    app = create_app(await _start(make_database, kafka_bootstrap, run_consumers=False))
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)


@pytest_asyncio.fixture(scope="session")
async def qc_ops_settings(make_database, kafka_bootstrap) -> QcSettings:
    """Warehouse operations: no consumer (real categories such as "jade" are safe here), an appeal window long
    enough for a test to appeal in, two photos for a pass."""
    return await _start(
        make_database, kafka_bootstrap, run_consumers=False, appeal_window_seconds=60, min_pass_photos=2
    )


@pytest_asyncio.fixture(scope="session")
async def qc_ops(qc_ops_settings, event_collector, publish):
    app = create_app(qc_ops_settings)
    async with serve(app) as client:
        yield Qc(app, client, publish, event_collector)
