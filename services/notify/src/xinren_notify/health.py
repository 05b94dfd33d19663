"""Subscription health: FAILING from the first failed attempt, HEALTHY again at the next success (which releases
the backlog, paced), early probes while failing, DISABLED after failing for the whole retry window, and the backlog
metrics. Delivery rows are always taken FOR NO KEY UPDATE SKIP LOCKED here: a row a worker is sending right now
(FOR UPDATE) keeps its own outcome, and nothing here ever waits for a worker (which may be waiting for the
subscription row); a worker merely reading its next due time (FOR KEY SHARE) does not hold a row back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xinren_shared.metrics import register_live

from .settings import NotifySettings

log = logging.getLogger("xinren.notify.health")

_OPEN = "('PENDING', 'RETRYING')"

# The first failure after a success: the subscription is FAILING from now, its first probe one interval later.
MARK_FAILING = text(
    """
    UPDATE webhook_subscription SET failing_since = COALESCE(failing_since, CAST(:now AS timestamptz)),
        next_probe_at = COALESCE(next_probe_at, CAST(:now AS timestamptz) + make_interval(secs => :probe))
    WHERE webhook_id = :webhook_id AND failing_since IS NULL
    """
)
# A success: HEALTHY again. Only one of several concurrent successes finds it still failing (and releases).
MARK_HEALTHY = text(
    """
    UPDATE webhook_subscription SET failing_since = NULL, next_probe_at = NULL
    WHERE webhook_id = :webhook_id AND failing_since IS NOT NULL
    RETURNING webhook_id
    """
)
# Every open delivery of the subscription becomes due now, oldest first, `per_second` of them a second. Per-order
# order still holds: a later event of an order is claimed only once the earlier one is delivered.
RELEASE = text(
    f"""
    WITH waiting AS (
        SELECT seq FROM webhook_delivery
        WHERE webhook_id = :webhook_id AND status IN {_OPEN}
        FOR NO KEY UPDATE SKIP LOCKED
    ), paced AS (
        SELECT seq, row_number() OVER (ORDER BY seq) - 1 AS n FROM waiting
    )
    UPDATE webhook_delivery d
    SET next_attempt_at = CAST(:now AS timestamptz) + make_interval(secs => paced.n / CAST(:per_second AS float8))
    FROM paced WHERE d.seq = paced.seq
    """
)
# Failing for the whole retry window: DISABLED, and what is still open is DEAD (recover brings it back).
DISABLE = text(
    f"""
    WITH gone AS (
        UPDATE webhook_subscription SET disabled_at = now(), next_probe_at = NULL
        WHERE webhook_id IN (
            SELECT webhook_id FROM webhook_subscription
            WHERE deleted_at IS NULL AND disabled_at IS NULL
              AND failing_since <= now() - make_interval(secs => :window)
            ORDER BY webhook_id
            FOR UPDATE SKIP LOCKED)
        RETURNING webhook_id
    )
    UPDATE webhook_delivery SET status = 'DEAD', next_attempt_at = NULL
    WHERE seq IN (
        SELECT seq FROM webhook_delivery
        WHERE webhook_id IN (SELECT webhook_id FROM gone) AND status IN {_OPEN}
        FOR NO KEY UPDATE SKIP LOCKED)
    """
)
# A probe: the oldest delivery waiting on back-off (and first in its order) of each failing subscription whose
# probe is due is made due now. It is a real delivery: when it succeeds, the success releases the rest.
PROBE = text(
    """
    WITH due AS (
        UPDATE webhook_subscription SET next_probe_at = now() + make_interval(secs => :probe)
        WHERE webhook_id IN (
            SELECT webhook_id FROM webhook_subscription
            WHERE deleted_at IS NULL AND disabled_at IS NULL AND failing_since IS NOT NULL
              AND next_probe_at <= now()
            ORDER BY webhook_id
            FOR UPDATE SKIP LOCKED)
        RETURNING webhook_id
    ), head AS (
        SELECT DISTINCT ON (d.webhook_id) d.seq FROM webhook_delivery d
        WHERE d.webhook_id IN (SELECT webhook_id FROM due) AND d.status = 'RETRYING' AND d.next_attempt_at > now()
          AND NOT EXISTS (
            SELECT 1 FROM webhook_delivery e
            WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key AND e.seq < d.seq
              AND e.status IN ('PENDING', 'RETRYING'))
        ORDER BY d.webhook_id, d.seq
    )
    UPDATE webhook_delivery SET next_attempt_at = now()
    WHERE seq IN (SELECT seq FROM webhook_delivery WHERE seq IN (SELECT seq FROM head) FOR NO KEY UPDATE SKIP LOCKED)
    RETURNING seq
    """
)
BACKLOG = text(
    f"""
    SELECT s.webhook_id, count(d.seq) AS backlog, min(d.created_at) AS oldest
    FROM webhook_subscription s
    LEFT JOIN webhook_delivery d ON d.webhook_id = s.webhook_id AND d.status IN {_OPEN}
    WHERE s.deleted_at IS NULL
    GROUP BY s.webhook_id
    """
)


async def mark_failing(session: AsyncSession, webhook_id: str, now: datetime, settings: NotifySettings) -> None:
    await session.execute(MARK_FAILING, {"webhook_id": webhook_id, "now": now, "probe": settings.webhook_probe_seconds})


async def mark_healthy(session: AsyncSession, webhook_id: str) -> bool:
    """True when this call ended the failing period (so the caller releases the backlog)."""
    return (await session.execute(MARK_HEALTHY, {"webhook_id": webhook_id})).first() is not None


async def release_backlog(session: AsyncSession, webhook_id: str, now: datetime, per_second: float) -> None:
    await session.execute(RELEASE, {"webhook_id": webhook_id, "now": now, "per_second": per_second})


# ---------------------------------------------------------------------------------------------------------------
# Metrics: backlog and oldest undelivered age per subscription, as last counted by the monitor


class BacklogCollector(Collector):
    """The backlogs as each monitor of this process last counted them (one per app: a process that runs two, as
    the tests do, shows both apps' subscriptions, neither hiding the other's until its next count)."""

    def __init__(self) -> None:
        # monitor -> webhook id -> (backlog, oldest as unix time)
        self.counted: dict[int, dict[str, tuple[int, float | None]]] = {}

    def update(self, monitor: object, snapshot: dict[str, tuple[int, float | None]]) -> None:
        self.counted[id(monitor)] = snapshot

    def forget(self, monitor: object) -> None:
        self.counted.pop(id(monitor), None)

    @property
    def snapshot(self) -> dict[str, tuple[int, float | None]]:
        merged: dict[str, tuple[int, float | None]] = {}
        for counted in list(self.counted.values()):
            merged.update(counted)
        return merged

    def collect(self) -> Iterator[GaugeMetricFamily]:
        backlog = GaugeMetricFamily(
            "xinren_notify_webhook_backlog", "Deliveries not yet made (pending or retrying)", labels=["webhook_id"]
        )
        oldest = GaugeMetricFamily(
            "xinren_notify_webhook_oldest_undelivered_seconds",
            "Age of the oldest delivery not yet made (0 when none)",
            labels=["webhook_id"],
        )
        now = time.time()
        for webhook_id, (count, oldest_at) in sorted(self.snapshot.items()):
            backlog.add_metric([webhook_id], count)
            oldest.add_metric([webhook_id], max(0.0, now - oldest_at) if oldest_at is not None else 0.0)
        yield backlog
        yield oldest


BACKLOG_METRICS = BacklogCollector()
register_live(BACKLOG_METRICS)


class HealthMonitor:
    """One loop per replica, every `webhook_probe_seconds`: disable, probe, count the backlogs. The subscription
    rows are claimed with SKIP LOCKED, so several replicas probe each subscription once per interval together."""

    def __init__(self, settings: NotifySettings, session_factory: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.session_factory = session_factory

    async def tick(self) -> list[int]:
        """One round; returns the deliveries made due as probes."""
        async with self.session_factory() as session, session.begin():
            await session.execute(DISABLE, {"window": self.settings.webhook_retry_window_seconds})
            probed = (await session.execute(PROBE, {"probe": self.settings.webhook_probe_seconds})).scalars().all()
            rows = (await session.execute(BACKLOG)).all()
        BACKLOG_METRICS.update(
            self, {r.webhook_id: (r.backlog, r.oldest.timestamp() if r.oldest is not None else None) for r in rows}
        )
        return list(probed)

    async def run(self, wake: Callable[[], None]) -> None:
        try:
            while True:
                try:
                    if await self.tick():
                        wake()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook health round failed; going on")
                await asyncio.sleep(self.settings.webhook_probe_seconds)
        finally:
            BACKLOG_METRICS.forget(self)  # a stopped monitor's counts are no one's backlog
