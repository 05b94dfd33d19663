"""The quality-check service app: create_app(settings) wires routes, the outbox relay, the consumer and the timers."""

import functools

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models, workqueue
from .consumers import EVENT_HANDLERS
from .messages import MESSAGES_ZH
from .settings import QcSettings
from .storage import make_store
from .timers import TIMER_HANDLERS


def create_app(settings: QcSettings | None = None) -> FastAPI:
    settings = settings or QcSettings()
    spec = ServiceSpec(
        name="qc",
        package="xinren_qc",
        tables=models.infra,
        event_handlers=EVENT_HANDLERS,
        timer_handlers=TIMER_HANDLERS,
    )

    async def on_startup(runtime: ServiceRuntime[QcSettings]) -> None:
        # The warehouses' figures for /metrics, refreshed in the background (queries at scrape time would let a
        # scraper load the database).
        runtime.spawn(functools.partial(workqueue.metrics_loop, runtime), "warehouse-metrics")

    app = build_app(
        settings,
        ServiceRuntime(settings, spec),
        title="Xinren quality-check service",
        routers=[api.router],
        on_startup=on_startup,
        messages_zh=MESSAGES_ZH,
    )
    # Evidence bytes: content-addressed, on the local filesystem unless the setting names an S3-compatible store.
    app.state.evidence_store = make_store(settings.evidence_store, settings.evidence_s3)
    return app
