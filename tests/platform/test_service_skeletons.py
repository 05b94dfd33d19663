"""Each service starts on the real PostgreSQL and Kafka: migrations, health, readiness, metrics, OpenAPI."""

import uuid

import pytest

from xinren_notify.app import create_app as notify_app
from xinren_notify.settings import NotifySettings
from xinren_order.app import create_app as order_app
from xinren_order.settings import OrderSettings
from xinren_qc.app import create_app as qc_app
from xinren_qc.settings import QcSettings
from xinren_refund.app import create_app as refund_app
from xinren_refund.settings import RefundSettings
from xinren_shared.db import make_engine
from xinren_shared.testing.http import serve
from xinren_trust.app import create_app as trust_app
from xinren_trust.settings import TrustSettings

SERVICES = [
    ("order", order_app, OrderSettings),
    ("refund", refund_app, RefundSettings),
    ("qc", qc_app, QcSettings),
    ("notify", notify_app, NotifySettings),
    ("trust", trust_app, TrustSettings),
]


@pytest.mark.parametrize("name,create_app,settings_cls", SERVICES, ids=[s[0] for s in SERVICES])
async def test_service_starts_and_is_ready(name, create_app, settings_cls, make_database, kafka_bootstrap):
    settings = settings_cls(
        database_url=await make_database(name),
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        consumer_group=f"skeleton-{name}-{uuid.uuid4().hex}",
    )
    async with serve(create_app(settings)) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "kafka": "ok", "workers": "ok"}
        metrics = await client.get("/metrics")
        assert metrics.status_code == 200 and "xinren_http_requests_total" in metrics.text
        spec = (await client.get("/openapi.json")).json()
        assert spec["openapi"].startswith("3.") and "/readyz" in spec["paths"]
        assert (await client.get("/no/such/path")).json()["error"]["code"] == "NOT_FOUND"
        assert (await client.get("/healthz", headers={"x-request-id": "abc"})).headers["x-request-id"] == "abc"

    # A second start on the same database finds the migrations applied and starts again.
    async with serve(create_app(settings)) as client:
        assert (await client.get("/readyz")).status_code == 200


async def test_readyz_is_503_when_the_database_is_gone(make_database, kafka_bootstrap):
    url = await make_database("order")
    settings = OrderSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka_bootstrap,
        env="test",
        consumer_group=f"skeleton-{uuid.uuid4().hex}",
    )
    app = order_app(settings)
    async with serve(app) as client:
        await app.state.runtime.engine.dispose()
        app.state.runtime.engine = make_engine(url.rsplit("/", 1)[0] + "/no_such_database")
        r = await client.get("/readyz")
        assert r.status_code == 503 and r.json()["checks"]["database"].startswith("unreachable")
