"""Refund service apps for the integration tests: one with the real durations, one with timers in seconds."""

import uuid

import pytest_asyncio

from xinren_refund.app import create_app
from xinren_refund.settings import RefundSettings
from xinren_shared.testing.http import serve

from .support import SECRET, Service


async def _service(make_database, kafka_bootstrap, **overrides):
    settings = RefundSettings(
        database_url=await make_database("refund"),
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        jwt_secret=SECRET,
        consumer_group=f"test-refund-{uuid.uuid4().hex}",
        relay_poll_seconds=0.5,
        timer_poll_seconds=0.2,
        consumer_retry_base_seconds=0.05,
        **overrides,
    )
    app = create_app(settings)
    return app, settings


@pytest_asyncio.fixture(scope="session")
async def refund(make_database, kafka_bootstrap):
    """The service with its default (real) durations: no timer fires during a test."""
    app, settings = await _service(make_database, kafka_bootstrap)
    async with serve(app) as client:
        yield Service(client, app, settings)


@pytest_asyncio.fixture(scope="session")
async def refund_fast(make_database, kafka_bootstrap):
    """Its own database and consumer group, with review, return-receipt and resend timers in seconds."""
    app, settings = await _service(
        make_database,
        kafka_bootstrap,
        review_sla_seconds=1.0,
        return_receipt_sla_seconds=1.0,
        escalation_window_seconds=1.0,
        money_request_resend_seconds=1.0,
        money_request_resend_max_seconds=2.0,
    )
    async with serve(app) as client:
        yield Service(client, app, settings)


@pytest_asyncio.fixture(scope="session")
async def refund_short(make_database, kafka_bootstrap):
    """Its own app with a short wait for the order view and a buyer's return deadline in seconds."""
    app, settings = await _service(
        make_database,
        kafka_bootstrap,
        order_view_wait_seconds=0.5,
        order_view_retry_after_seconds=2,
        return_send_window_seconds=1.0,
    )
    async with serve(app) as client:
        yield Service(client, app, settings)


@pytest_asyncio.fixture(scope="session")
async def refund_small_pool(make_database, kafka_bootstrap):
    """Its own app with a pool of three connections and a long wait for the order view: more requests wait at
    once than there are connections."""
    app, settings = await _service(
        make_database,
        kafka_bootstrap,
        order_view_wait_seconds=60.0,
        db_pool_size=3,
        db_max_overflow=0,
        db_pool_timeout_seconds=3.0,
    )
    async with serve(app) as client:
        yield Service(client, app, settings)
