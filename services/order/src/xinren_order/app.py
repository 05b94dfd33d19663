"""The order service app: create_app(settings) wires routes, the outbox relay, the consumer and the timers."""

from fastapi import FastAPI

from xinren_shared.runtime import ServiceRuntime, ServiceSpec
from xinren_shared.web import build_app

from . import api, api_hosts, api_settlement, models
from .consistency import CHECKS
from .consumers import EVENT_HANDLERS
from .handlers.payouts import schedule_jobs
from .messages import MESSAGES_ZH
from .payments import PaymentProvider, SandboxPaymentProvider
from .payouts import PayoutProvider, SandboxPayoutProvider, use_provider
from .settings import OrderSettings
from .timers import TIMER_HANDLERS


def create_app(
    settings: OrderSettings | None = None,
    payment_provider: PaymentProvider | None = None,
    payout_provider: PayoutProvider | None = None,
) -> FastAPI:
    settings = settings or OrderSettings()
    spec = ServiceSpec(
        name="order",
        package="xinren_order",
        tables=models.infra,
        event_handlers=EVENT_HANDLERS,
        timer_handlers=TIMER_HANDLERS,
        checks=CHECKS,
    )
    runtime = ServiceRuntime(settings, spec)
    use_provider(runtime, payout_provider or SandboxPayoutProvider())  # the sandbox pays no real money
    app = build_app(
        settings,
        runtime,
        title="Xinren order service",
        routers=[api.router, api_hosts.router, api_settlement.router],
        on_startup=schedule_jobs,  # the payout run's and the reconciliation's durable timers
        messages_zh=MESSAGES_ZH,
    )
    # The sandbox captures without moving real money; production passes a real provider here.
    app.state.payment_provider = payment_provider or SandboxPaymentProvider()
    return app
