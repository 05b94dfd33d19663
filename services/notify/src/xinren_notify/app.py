"""The notify service app: create_app(settings) wires routes, the outbox relay, the consumer and the timers."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consumers import EVENT_HANDLERS
from .settings import NotifySettings
from .timers import TIMER_HANDLERS


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    settings = settings or NotifySettings()
    spec = ServiceSpec(
        name="notify",
        package="xinren_notify",
        tables=models.infra,
        event_handlers=EVENT_HANDLERS,
        timer_handlers=TIMER_HANDLERS,
    )
    return build_app(settings, ServiceRuntime(settings, spec), title="Xinren notify service", routers=[api.router])
