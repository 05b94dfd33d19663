"""The durable delivery worker: claims one due delivery at a time with FOR UPDATE SKIP LOCKED (so any number of
workers and replicas share them), only when no earlier event of the same subscription and order is still open,
makes one signed attempt, records it, and keeps the subscription's health (see health.py)."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta

import httpx
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from xinren_shared import tracing
from xinren_shared.ids import utcnow

from . import domain, health
from .domain import DELIVERY, DeliveryStatus, RetryPolicy
from .settings import NotifySettings
from .webhooks import WEBHOOK_ATTEMPTS, body_of, derive_secret, post_signed, service_key, sign

log = logging.getLogger("xinren.notify.webhooks")

_OPEN = "d.status IN ('PENDING', 'RETRYING')"
_NO_EARLIER_OPEN = """NOT EXISTS (
    SELECT 1 FROM webhook_delivery e
    WHERE e.webhook_id = d.webhook_id AND e.order_key = d.order_key AND e.seq < d.seq
      AND e.status IN ('PENDING', 'RETRYING'))"""

# A row being sent is held FOR UPDATE; the next due time skips it with the weakest lock (FOR KEY SHARE), which the
# backlog release (FOR NO KEY UPDATE) does not wait for or skip.
CLAIM = text(
    f"""
    SELECT d.seq, d.delivery_id, d.event_id, d.status, d.payload, d.attempts, d.failures, d.window_ends_at,
           s.webhook_id, s.url, s.secret_salt, s.deleted_at, s.disabled_at, s.failing_since
    FROM webhook_delivery d JOIN webhook_subscription s ON s.webhook_id = d.webhook_id
    WHERE {_OPEN} AND d.next_attempt_at <= now() AND {_NO_EARLIER_OPEN}
    ORDER BY d.next_attempt_at, d.seq
    LIMIT 1
    FOR UPDATE OF d SKIP LOCKED
    """
)
NEXT_DUE = text(
    f"""
    SELECT d.next_attempt_at FROM webhook_delivery d
    WHERE {_OPEN} AND {_NO_EARLIER_OPEN}
    ORDER BY d.next_attempt_at
    LIMIT 1
    FOR KEY SHARE OF d SKIP LOCKED
    """
)
RECORD = text(
    """
    UPDATE webhook_delivery SET status = :status, attempts = attempts + 1, failures = :failures,
        next_attempt_at = :next_attempt_at, window_ends_at = :window_ends_at, last_attempt_at = :at,
        last_status_code = :status_code, last_error = :error,
        delivered_at = COALESCE(:delivered_at, delivered_at)
    WHERE seq = :seq
    """
)
CLOSE = text("UPDATE webhook_delivery SET status = :status, next_attempt_at = NULL WHERE seq = :seq")
LOG_ATTEMPT = text(
    """
    INSERT INTO webhook_attempt (delivery_seq, attempt, started_at, duration_ms, status_code, error, response_excerpt)
    VALUES (:seq, :attempt, :at, :duration_ms, :status_code, :error, :excerpt)
    """
)


def retry_policy(settings: NotifySettings) -> RetryPolicy:
    return RetryPolicy(
        first_retry_seconds=settings.webhook_first_retry_seconds,
        factor=settings.webhook_backoff_factor,
        max_backoff_seconds=settings.webhook_max_backoff_seconds,
        jitter=settings.webhook_backoff_jitter,
        window_seconds=settings.webhook_retry_window_seconds,
    )


class DeliveryWorkers:
    """`webhook_workers` loops, each sending one delivery at a time in its own transaction."""

    def __init__(self, settings: NotifySettings, session_factory: async_sessionmaker[AsyncSession]):
        self.settings = settings
        self.session_factory = session_factory
        self.policy = retry_policy(settings)
        self.key = service_key(settings)
        self.rng = random.Random()
        self._wakes = [asyncio.Event() for _ in range(settings.webhook_workers)]
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.webhook_timeout_seconds),
            follow_redirects=False,
            trust_env=False,  # never through an environment proxy: the address guard must see the real target
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
        )

    def wake(self, _payload: str | None = None) -> None:
        for event in self._wakes:
            event.set()

    async def close(self) -> None:
        await self.client.aclose()

    async def deliver_one(self) -> bool:
        """Claims one due delivery and makes one attempt; False when nothing is due."""
        released = False
        async with self.session_factory() as session, session.begin():
            row = (await session.execute(CLAIM)).first()
            if row is None:
                return False
            if row.deleted_at is not None or row.disabled_at is not None:
                # Deleted: cancelled. Disabled (queued as it was being disabled): dead, until the partner recovers.
                closed = DeliveryStatus.CANCELLED if row.deleted_at is not None else DeliveryStatus.DEAD
                await session.execute(CLOSE, {"seq": row.seq, "status": DELIVERY.require(row.status, closed)})
                return True
            now = utcnow()
            window_ends_at = row.window_ends_at or now + timedelta(seconds=self.policy.window_seconds)
            body = body_of(row.payload)
            secret = derive_secret(self.key, row.webhook_id, row.secret_salt)
            headers = {"content-type": "application/json", **sign(secret, row.event_id, now, body)}
            # A client span in the event's trace (the payload's traceparent): the partner gets its traceparent.
            with tracing.traced(
                "notify",
                "webhook send",
                kind=SpanKind.CLIENT,
                parent=tracing.context_from(row.payload.get("traceparent")),
                attributes={"http.request.method": "POST", "xinren.webhook_id": row.webhook_id},
            ) as span:
                tracing.inject(headers, span)
                result = await post_signed(
                    self.client,
                    row.url,
                    body,
                    headers,
                    allow_private=self.settings.webhook_allow_private,
                    timeout=self.settings.webhook_timeout_seconds,
                )
                if span.is_recording() and result.status_code is not None:
                    span.set_attribute("http.response.status_code", result.status_code)
            done_at = utcnow()
            outcome = domain.after_attempt(
                DeliveryStatus(row.status),
                ok=result.ok,
                now=done_at,
                window_ends_at=window_ends_at,
                failures=row.failures,
                policy=self.policy,
                rng=self.rng,
            )
            error = result.error or (None if result.ok else f"HTTP {result.status_code}")
            await session.execute(
                RECORD,
                {
                    "seq": row.seq,
                    "status": str(outcome.status),
                    "failures": outcome.failures,
                    "next_attempt_at": outcome.next_attempt_at,
                    "window_ends_at": window_ends_at,
                    "at": now,
                    "status_code": result.status_code,
                    "error": error,
                    "delivered_at": now if outcome.status is DeliveryStatus.DELIVERED else None,
                },
            )
            await session.execute(
                LOG_ATTEMPT,
                {
                    "seq": row.seq,
                    "attempt": row.attempts + 1,
                    "at": now,
                    "duration_ms": result.duration_ms,
                    "status_code": result.status_code,
                    "error": error,
                    "excerpt": result.excerpt,
                },
            )
            released = await self._keep_health(
                session, row.webhook_id, row.failing_since, row.failures, result.ok, done_at
            )
            WEBHOOK_ATTEMPTS.labels(str(outcome.status)).inc()
            log.info(
                "webhook %s event %s attempt %d: %s -> %s",
                row.webhook_id,
                row.event_id,
                row.attempts + 1,
                error or result.status_code,
                outcome.status,
            )
        if released:
            self.wake()  # after the commit: the other workers now see the released backlog
        return True

    async def _keep_health(
        self,
        session: AsyncSession,
        webhook_id: str,
        failing_since: datetime | None,
        failures: int,
        ok: bool,
        now: datetime,
    ) -> bool:
        """True when the backlog was released. Nothing is written while the state holds (a healthy success, a
        failure while failing): the hot path stays one claim and two writes."""
        if not ok:
            if failing_since is None:
                await health.mark_failing(session, webhook_id, now, self.settings)
            return False
        if failing_since is None or not await health.mark_healthy(session, webhook_id):
            return False
        if domain.is_recovery(
            failing_for=(now - failing_since).total_seconds(),
            failures=failures,
            first_retry_seconds=self.settings.webhook_first_retry_seconds,
        ):
            await health.release_backlog(session, webhook_id, now, self.settings.webhook_catchup_per_second)
            log.info("webhook %s answers again: its backlog is due now", webhook_id)
            return True
        return False

    async def next_due_in(self) -> float:
        async with self.session_factory() as session, session.begin():
            due: datetime | None = (await session.execute(NEXT_DUE)).scalar()
        poll = self.settings.webhook_poll_seconds
        if due is None:
            return poll
        return max(0.01, min(poll, (due - utcnow()).total_seconds()))

    async def run(self, index: int) -> None:
        wake = self._wakes[index]
        while True:
            try:
                wake.clear()
                while await self.deliver_one():
                    pass
                delay = await self.next_due_in()
                try:
                    await asyncio.wait_for(wake.wait(), delay)
                except TimeoutError:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("webhook worker %d failed; going on", index)
                await asyncio.sleep(self.settings.webhook_poll_seconds)
