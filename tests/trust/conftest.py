"""The trust service for the integration tests, on the suite's Kafka and PostgreSQL, with short ladders' windows."""

import uuid

import pytest_asyncio

from xinren_shared.testing.http import serve
from xinren_trust.app import create_app
from xinren_trust.settings import TrustSettings

from .support import SECRET, Service


@pytest_asyncio.fixture(scope="session")
async def trust(make_database, kafka_bootstrap):
    settings = TrustSettings(
        database_url=await make_database("trust"),
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        jwt_secret=SECRET,
        consumer_group=f"test-trust-{uuid.uuid4().hex}",
        relay_poll_seconds=0.5,
        consumer_retry_base_seconds=0.05,
    )
    app = create_app(settings)
    async with serve(app) as client:
        yield Service(client, app, settings)
