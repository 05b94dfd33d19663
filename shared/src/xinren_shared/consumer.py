"""Idempotent consumer: each event's effects and its inbox row commit in one transaction.

Records are handled in batches: the records a poll brought for one partition (up to `batch_size`) share one
transaction, with their inbox rows inserted in one statement, and partitions run in parallel. If anything in a batch
fails, the batch rolls back whole and its records are handled one by one, in order, with retries, so a poison event
reaches the dead letters alone and the rest go through. A handler wrapped in `Batched` is given the fresh events
of a batch together (each run of consecutive events it handles), so it can write them with one statement instead
of one round trip per event; record by record it is given one. Offsets are committed only after the database
commit. A handler that keeps failing sends the record to `<topic>.dlq` (original bytes, with the error and the
original coordinates in headers) and the partition moves on; a database that cannot be reached is not the event's
failure: the partition waits for it, spending no attempt. A record that is not a valid CloudEvent or does not fit
its model goes to the dead-letter topic at once.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from opentelemetry.trace import Span, SpanKind
from pydantic import ValidationError
from sqlalchemy import BigInteger, Integer, String, Table, Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import sql, tracing
from .db import database_unavailable, lock_conflict
from .events import REGISTRY, Envelope, Event, dlq_topic, logical, physical
from .kafka import ensure_topics
from .kafka_metrics import DeadLetterDepth
from .metrics import CONSUMED, CONSUMER_LAG, DEAD_LETTERS, HANDLER_SECONDS
from .settings import ServiceSettings

if TYPE_CHECKING:
    from .runtime import ServiceRuntime

log = logging.getLogger("xinren.consumer")

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

DLQ_HEADERS = ("x-dlq-error", "x-dlq-consumer", "x-dlq-topic", "x-dlq-partition", "x-dlq-offset", "x-dlq-attempts")


@dataclass(frozen=True)
class EventContext(Generic[SettingsT]):
    """What an event handler gets besides its session and event: the envelope and the service's runtime."""

    envelope: Envelope
    runtime: ServiceRuntime[SettingsT]


Handler = Callable[[AsyncSession, Any, EventContext[Any]], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, list[tuple[Any, EventContext[Any]]]], Awaitable[None]]


@dataclass(frozen=True)
class Batched:
    """A handler of many events at once, in their order, on the batch's transaction. A consumer batch gives it each
    run of consecutive fresh events it handles (duplicates left out); when the batch failed and its records are
    handled one by one, it gets one event at a time. For events whose effect is a write that one statement can do
    for all of them: a per-event handler waits for the database once per event (in the backbone benchmark, that
    round trip is most of what a consumer does); this waits once per run. Each event's consumer span is open for the
    call but not current (the call is many events'): events the handler writes start traces of their own."""

    handle: BatchHandler


_BATCH_ATTEMPTS = 3


class _Poison(Exception):
    """A record that no retry can fix: not a CloudEvent, or data that does not fit its model."""


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, owner: IdempotentConsumer):
        self.owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.owner.commit_done([tp for tp in revoked])
        # Whether that commit went through or not, they are no longer this member's to commit: their next owner
        # starts from the group's committed offset (the inbox makes anything handled twice a duplicate).
        self.owner.forget(revoked)
        self.owner.forget_lag(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        return None


class CommitsStuck(RuntimeError):
    """The consumer handles records but none of its offset commits has gone through for too long."""


class IdempotentConsumer:
    def __init__(
        self,
        *,
        service: str,
        name: str,
        handlers: Mapping[type[Event], Handler | Batched],
        session_factory: async_sessionmaker[AsyncSession],
        inbox: Table,
        bootstrap_servers: str,
        group_id: str,
        producer: AIOKafkaProducer,
        runtime: Any = None,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        topics: list[str] | None = None,
        partitions: int = 3,
        batch_size: int = 100,
        lag_interval_seconds: float = 1.0,
        dlq_depth_interval_seconds: float = 30.0,
        commit_interval_seconds: float = 1.0,
        fetch_max_wait_ms: int = 100,
        commit_timeout_seconds: float = 10.0,
        stuck_commits_seconds: float = 30.0,
    ):
        self.service = service
        self.name = name
        self.handlers = {cls.TYPE: h for cls, h in handlers.items()}
        self.topics = sorted(physical(t) for t in (topics or {cls.TOPIC for cls in handlers}))
        self.partitions = partitions
        self.bootstrap_servers = bootstrap_servers
        self.session_factory = session_factory
        self.inbox = inbox
        self.producer = producer
        self.runtime = runtime
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.batch_size = max(1, batch_size)
        self.group_id = group_id
        self.lag_interval_seconds = lag_interval_seconds
        self.dlq_depth_interval_seconds = dlq_depth_interval_seconds  # 0: not measured
        self._lag_at = 0.0
        # Offsets are committed at most this often (and on revocation and stop): each commit is a write to the
        # broker's offsets log, and committing after every small batch made the broker's CPU grow with every
        # consumer of every event. A crash redelivers at most this much, which the inbox makes duplicates.
        self.commit_interval_seconds = commit_interval_seconds
        # The broker holds a fetch that finds nothing this long at most. The fetch sent while some partitions'
        # records are handled leaves those partitions out, so their next records wait for it to come back: with
        # Kafka's 500 ms, that was the slowest hop of a paid order's way to its quality-check case (p99 ~0.24-0.5 s).
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._commit_at = -math.inf  # the first batch's offsets are committed at once (monotonic time can be small)
        self.commit_timeout_seconds = commit_timeout_seconds
        # After a broker restart, aiokafka can lose its group coordinator for good: the lookup it holds a lock for
        # never returns, so records are still handled but every commit waits out its timeout and fails (seen in the
        # broker-restart fault scenario, the lag frozen at the last commit). Past this long without a commit that
        # went through, `run` fails and the runtime starts the consumer again as a new member (what it reads twice,
        # the inbox absorbs). A broker down for less than this costs no restart.
        self.stuck_commits_seconds = stuck_commits_seconds
        self._commits_failing_since: float | None = None
        self.consumer: AIOKafkaConsumer | None = None  # made in start(): an unstarted client would leak
        self._done: dict[TopicPartition, int] = {}
        self.runs = 0  # how many times run() was entered (the runtime starts it again after a failure)
        self._committed: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        # Subscribing to a topic that does not exist yet would wait for a metadata refresh: create it first.
        await ensure_topics(self.bootstrap_servers, self.topics + [dlq_topic(t) for t in self.topics], self.partitions)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.service}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=30_000,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
        )
        await self.consumer.start()
        self.consumer.subscribe(self.topics, listener=_CommitOnRevoke(self))
        self._done.clear()  # a new member: it reads from the group's committed offsets
        self._committed.clear()
        self._commits_failing_since = None

    async def stop(self) -> None:
        client = self.consumer  # this member's: a stop left behind must not stop the next one (start replaces it)
        if client is None:
            return
        try:
            await self.commit_done()
        finally:
            await client.stop()

    def _uncommitted(self, partitions: list[TopicPartition] | None = None) -> dict[TopicPartition, int]:
        return {
            tp: off
            for tp, off in self._done.items()
            if (partitions is None or tp in partitions) and self._committed.get(tp) != off
        }

    def forget(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._done.pop(tp, None)
            self._committed.pop(tp, None)

    async def commit_done(self, partitions: list[TopicPartition] | None = None) -> None:
        """Commits the offsets handled since the last commit. One that fails (a rebalance under way, the coordinator
        moving) is tried again at the next commit, records or not."""
        if self.consumer is None:
            return
        assigned = self.consumer.assignment()
        # Only this member's partitions: Kafka refuses the whole commit for one it does not own.
        offsets = {tp: off for tp, off in self._uncommitted(partitions).items() if tp in assigned}
        if not offsets:
            return
        try:
            await asyncio.wait_for(self.consumer.commit(offsets), self.commit_timeout_seconds)
            self._committed.update(offsets)
            self._commits_failing_since = None
        except Exception:
            # Not fatal: the inbox makes a redelivery of these records harmless.
            log.warning("offset commit failed for %s", offsets, exc_info=True)
            if self._commits_failing_since is None:
                self._commits_failing_since = time.monotonic()

    async def run(self) -> None:
        assert self.consumer is not None, "start() first"
        self.runs += 1
        depth = None
        if self.dlq_depth_interval_seconds > 0:
            gauge = DeadLetterDepth(
                service=self.service,
                consumer=self.name,
                topics=self.topics,
                partitions=self.partitions,
                bootstrap_servers=self.bootstrap_servers,
            )
            depth = asyncio.create_task(gauge.run(self.dlq_depth_interval_seconds), name=f"{self.name}-dlq-depth")
        try:
            while True:
                batch = await self.consumer.getmany(timeout_ms=500, max_records=500)
                # Partitions in parallel (each key lives on one partition, so per-key order holds), each in batches.
                await asyncio.gather(*(self._run_partition(tp, records) for tp, records in batch.items()))
                if time.monotonic() - self._commit_at >= self.commit_interval_seconds and self._uncommitted():
                    self._commit_at = time.monotonic()
                    await self.commit_done()
                    failing = self._commits_failing_since
                    if failing is not None and time.monotonic() - failing > self.stuck_commits_seconds:
                        raise CommitsStuck(f"no offset commit has gone through for {time.monotonic() - failing:.0f} s")
                if time.monotonic() - self._lag_at >= self.lag_interval_seconds:
                    try:
                        await self.record_lag()
                    except Exception:  # a gauge: never a reason to stop consuming
                        log.warning("recording the consumer lag failed", exc_info=True)
        finally:
            if depth is not None:
                depth.cancel()
                await asyncio.gather(depth, return_exceptions=True)

    async def record_lag(self) -> None:
        """Sets `xinren_consumer_lag` of every assigned partition: the high watermark the last fetch saw minus the
        next offset this consumer reads (records handled are behind the position; fetched ones are handled before
        the next poll)."""
        assert self.consumer is not None
        self._lag_at = time.monotonic()
        for tp in list(self.consumer.assignment()):
            if tp not in self.consumer.assignment():
                continue  # revoked by a rebalance while an earlier partition's position was awaited
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from it yet
            position = self._done.get(tp)
            if position is None:
                try:  # known at once once the partition has been fetched from; never wait for it here
                    position = await asyncio.wait_for(self.consumer.position(tp), 0.05)
                except (TimeoutError, KafkaError):
                    continue
            CONSUMER_LAG.labels(self.service, self.group_id, logical(tp.topic), str(tp.partition)).set(
                max(0, highwater - position)
            )

    def forget_lag(self, partitions: list[TopicPartition]) -> None:
        """A revoked partition's lag is reported by its new owner from now on."""
        for tp in partitions:
            try:
                CONSUMER_LAG.remove(self.service, self.group_id, logical(tp.topic), str(tp.partition))
            except KeyError:
                pass

    async def _run_partition(self, tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        for start in range(0, len(records), self.batch_size):
            chunk = records[start : start + self.batch_size]
            if await self._handle_batch(chunk):
                self._done[tp] = chunk[-1].offset + 1
                continue
            # Something in the chunk failed: its transaction rolled back whole. Handle the chunk record by record,
            # in order, so a poison event goes to the dead letters alone after its retries.
            for record in chunk:
                await self.process(record)
                self._done[tp] = record.offset + 1

    async def _handle_batch(self, records: list[ConsumerRecord]) -> bool:
        """Handles `records` of one partition in one transaction (one commit for all): True when all of them
        went through (handled, duplicate or not ours), False when anything failed and nothing was kept."""
        decoded: list[tuple[ConsumerRecord, Envelope, Event]] = []
        for record in records:
            try:
                envelope, event = self._decode(record)
            except _Poison:
                return False
            if event is not None:
                decoded.append((record, envelope, event))
        if not decoded:
            return True
        for attempt in range(1, _BATCH_ATTEMPTS + 1):
            try:
                outcomes = await self._handle_decoded(decoded)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if lock_conflict(exc) and attempt < _BATCH_ATTEMPTS:
                    # Another partition's batch locked the same rows in another order (the database aborted this
                    # one to break the deadlock): the other one goes through, this one again in a moment.
                    await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
                    continue
                log.info("batch of %d on %s failed (%s); handling it record by record", len(records), self.name, exc)
                return False
            for type_, outcome in outcomes:
                CONSUMED.labels(self.service, self.name, type_, outcome).inc()
            return True
        return False

    async def _handle_decoded(self, decoded: list[tuple[ConsumerRecord, Envelope, Event]]) -> list[tuple[str, str]]:
        """One transaction for the batch: its inbox rows, then the fresh events' handlers in order (a `Batched` one
        once for each run of consecutive events it handles); the outcome of each event."""
        outcomes: list[tuple[str, str]] = []
        async with self.session_factory() as session, session.begin():
            fresh = await self._record_in_inbox(session, decoded)
            handled: list[tuple[ConsumerRecord, Envelope, Event]] = []
            for record, envelope, event in decoded:
                if envelope.id not in fresh:
                    outcomes.append((envelope.type, "duplicate"))
                    continue
                fresh.discard(envelope.id)  # a second copy within the batch is a duplicate too
                handled.append((record, envelope, event))
                outcomes.append((envelope.type, "handled"))
            for handler, group in itertools.groupby(handled, key=lambda item: self.handlers[item[1].type]):
                run = list(group)
                if isinstance(handler, Batched):
                    await self._run_batched(session, handler, run)
                    continue
                for record, envelope, event in run:
                    started = time.perf_counter()
                    with self._span(record, envelope):
                        await handler(session, event, EventContext(envelope, self.runtime))
                    HANDLER_SECONDS.labels(self.service, self.name, envelope.type).observe(
                        time.perf_counter() - started
                    )
        return outcomes

    async def _run_batched(
        self, session: AsyncSession, handler: Batched, run: list[tuple[ConsumerRecord, Envelope, Event]]
    ) -> None:
        """One call for the run. Each event keeps its own consumer span (a child of its record's context), open for
        the call; each is given the time of the call divided among them."""
        started = time.perf_counter()
        with tracing.ending([self._start_span(record, envelope) for record, envelope, _ in run]):
            await handler.handle(session, [(event, EventContext(envelope, self.runtime)) for _, envelope, event in run])
        share = (time.perf_counter() - started) / len(run)
        for _, envelope, _ in run:
            HANDLER_SECONDS.labels(self.service, self.name, envelope.type).observe(share)

    async def _record_in_inbox(
        self, session: AsyncSession, decoded: list[tuple[ConsumerRecord, Envelope, Event]]
    ) -> set[str]:
        """Inserts the inbox rows of a batch in one statement (arrays of its columns, so that one prepared statement
        serves every batch size); returns the event ids not seen before."""
        rows = {
            envelope.id: (envelope.type, record.topic, record.partition, record.offset)
            for record, envelope, _ in decoded
        }
        params = {
            "consumer": self.name,
            "event_ids": list(rows),
            "types": [r[0] for r in rows.values()],
            "topics": [r[1] for r in rows.values()],
            "partitions": [r[2] for r in rows.values()],
            "offsets": [r[3] for r in rows.values()],
        }
        inserted = await self._inbox_insert.fetch(await sql.driver(session), params)
        return {row["event_id"] for row in inserted}

    @functools.cached_property
    def _inbox_insert(self) -> sql.Statement:
        t = self.inbox
        lines = (
            func.unnest(
                bindparam("event_ids", type_=ARRAY(Text)),
                bindparam("types", type_=ARRAY(Text)),
                bindparam("topics", type_=ARRAY(Text)),
                bindparam("partitions", type_=ARRAY(Integer)),
                bindparam("offsets", type_=ARRAY(BigInteger)),
            )
            .table_valued("event_id", "type", "topic", "partition", "offset")
            .render_derived(name="line")
        )
        rows = select(bindparam("consumer", type_=String), *lines.c)
        return sql.Statement(
            insert(t)
            .from_select(["consumer", "event_id", "type", "topic", "partition", "offset"], rows)
            .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
            .returning(t.c.event_id)
        )

    async def process(self, record: ConsumerRecord) -> None:
        """Handles one record to completion: handled once, skipped as a duplicate, or dead-lettered."""
        try:
            envelope, event = self._decode(record)
        except _Poison as exc:
            await self._dead_letter(record, f"{exc}", attempts=1)
            return
        if event is None:
            return  # a type this consumer does not handle
        with self._span(record, envelope):
            attempt = unavailable = 0
            while True:
                attempt += 1
                try:
                    outcome = await self._handle_once(record, envelope, event)
                    CONSUMED.labels(self.service, self.name, envelope.type, outcome).inc()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if database_unavailable(exc):
                        # Not the event's fault: wait for the database as long as it takes, spend no attempt, move
                        # no offset (the partition waits, in order).
                        attempt -= 1
                        unavailable += 1
                        log.warning("database unavailable while handling %s; waiting: %s", envelope.type, exc)
                        await asyncio.sleep(min(self.retry_base_seconds * 2 ** min(unavailable, 8), 5.0))
                        continue
                    log.warning(
                        "handler for %s failed (attempt %d/%d): %s", envelope.type, attempt, self.max_attempts, exc
                    )
                    if attempt >= self.max_attempts:
                        CONSUMED.labels(self.service, self.name, envelope.type, "dead_letter").inc()
                        await self._dead_letter(record, f"{type(exc).__name__}: {exc}", attempts=attempt)
                        return
                    await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))

    def _span(self, record: ConsumerRecord, envelope: Envelope) -> AbstractContextManager[Span]:
        """The consumer span of one event, a child of the context its record carries (a new trace if none), current
        while its handler runs; its trace id is the correlation id of the handler's log lines."""
        return tracing.traced(
            self.service,
            f"{envelope.topic} process",
            kind=SpanKind.CONSUMER,
            parent=tracing.context_from(envelope.traceparent),
            attributes=self._span_attributes(record, envelope),
        )

    def _start_span(self, record: ConsumerRecord, envelope: Envelope) -> Span:
        """The same span, started but not made current: a `Batched` handler runs for many events at once."""
        return tracing.tracer(self.service).start_span(
            f"{envelope.topic} process",
            context=tracing.context_from(envelope.traceparent),
            kind=SpanKind.CONSUMER,
            attributes=self._span_attributes(record, envelope),
        )

    def _span_attributes(self, record: ConsumerRecord, envelope: Envelope) -> dict[str, str | int]:
        return {
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": envelope.topic,
            "messaging.consumer.group.name": self.group_id,
            "messaging.message.id": envelope.id,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "cloudevents.event_type": envelope.type,
        }

    def _decode(self, record: ConsumerRecord) -> tuple[Envelope, Event | None]:
        try:
            envelope = Envelope.from_kafka(logical(record.topic), record.key, record.value, record.headers)
        except ValueError as exc:
            raise _Poison(str(exc)) from exc
        if envelope.type not in self.handlers:
            return envelope, None
        try:
            return envelope, REGISTRY[envelope.type].model_validate(envelope.data)
        except ValidationError as exc:
            raise _Poison(f"data does not fit {envelope.type}: {exc.errors(include_input=False)}") from exc

    async def _handle_once(self, record: ConsumerRecord, envelope: Envelope, event: Event) -> str:
        async with self.session_factory() as session, session.begin():
            inserted = await session.execute(
                insert(self.inbox)
                .values(
                    consumer=self.name,
                    event_id=envelope.id,
                    type=envelope.type,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
                .returning(self.inbox.c.event_id)
            )
            if inserted.first() is None:
                return "duplicate"
            started = time.perf_counter()
            handler, context = self.handlers[envelope.type], EventContext(envelope, self.runtime)
            if isinstance(handler, Batched):
                await handler.handle(session, [(event, context)])
            else:
                await handler(session, event, context)
            HANDLER_SECONDS.labels(self.service, self.name, envelope.type).observe(time.perf_counter() - started)
            return "handled"

    async def _dead_letter(self, record: ConsumerRecord, error: str, *, attempts: int) -> None:
        headers = [(k, v) for k, v in (record.headers or []) if k not in DLQ_HEADERS]
        headers += [
            ("x-dlq-error", error[:4000].encode()),
            ("x-dlq-consumer", self.name.encode()),
            ("x-dlq-topic", logical(record.topic).encode()),
            ("x-dlq-partition", str(record.partition).encode()),
            ("x-dlq-offset", str(record.offset).encode()),
            ("x-dlq-attempts", str(attempts).encode()),
        ]
        # Awaited to the broker's ack: the offset moves on only once the dead letter is safe.
        await (await self.producer.send(dlq_topic(record.topic), value=record.value, key=record.key, headers=headers))
        DEAD_LETTERS.labels(self.service, self.name, record.topic).inc()
        log.error(
            "dead-lettered %s:%d@%d after %d attempt(s): %s",
            record.topic,
            record.partition,
            record.offset,
            attempts,
            error,
        )
