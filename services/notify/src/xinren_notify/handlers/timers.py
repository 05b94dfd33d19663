"""Durable timers of the notify service."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.ids import utcnow
from xinren_shared.runtime import ServiceRuntime
from xinren_shared.timers import DueTimer

from ..settings import NotifySettings

SECRET_REPLAY_TIMER = "webhook_secret_replay_expiry"


async def on_secret_replay_expiry(
    session: AsyncSession, timer: DueTimer | None, runtime: ServiceRuntime[NotifySettings]
) -> None:
    """Forgets stored create responses (they hold a secret) once the replay period is over."""
    table = runtime.tables.idempotency
    cutoff = utcnow() - timedelta(seconds=runtime.settings.webhook_secret_replay_seconds)
    await session.execute(delete(table).where(table.c.scope == "POST /v1/webhooks", table.c.created_at <= cutoff))
