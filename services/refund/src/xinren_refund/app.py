"""The refund service app: create_app(settings) wires routes, the outbox relay, the consumer and the timers."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consumers import EVENT_HANDLERS
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
    )
    return build_app(settings, ServiceRuntime(settings, spec), title="Xinren refund service", routers=[api.router])
