"""The notify service app: create_app(settings) wires routes, the consumer, the timers, the LISTEN/NOTIFY listener
that drives the live streams, and the webhook delivery workers."""

import functools
import logging

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consumers import EVENT_HANDLERS
from .delivery import DeliveryWorkers
from .health import HealthMonitor
from .listener import INBOX_CHANNEL, InboxHub, PgListener
from .messages import MESSAGES_ZH
from .settings import NotifySettings
from .timers import TIMER_HANDLERS
from .webhooks import WEBHOOKS_CHANNEL


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    spec = ServiceSpec(
        name="notify",
        package="xinren_notify",
        tables=models.infra,
        event_handlers=EVENT_HANDLERS,
        timer_handlers=TIMER_HANDLERS,
    )
    runtime = ServiceRuntime(settings, spec)
    hub = InboxHub()
    workers = DeliveryWorkers(settings, runtime.session_factory)
    monitor = HealthMonitor(settings, runtime.session_factory)
    listener = PgListener(
        settings.database_url,
        {INBOX_CHANNEL: hub.publish, WEBHOOKS_CHANNEL: workers.wake},
        reconnect_seconds=settings.listener_reconnect_seconds,
    )

    async def start_notify_workers(rt: ServiceRuntime[NotifySettings]) -> None:
        rt.spawn(listener.run, "listener")
        if settings.run_webhook_workers:
            for index in range(settings.webhook_workers):
                rt.spawn(functools.partial(workers.run, index), f"webhooks-{index}")
            rt.spawn(functools.partial(monitor.run, workers.wake), "webhook-health")

    runtime.on_stop(workers.close)  # after the runtime stopped the workers that use it

    # httpx logs every request URL at INFO; partners' webhook URLs may carry tokens of theirs.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(settings.log_level)))
    app = build_app(
        settings,
        runtime,
        title="Xinren notify service",
        routers=[api.router],
        on_startup=start_notify_workers,
        messages_zh=MESSAGES_ZH,
    )
    app.state.hub = hub
    app.state.listener = listener
    app.state.webhook_workers = workers
    app.state.webhook_health = monitor
    return app
