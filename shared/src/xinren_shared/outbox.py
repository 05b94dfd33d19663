"""Transactional outbox: events are rows written with the state change; a relay publishes them in order.

The relay claims rows with FOR UPDATE SKIP LOCKED under a transaction-level advisory lock, so of several
replicas one publishes at a time and per-key order holds; it wakes on LISTEN/NOTIFY (sent once a transaction that
added rows has committed, `listen.notify_after_commit`) and falls back to a poll.
Under load it drains at most once per `min_interval_seconds`, so the commits of a burst go out in a few batches
instead of one transaction each; a replica that found the lock taken stands by, polling, until it gets the lock.
Rows are marked published only after Kafka acknowledged them: a crash in between publishes them again
(at least once), and the consumers' inbox makes the second copy harmless. The mark commits without waiting for the
disk (`synchronous_commit` off for the relay's own transaction): a mark lost in a crash of PostgreSQL is that case
again, and no business commit waits behind the relay's flush.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from sqlalchemy import (
    CTE,
    BigInteger,
    Insert,
    Select,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import sql, tracing
from .business_metrics import count_business_event
from .events import Envelope, Event, physical
from .listen import notify_after_commit
from .logs import correlation_id
from .metrics import OUTBOX_FAILURES, OUTBOX_OLDEST_AGE, OUTBOX_PENDING, OUTBOX_PUBLISHED
from .settings import to_plain_url

log = logging.getLogger("xinren.outbox")

_RELAY_LOCK = 7_301_995


class Outbox:
    """Adds events to the current transaction; nothing is sent until it commits and the relay picks them up."""

    def __init__(self, table: Table, source: str, channel: str):
        self.table = table
        self.source = source
        self.channel = channel

    async def add(self, session: AsyncSession, evt: Event, *, event_id: str | None = None) -> Envelope:
        env, params = self._row(evt, event_id=event_id)
        await self._insert.execute(await sql.driver(session), params)
        notify_after_commit(session, self.channel)  # wakes the relay once committed (never for a rollback)
        return env

    def embedded(self, session: AsyncSession, evt: Event, *, prefix: str) -> tuple[Envelope, dict[str, Any]]:
        """An event for a caller that writes its row inside a statement of its own (`insert_with` with the same
        `prefix`, in the same round trip as the state change the event tells of): its envelope and that statement's
        parameters. The relay is woken once the transaction commits."""
        notify_after_commit(session, self.channel)
        return self.params(evt, prefix=prefix)

    def params(self, evt: Event, *, prefix: str) -> tuple[Envelope, dict[str, Any]]:
        """As `embedded`, for a statement that commits on its own (`commands.OneStatement`, which wakes the relay
        once it has)."""
        return self._row(evt, prefix=prefix)

    def _row(self, evt: Event, *, event_id: str | None = None, prefix: str = "") -> tuple[Envelope, dict[str, Any]]:
        env = Envelope.of(evt, self.source, id=event_id)
        values = {
            "event_id": env.id,
            "topic": env.topic,
            "key": env.key,
            "type": env.type,
            "source": env.source,
            "subject": env.subject,
            "data": env.data,
            "occurred_at": env.time,
            "traceparent": tracing.current_traceparent(),
        }
        return env, {f"{prefix}{name}": value for name, value in values.items()}

    @functools.cached_property
    def _insert(self) -> sql.Statement:
        return sql.Statement(_insert_row(self.table, ""))


_OUTBOX_COLUMNS = ("event_id", "topic", "key", "type", "source", "subject", "data", "occurred_at", "traceparent")


def _insert_row(table: Table, prefix: str) -> Insert:
    return insert(table).values(
        {name: bindparam(f"{prefix}{name}", type_=table.c[name].type) for name in _OUTBOX_COLUMNS}
    )


def insert_with(table: Table, prefix: str = "", *others: CTE) -> Select[Any]:
    """One outbox row (its values bound as `prefix` + name, as `Outbox.embedded` gives them) in a statement with
    `others` (data-modifying CTEs: the state change the event tells of), in the same round trip."""
    added = _insert_row(table, prefix).returning(literal(1)).cte("added")
    return select(literal(1)).select_from(added).add_cte(*others)


def _envelope(row: Mapping[str, Any]) -> Envelope:
    return Envelope(
        type=row["type"],
        source=row["source"],
        data=row["data"],
        topic=row["topic"],
        key=row["key"],
        subject=row["subject"],
        id=row["event_id"],
        time=row["occurred_at"],
        traceparent=row["traceparent"],
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        table: Table,
        session_factory: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        database_url: str,
        channel: str,
        poll_seconds: float = 1.0,
        min_interval_seconds: float = 0.01,
        batch_size: int = 500,
        after_publish: Callable[[list[Envelope]], Awaitable[None]] | None = None,
    ):
        self.service = service
        self.table = table
        self.session_factory = session_factory
        self.producer = producer
        self.database_url = to_plain_url(database_url)
        self.channel = channel
        self.poll_seconds = poll_seconds
        self.min_interval_seconds = min_interval_seconds
        self.batch_size = batch_size
        # Another replica's relay held the lock at the last try: this one polls instead of answering every NOTIFY.
        self.standing_by = False
        # Test seam: runs after Kafka acknowledged a batch and before the rows are marked published.
        self.after_publish = after_publish
        self._wake = asyncio.Event()
        self._listener: asyncpg.Connection | None = None
        self.listening = asyncio.Event()

    @functools.cached_property
    def _claim(self) -> sql.Statement:
        """The relay's lock for this transaction, tried once (`held`), and only if it was taken the oldest pending
        rows, locked (others' claims skipped): one round trip, compiled once, for every batch. Always one row at
        least: `held` false and no event when another relay holds the lock, `held` true and none when nothing is
        pending."""
        t = self.table
        held = select(
            func.pg_try_advisory_xact_lock(bindparam("lock", type_=BigInteger)).label("held"),
            # This transaction only marks rows published: if its commit were lost in a crash, the rows would be
            # published again, which at-least-once allows and the consumers' inbox absorbs. So it does not wait
            # for its commit to reach the disk.
            func.set_config("synchronous_commit", "off", True).label("synchronous_commit"),
            # The mark after it is planned for the outbox as it is, with the batch's keys: a plan the server kept
            # from a small outbox (a fresh database) scanned the whole table for every batch until analyzed.
            func.set_config("plan_cache_mode", "force_custom_plan", True).label("plan_cache_mode"),
        ).cte("held")
        pending = (
            select(t)
            .where(held.c.held, t.c.published_at.is_(None))
            .order_by(t.c.seq)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
            .lateral("pending")
        )
        claim = select(held.c.held, pending).select_from(held.outerjoin(pending, true())).order_by(pending.c.seq)
        return sql.Statement(claim)

    @functools.cached_property
    def _oldest(self) -> sql.Statement:
        """When the oldest pending row was written (the first by seq, on the pending rows' index); NULL when none."""
        t = self.table
        return sql.Statement(select(t.c.created_at).where(t.c.published_at.is_(None)).order_by(t.c.seq).limit(1))

    @functools.cached_property
    def _published(self) -> sql.Statement:
        t = self.table
        mark = update(t).where(t.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger))))
        return sql.Statement(mark.values(published_at=bindparam("at"), attempts=t.c.attempts + 1, last_error=None))

    async def publish_batch(self) -> int:
        """Publishes one batch of pending events; returns how many (0 when none, or another relay holds the lock)."""
        claimed: list[int] = []
        try:
            async with self.session_factory() as session, session.begin():
                conn = await sql.driver(session)
                claim = await self._claim.fetch(conn, {"lock": _RELAY_LOCK, "limit": self.batch_size})
                self.standing_by = not claim[0]["held"]
                if self.standing_by:
                    # Reported by every replica alike, whichever of them a scrape reaches: the oldest row pending
                    # (read once per poll while standing by), not what this one last published.
                    OUTBOX_OLDEST_AGE.record(self.service, await self._oldest.fetchval(conn, {}))
                    return 0
                rows = [r for r in claim if r["seq"] is not None]
                if not rows:
                    OUTBOX_PENDING.labels(self.service).set(0)
                    OUTBOX_OLDEST_AGE.record(self.service, None)
                    return 0
                # Until these rows are marked published, the oldest of them ages (at scrape time): a relay stuck
                # on Kafka shows as a growing xinren_outbox_oldest_unpublished_seconds.
                OUTBOX_OLDEST_AGE.record(self.service, min(r["created_at"] for r in rows))
                claimed = [r["seq"] for r in rows]
                envelopes = [_envelope(r) for r in rows]
                spans = self._producer_spans(envelopes)
                # send() only enqueues, in order; the idempotent producer keeps that order per partition.
                pending = []
                for env in envelopes:
                    key, value, headers = env.to_kafka()
                    pending.append(await self.producer.send(physical(env.topic), value=value, key=key, headers=headers))
                with tracing.ending(spans):
                    await asyncio.gather(*pending)
                if self.after_publish is not None:
                    await self.after_publish(envelopes)
                await self._published.execute(conn, {"seqs": claimed, "at": datetime.now(UTC)})
            if len(rows) < self.batch_size:  # every row pending when the batch was claimed is published
                OUTBOX_PENDING.labels(self.service).set(0)
                OUTBOX_OLDEST_AGE.record(self.service, None)
        except Exception as exc:
            if claimed:
                await self._record_failure(claimed, exc)
            raise
        for env in envelopes:
            OUTBOX_PUBLISHED.labels(self.service, env.topic).inc()
            count_business_event(env)
        return len(claimed)

    def _producer_spans(self, envelopes: list[Envelope]) -> list[Span]:
        """A producer span per event whose trace is recorded (none otherwise: its row's traceparent goes on as it is),
        a child of the span that wrote the row; the record carries the producer span's traceparent instead."""
        spans = []
        for env in envelopes:
            parent = tracing.context_from(env.traceparent)
            if parent is None or not trace.get_current_span(parent).get_span_context().trace_flags.sampled:
                continue
            span = tracing.tracer(self.service).start_span(
                f"{env.topic} publish",
                context=parent,
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "send",
                    "messaging.destination.name": env.topic,
                    "messaging.message.id": env.id,
                    "messaging.kafka.message.key": env.key,
                },
            )
            env.traceparent = tracing.traceparent_of(span)
            spans.append(span)
        return spans

    async def _record_failure(self, seqs: list[int], exc: Exception) -> None:
        OUTBOX_FAILURES.labels(self.service).inc()
        async with self.session_factory() as session, session.begin():
            await session.execute(
                update(self.table)
                .where(self.table.c.seq.in_(seqs))
                .values(attempts=self.table.c.attempts + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000])
            )

    async def drain(self) -> int:
        """Publishes batches until one is not full: rows committed after its claim announce themselves (NOTIFY)."""
        total = 0
        while True:
            n = await self.publish_batch()
            total += n
            if n < self.batch_size:
                return total

    async def _listen(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        self._listener = await asyncpg.connect(self.database_url)
        await self._listener.add_listener(self.channel, lambda *_: self._wake.set())
        self.listening.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            # Each round's log lines share a correlation id of their own (a round publishes many traces' events).
            token = correlation_id.set(f"relay-{uuid.uuid4().hex[:16]}")
            try:
                await self._listen()
                self._wake.clear()
                began = time.monotonic()
                await self.drain()
                backoff = 0.1
                if self.standing_by:  # another replica publishes; this one takes over when it stops
                    await asyncio.sleep(self.poll_seconds)
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
                except TimeoutError:
                    continue
                # Woken: under load, the commits of the rest of the interval join this batch (one transaction for
                # them all, instead of one each); after a quiet spell the interval is long past and it goes at once.
                if (rest := self.min_interval_seconds - (time.monotonic() - began)) > 0:
                    await asyncio.sleep(rest)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying in %.1fs", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                correlation_id.reset(token)

    async def close(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            try:
                await asyncio.wait_for(self._listener.close(), 5)
            except (TimeoutError, OSError):
                self._listener.terminate()
