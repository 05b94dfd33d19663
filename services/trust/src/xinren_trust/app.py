"""The trust service app: create_app(settings) wires routes, the outbox relay and the consumer."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, models
from .consumers import EVENT_HANDLERS
from .messages import MESSAGES_ZH
from .settings import TrustSettings


def create_app(settings: TrustSettings | None = None) -> FastAPI:
    settings = settings or TrustSettings()
    spec = ServiceSpec(name="trust", package="xinren_trust", tables=models.infra, event_handlers=EVENT_HANDLERS)
    runtime = ServiceRuntime(settings, spec)
    return build_app(settings, runtime, title="Xinren trust service", routers=[api.router], messages_zh=MESSAGES_ZH)
