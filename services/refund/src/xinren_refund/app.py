"""The refund service app: create_app(settings) wires routes, the outbox relay, the consumer, the timers and the
LISTEN connection that wakes requests waiting for the order view."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consistency import CHECKS
from .consumers import EVENT_HANDLERS
from .listener import OrderViewWatch
from .messages import MESSAGES_ZH
from .settings import RefundSettings
from .timers import TIMER_HANDLERS


def create_app(settings: RefundSettings | None = None) -> FastAPI:
    settings = settings or RefundSettings()
    spec = ServiceSpec(
        name="refund",
        package="xinren_refund",
        tables=models.infra,
        event_handlers=EVENT_HANDLERS,
        timer_handlers=TIMER_HANDLERS,
        checks=CHECKS,
    )
    # One LISTEN connection per process wakes the requests waiting for the order view to catch up.
    watch = OrderViewWatch(settings.database_url, reconnect_seconds=settings.listener_reconnect_seconds)

    async def start_listener(rt: ServiceRuntime[RefundSettings]) -> None:
        rt.spawn(watch.run, "order-view-listener")

    runtime = ServiceRuntime(settings, spec)
    app = build_app(
        settings,
        runtime,
        title="Xinren refund service",
        routers=[api.router],
        on_startup=start_listener,
        messages_zh=MESSAGES_ZH,
    )
    app.state.order_view_watch = watch
    return app
