"""The quality-check service app: create_app(settings) wires routes, the outbox relay, the consumer and the timers."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consumers import EVENT_HANDLERS
from .messages import MESSAGES_ZH
from .settings import QcSettings
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
    return build_app(
        settings,
        ServiceRuntime(settings, spec),
        title="Xinren quality-check service",
        routers=[api.router],
        messages_zh=MESSAGES_ZH,
    )
