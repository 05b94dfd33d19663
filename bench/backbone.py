"""Backbone throughput: N events written to the outbox in batches of B per transaction, published by the relay,
handled by the idempotent consumer (one inbox row and one effect row each).

The load is the same whatever the shared package: a writer's transaction inserts its B outbox rows with one SQL
statement (as a service's own statement carries the event it writes) and wakes the relay, and the handler inserts
the effect rows with one prepared statement on the consumer's transaction: one statement for each run of events a
batch gives it where the shared package can (a `Batched` handler, as a service's handler whose effect is a plain
write), else one per event (an older tree, or --per-event: a handler that has to wait for the database per event).
So the figures are the relay's and the consumer's, not the cost of building the rows or the effect (the outbox's
own insert is measured by the services' tests and P1). Reports events/s for each stage and the end-to-end latency
(commit → handled) percentiles. With --backlog the consumer starts only once every event is on the topic, so
`consume_events_per_s` is the consumer's own capacity rather than the writer's pace.

As in a deployment, the producing side (writers and the relay, one service's process) and the consuming side (the
idempotent consumer, another service's process) are two processes: this one, and the same script with --consume
started by it. Times are CLOCK_MONOTONIC (time.monotonic), which is one clock for every process of the machine.

To compare with another checkout in the same run, run this script twice with that checkout's shared package first
on the path: `PYTHONPATH=OTHER/shared/src .venv/bin/python bench/backbone.py --backlog --out /tmp/other.json`."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import Column, DateTime, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xinren_shared.consumer import IdempotentConsumer
from xinren_shared.contracts.orders import OrderCancelled
from xinren_shared.db import make_engine, make_session_factory
from xinren_shared.events import Envelope
from xinren_shared.kafka import make_producer
from xinren_shared.outbox import OutboxRelay
from xinren_shared.settings import to_plain_url
from xinren_shared.tables import InfraTables, define_infra_tables
from xinren_shared.testing.infra import Infra, provide
from xinren_shared.testing.plugin import create_database

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "xinren_outbox_bench"  # the relay's wake-up channel
SOURCE = "/xinren/bench"

# The columns every version of the outbox table has; the writer's rows, one array per column.
WRITE = """
INSERT INTO outbox_event (event_id, topic, key, type, source, subject, data, occurred_at)
SELECT line.* FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
                         $8::timestamptz[]) AS line
"""
# The relay's wake, sent once the rows are committed from a connection whose commits do not wait for the disk, as
# the services' announcer sends it (xinren_shared.listen): the same for every tree measured.
WAKE = "SELECT pg_notify($1, '')"
EFFECT = "INSERT INTO effect (event_id) VALUES ($1)"
EFFECTS = "INSERT INTO effect (event_id) SELECT unnest($1::text[])"


async def driver(session: AsyncSession) -> Any:
    """The asyncpg connection of the session's transaction (SQLAlchemy's API, so it is there in every tree)."""
    return (await (await session.connection()).get_raw_connection()).driver_connection


def define_tables() -> tuple[MetaData, InfraTables, Table]:
    metadata = MetaData()
    tables = define_infra_tables(metadata)
    effect = Table(
        "effect",
        metadata,
        Column("event_id", String, primary_key=True),
        Column("handled_at", DateTime(timezone=True), server_default=func.now()),
    )
    return metadata, tables, effect


def batched() -> Any:
    """The shared package's wrapper of a handler given many events at once; None in a tree that has none."""
    from xinren_shared import consumer

    return getattr(consumer, "Batched", None)


async def consume(url: str, kafka: str, group: str, events: int, per_event: bool = False) -> dict[str, float]:
    """The consuming side, a process of its own: handles `events` events; returns when it handled each. The handler
    writes each event's effect row: with one statement for all the events a batch gives it where the shared package
    can give it many (`Batched`), else (or with `per_event`) with one statement per event."""
    _, tables, _ = define_tables()
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    producer = make_producer(kafka, "bench-consumer")  # the consumer's dead-letter producer
    await producer.start()
    handled_at: dict[str, float] = {}
    done = asyncio.Event()

    def handled(ids: list[str]) -> None:
        now = time.monotonic()
        handled_at.update((i, now) for i in ids)
        if len(handled_at) >= events:
            done.set()

    async def handler(session, event, ctx):
        await (await driver(session)).execute(EFFECT, ctx.envelope.id)
        handled([ctx.envelope.id])

    async def handle_many(session, items):
        ids = [ctx.envelope.id for _, ctx in items]
        await (await driver(session)).execute(EFFECTS, ids)
        handled(ids)

    wrapper = None if per_event else batched()

    consumer = IdempotentConsumer(
        service="bench",
        name="bench",
        handlers={OrderCancelled: handler if wrapper is None else wrapper(handle_many)},
        session_factory=sessions,
        inbox=tables.inbox,
        bootstrap_servers=kafka,
        group_id=group,
        producer=producer,
    )
    await consumer.start()
    task = asyncio.create_task(consumer.run())
    print(json.dumps({"ready": time.monotonic()}), flush=True)
    try:
        await asyncio.wait_for(done.wait(), 600)
        return handled_at
    finally:
        task.cancel()
        # aiokafka's getmany can swallow a cancellation and wait on: stopping the consumer ends it (as the services'
        # runtime does, with every stop step bounded).
        await asyncio.wait([task], timeout=5)
        await consumer.stop()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await engine.dispose()


class ConsumerProcess:
    """This script with --consume, on the same database and topics (the environment carries PYTHONPATH and the
    topic namespace, so it runs the same shared package as this process)."""

    def __init__(self, url: str, kafka: str, events: int, out: Path, per_event: bool = False):
        self.args = [sys.executable, str(Path(__file__).resolve()), "--consume", "--events", str(events)]
        self.args += ["--per-event"] if per_event else []
        self.args += ["--url", url, "--kafka", kafka, "--group", f"bench-{uuid.uuid4().hex}", "--times", str(out)]
        self.out = out
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> float:
        """Starts it and returns when its consumer has started."""
        self.proc = await asyncio.create_subprocess_exec(*self.args, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the consumer process ended before it started (exit {await self.proc.wait()})")
        return float(json.loads(line)["ready"])

    async def handled(self, timeout: float) -> dict[str, float]:
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        if code != 0:
            raise RuntimeError(f"the consumer process failed (exit {code})")
        handled: dict[str, float] = json.loads(await asyncio.to_thread(self.out.read_text))
        return handled

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()


def infrastructure() -> Infra:
    """Kafka and PostgreSQL, a PostgreSQL started here durable as make run's. Another checkout's shared package (the
    suite's --vs) may know no `durable`: the suite hands that run its servers in the environment anyway."""
    if "durable" in inspect.signature(provide).parameters:
        return provide(ROOT, durable=True)
    return provide(ROOT)


async def run(
    events: int, batch: int, keys: int, backlog: bool = False, writers: int = 1, per_event: bool = False
) -> dict:
    infra = infrastructure()
    os.environ.setdefault("XINREN_TOPIC_NAMESPACE", f"bench-{uuid.uuid4().hex[:8]}.")
    times = ROOT / "bench" / "results" / f".backbone-handled-{uuid.uuid4().hex[:8]}.json"
    times.parent.mkdir(parents=True, exist_ok=True)
    consumer: ConsumerProcess | None = None
    try:
        url = await create_database(infra.database_url, "bench")
        metadata, tables, effect = define_tables()
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        sessions = make_session_factory(engine)
        producer = make_producer(infra.kafka_bootstrap, "bench")
        await producer.start()
        committed_at: dict[str, float] = {}

        relay = OutboxRelay(
            service="bench",
            table=tables.outbox,
            session_factory=sessions,
            producer=producer,
            database_url=url,
            channel=CHANNEL,
            poll_seconds=0.5,
        )
        relay_task = asyncio.create_task(relay.run())
        consumer = ConsumerProcess(url, infra.kafka_bootstrap, events, times, per_event)
        if not backlog:
            await consumer.start()

        t0 = time.monotonic()

        async def writer(first_batch: int) -> None:
            # Writers take every `writers`-th batch: transactions commit side by side, as a service's requests do.
            wake = await asyncpg.connect(to_plain_url(url), server_settings={"synchronous_commit": "off"})
            for start in range(first_batch * batch, events, batch * writers):
                rows = [
                    Envelope.of(OrderCancelled(order_id=f"ord_bench_{i % keys}", reason="bench", by="bench"), SOURCE)
                    for i in range(start, min(start + batch, events))
                ]
                columns = [[getattr(e, name) for e in rows] for name in ("id", "topic", "key", "type", "source")]
                columns += [[e.subject for e in rows], [json.dumps(e.data) for e in rows], [e.time for e in rows]]
                async with sessions() as s, s.begin():
                    await (await driver(s)).execute(WRITE, *columns)
                ids = [e.id for e in rows]
                now = time.monotonic()
                committed_at.update({i: now for i in ids})
                await wake.execute(WAKE, CHANNEL)
            await wake.close()

        await asyncio.gather(*(writer(w) for w in range(writers)))
        t_written = time.monotonic()
        t_consumer = t_written
        if backlog:
            # Everything on the topic first, then the consumer alone against the backlog: its own capacity.
            unpublished = select(func.count()).select_from(tables.outbox).where(tables.outbox.c.published_at.is_(None))
            while True:
                async with sessions() as s:
                    if not (await s.execute(unpublished)).scalar():
                        break
                await asyncio.sleep(0.2)
            t_consumer = await consumer.start()
        handled_at = await consumer.handled(600)
        t_handled = max(handled_at.values())
        async with sessions() as s:
            effects = (await s.execute(select(func.count()).select_from(effect))).scalar()

        latencies = sorted(handled_at[i] - committed_at[i] for i in committed_at)
        relay_task.cancel()
        await asyncio.wait([relay_task], timeout=5)
        await asyncio.gather(relay_task, return_exceptions=True)
        await relay.close()
        await producer.stop()
        await engine.dispose()
        return {
            "events": events,
            "batch_per_transaction": batch,
            "writers": writers,
            "keys": keys,
            "effects": effects,
            "processes": "writers and relay in one, the consumer in another",
            "handler": "per event" if per_event or batched() is None else "batched",
            "write_events_per_s": round(events / (t_written - t0)),
            "end_to_end_events_per_s": round(events / (t_handled - t0)),
            "mode": "backlog" if backlog else "live",
            "consume_events_per_s": round(events / (t_handled - t_consumer)),
            "latency_ms": {
                "p50": round(1000 * statistics.median(latencies), 1),
                "p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1),
                "p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
                "max": round(1000 * latencies[-1], 1),
            },
            "infra": infra.source,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
    finally:
        if consumer is not None:
            consumer.kill()
        times.unlink(missing_ok=True)
        infra.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument("--writers", type=int, default=1, help="transactions writing events at once")
    parser.add_argument(
        "--backlog", action="store_true", help="start the consumer only once every event is on the topic"
    )
    parser.add_argument(
        "--per-event", action="store_true", help="a handler called once per event, even where it could be batched"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "backbone.json")
    # The consuming process, started by the producing one.
    parser.add_argument("--consume", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--kafka", help=argparse.SUPPRESS)
    parser.add_argument("--group", help=argparse.SUPPRESS)
    parser.add_argument("--times", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.consume:
        handled = asyncio.run(consume(args.url, args.kafka, args.group, args.events, args.per_event))
        args.times.write_text(json.dumps(handled))
        return
    result = asyncio.run(run(args.events, args.batch, args.keys, args.backlog, args.writers, args.per_event))
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
