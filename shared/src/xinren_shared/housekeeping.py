"""Housekeeping: the infrastructure tables let go of what can no longer matter.

Every event a service publishes stays in its outbox, every event it handles leaves a row in its inbox, every timer
and every Idempotency-Key answer a row of its own. A flash sale writes hundreds of these a second; kept forever they
fill the disk and every index over them. Each worker, every `housekeeping_interval_seconds` (from a random moment, so
that replicas do not all sweep together), deletes in batches (`housekeeping_batch`, each a short transaction of its
own, `SKIP LOCKED`: two workers sweeping at once take different rows, and a row another transaction holds waits for
the next sweep):

- outbox rows published more than `outbox_retention_hours` ago (a row not yet published is never deleted);
- inbox rows handled more than `inbox_retention_hours` ago. This must exceed the topics' retention (Kafka's default
  is 7 days): a record can be read again only while it is on its topic, and its inbox row is what makes that read a
  duplicate;
- timers fired or cancelled more than `timer_retention_hours` ago (a live timer is never deleted);
- Idempotency-Key answers recorded more than `idempotency_retention_hours` ago: a retry after that is a new request.

A retention of 0 keeps that table's rows forever. What each sweep deleted is counted in
`xinren_housekeeping_deleted_total{service, table}`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .metrics import HOUSEKEEPING_DELETED
from .settings import ServiceSettings
from .tables import InfraTables

log = logging.getLogger("xinren.housekeeping")


@dataclass(frozen=True)
class Sweep:
    table: str  # as counted in the metric
    retention_hours: float
    delete: TextClause  # deletes up to :batch rows older than :bound; its row count is how many


def sweeps(tables: InfraTables, settings: ServiceSettings) -> list[Sweep]:
    """What housekeeping deletes, table by table. The outbox and timers are read oldest first along their primary
    key; the inbox and the Idempotency-Key answers along their time column's BRIN index (their keys are random)."""
    outbox, inbox, timer, keys = (t.name for t in (tables.outbox, tables.inbox, tables.timer, tables.idempotency))
    return [
        Sweep(
            "outbox",
            settings.outbox_retention_hours,
            text(
                f"DELETE FROM {outbox} WHERE seq IN (SELECT seq FROM {outbox} WHERE published_at < :bound "
                "ORDER BY seq LIMIT :batch FOR UPDATE SKIP LOCKED)"
            ),
        ),
        Sweep(
            "inbox",
            settings.inbox_retention_hours,
            text(
                f"DELETE FROM {inbox} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {inbox} WHERE handled_at < :bound "
                "LIMIT :batch FOR UPDATE SKIP LOCKED))"
            ),
        ),
        Sweep(
            "timer",
            settings.timer_retention_hours,
            text(
                f"DELETE FROM {timer} WHERE id IN (SELECT id FROM {timer} "
                "WHERE fired_at < :bound OR cancelled_at < :bound ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED)"
            ),
        ),
        Sweep(
            "idempotency_key",
            settings.idempotency_retention_hours,
            text(
                f"DELETE FROM {keys} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {keys} WHERE created_at < :bound "
                "LIMIT :batch FOR UPDATE SKIP LOCKED))"
            ),
        ),
    ]


class Housekeeper:
    """Sweeps a service's infrastructure tables (see the module docstring)."""

    def __init__(
        self,
        *,
        service: str,
        tables: InfraTables,
        settings: ServiceSettings,
        session_factory: async_sessionmaker[AsyncSession],
    ):
        self.service = service
        self.interval_seconds = settings.housekeeping_interval_seconds
        self.batch = settings.housekeeping_batch
        self.sweeps = [s for s in sweeps(tables, settings) if s.retention_hours > 0]
        self.session_factory = session_factory

    async def run(self) -> None:
        await asyncio.sleep(random.uniform(0, self.interval_seconds))
        while True:
            try:
                await self.sweep()
            except Exception:  # the next sweep tries again; nothing is lost by waiting
                log.warning("housekeeping failed; trying again in %.0f s", self.interval_seconds, exc_info=True)
            await asyncio.sleep(self.interval_seconds)

    async def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Deletes what is past each retention, batch by batch; how many rows of each table."""
        now = now or datetime.now(UTC)
        deleted: dict[str, int] = {}
        for sweep in self.sweeps:
            bound = now - timedelta(hours=sweep.retention_hours)
            deleted[sweep.table] = 0
            while True:
                async with self.session_factory() as session, session.begin():
                    result = await session.execute(sweep.delete, {"bound": bound, "batch": self.batch})
                n = int(result.rowcount)  # type: ignore[attr-defined]
                deleted[sweep.table] += n
                HOUSEKEEPING_DELETED.labels(self.service, sweep.table).inc(n)
                if n < self.batch:
                    break
                await asyncio.sleep(0)  # let the requests and consumers of this worker go between batches
        if any(deleted.values()):
            log.info("housekeeping deleted %s", deleted)
        return deleted
