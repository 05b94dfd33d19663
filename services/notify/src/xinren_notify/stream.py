"""The live inbox stream (Server-Sent Events): everything after the given sequence, then each new notification as
LISTEN/NOTIFY announces it. The SSE `id` is the inbox sequence, so `Last-Event-ID` resumes exactly."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sse_starlette import ServerSentEvent

from xinren_shared.auth import Principal

from . import queries
from .domain import Recipient
from .listener import InboxHub
from .schemas import Lang, NotificationPublic

OPEN_STREAMS = Gauge(
    "xinren_notify_open_streams", "Open live inbox streams (SSE), of all workers", multiprocess_mode="livesum"
)
EVENT_NAME = "notification"
RETRY_MS = 2000


async def notification_events(
    *,
    principal: Principal,
    recipient: Recipient,
    after_seq: int,
    lang: Lang,
    hub: InboxHub,
    session_factory: async_sessionmaker[AsyncSession],
    batch_size: int,
    poll_seconds: float,
) -> AsyncIterator[ServerSentEvent]:
    # Subscribed before the first read: a notification committed meanwhile is either read or wakes us.
    wake = hub.subscribe(recipient.key)
    OPEN_STREAMS.inc()
    try:
        yield ServerSentEvent(comment="connected", retry=RETRY_MS)
        last = after_seq
        while True:
            wake.clear()
            async with session_factory() as session:
                rows = await queries.notifications_after(session, principal, last, batch_size)
            for row in rows:
                item = NotificationPublic.of(row, lang)
                last = item.seq  # numbered at commit: a committed row always has its number
                yield ServerSentEvent(
                    id=str(item.seq),
                    event=EVENT_NAME,
                    data=json.dumps(item.model_dump(mode="json"), ensure_ascii=False),
                )
            if len(rows) == batch_size:
                continue
            try:
                await asyncio.wait_for(wake.wait(), poll_seconds)
            except TimeoutError:
                pass  # the fallback poll: a notification whose wake-up was lost still arrives
    finally:
        OPEN_STREAMS.dec()
        hub.unsubscribe(recipient.key, wake)
