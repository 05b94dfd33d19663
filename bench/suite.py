"""Xinren's benchmark suite: one command, one run, every figure side by side (docs/BENCHMARKS.md reads them).

    .venv/bin/python bench/suite.py                        # the full run (`make bench`)
    .venv/bin/python bench/suite.py --quick                # each part for a few seconds, small sizes
    .venv/bin/python bench/suite.py --vs /path/to/old      # also the backbone of another checkout, for the ratio
    .venv/bin/python bench/suite.py --only p1 p4           # some parts only

P1  order intake (POST /v1/orders) at concurrency 1/8/32/128 with 1 and 2 workers, next to the raw asyncpg bound
    (the same statements, no HTTP); then an open loop at 70% of the peak for its p99.
P2  pay → qc.case_opened latency at offered pay rates stepped up to saturation, then at half the saturation rate.
P3  complete lifecycles per second (order, pay, ship, deliver, confirm) with the four services running.
P4  the flash sale: one SKU with a stock of 1,000, 10,000 attempts with 500 in flight, every answer accounted for.
BB  the backbone (outbox → relay → Kafka → idempotent consumer), and the other checkout's with --vs.

Results: bench/results/suite.json, bench/results/p1_intake.png, bench/results/p2_pay_to_case.png, and the
acceptance ratios printed at the end. Kafka and PostgreSQL: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set, else
started for the run (as the test suite does)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import asyncpg
import harness as h
import httpx
import plots
import rawbound
import uvloop
from aiokafka import AIOKafkaConsumer
from tqdm import tqdm

from xinren_shared.events import Envelope, physical
from xinren_shared.settings import to_plain_url
from xinren_shared.testing.infra import provide
from xinren_shared.testing.plugin import create_database, delete_topics, drop_databases

RESULTS = h.ROOT / "bench" / "results"
TOPICS = ("xinren.orders.v1", "xinren.qc.v1", "xinren.aftersales.v1")  # the services' events (catalog names)
LOGS = RESULTS / "logs"
# P2: a step keeps up only if every consumer of its events has handled them this soon after its last case opened
# (offsets are committed about once a second: an idle system shows 1-2 s).
EVERY_CONSUMER_WITHIN_S = 3.0


@dataclass
class Sizes:
    seconds: float  # one measurement (a concurrency, an offered rate)
    concurrencies: list[int]
    pay_rates: list[float]  # the offered pay rates stepped through, up to saturation
    lifecycle_concurrency: int
    flash_stock: int
    flash_attempts: int
    flash_in_flight: int
    backbone_events: int


FULL = Sizes(15, [1, 8, 32, 128], [10, 20, 40, 60, 80, 100, 120, 160, 240, 320], 32, 1_000, 10_000, 500, 20_000)
QUICK = Sizes(2, [1, 8, 32], [5, 10, 20], 4, 50, 300, 50, 1_000)


class Run:
    def __init__(self, sizes: Sizes, workers: int, kafka: str, database_url: str):
        self.sizes = sizes
        self.workers = workers
        self.kafka = kafka
        self.database_url = database_url
        self.tag = uuid.uuid4().hex[:6]

    async def database(self, name: str) -> str:
        return await create_database(self.database_url, f"bench_{name}_{self.tag}")

    @asynccontextmanager
    async def admin(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection to the server's admin database, closed after."""
        conn = await asyncpg.connect(to_plain_url(self.database_url))
        try:
            yield conn
        finally:
            await conn.close()

    async def drop(self, database_url: str) -> None:
        """A database a part has measured with and no longer needs: dropped, so that PostgreSQL's clean-up of its rows
        (autovacuum of tens of thousands of orders) does not run during the parts after it."""
        await drop_databases(self.database_url, [database_url])

    async def vacuum_done(self, within_s: float = 120.0) -> float:
        """Waits (at most `within_s`) until no autovacuum worker is running on the server; the seconds waited."""
        started = time.perf_counter()
        async with self.admin() as conn:
            while time.perf_counter() - started < within_s:
                running = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
                )
                if not running:
                    break
                await asyncio.sleep(0.5)
        return round(time.perf_counter() - started, 1)

    async def vacuum(self, database_urls: list[str]) -> float:
        """VACUUM (ANALYZE) of each database now: the clean-up autovacuum would otherwise start at any moment of the
        next step (it only looks every minute); the seconds it took."""
        started = time.perf_counter()
        for url in database_urls:
            conn = await asyncpg.connect(to_plain_url(url))
            try:
                await conn.execute("VACUUM (ANALYZE)")
            finally:
                await conn.close()
        return round(time.perf_counter() - started, 1)

    async def checkpoints(self) -> int:
        """How many checkpoints the server has begun (timed or requested) since its statistics were reset."""
        async with self.admin() as conn:
            started: int = await conn.fetchval("SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
        return started

    async def wal_segments(self) -> int:
        """How many WAL segment files the server has (pg_wal): one more means a segment created and written whole
        (16 MB of zeros, then synced) by a commit that needed it, which waited meanwhile; recycled ones are renamed."""
        async with self.admin() as conn:
            files: int = await conn.fetchval("SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'")
        return files

    async def checkpoint(self) -> float:
        """Writes every buffer the server holds dirty to disk now (CHECKPOINT); the seconds it took."""
        async with self.admin() as conn:
            started = time.perf_counter()
            await conn.execute("CHECKPOINT")
        return round(time.perf_counter() - started, 1)

    async def service(self, name: str, workers: int, namespace: str | None = None, **extra: str) -> h.Service:
        db = await self.database(f"{name}{workers}")
        log = LOGS / f"{name}-{workers}w.log"
        return await h.start_service(name, db, self.kafka, workers, log, namespace=namespace, **extra)


# --- P1 ---------------------------------------------------------------------------------------------------------
async def intake_round(url: str, label: str, concurrency: int, seconds: float, stock: int) -> dict[str, Any]:
    async with h.http_client(url, concurrency) as c:
        shop_id, sku_id, _ = await h.shop_and_product(c, stock)
        body = h.order_body(shop_id, sku_id)
        buyers = [h.token("buyer", f"b{i}") for i in range(concurrency)]

        async def create(w: int) -> str:
            status, _ = await h.outcome(c.post("/v1/orders", json=body, headers={**buyers[w % len(buyers)], **h.key()}))
            return status

        figures = await h.closed_loop(label, concurrency, seconds, create)
    return figures.summary(concurrency=concurrency)


async def raw_round(replay: rawbound.Replay, database_url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    # As many connections as clients, up to one worker's own pool (30, no overflow) at most.
    pool = await rawbound.pool(database_url, min(concurrency, 30))
    try:
        return await raw_loop(replay, pool, concurrency, seconds)
    finally:
        await pool.close()


async def raw_loop(replay: rawbound.Replay, pool: asyncpg.Pool, concurrency: int, seconds: float) -> dict[str, Any]:
    async def once(_: int) -> str:
        async with pool.acquire() as conn:
            try:
                await replay.run_once(conn)
            except asyncpg.PostgresError as exc:
                return type(exc).__name__
        return "201"

    figures = await h.closed_loop(f"P1 raw bound c={concurrency}", concurrency, seconds, once)
    return figures.summary(concurrency=concurrency, connections=pool.get_size())


async def p1(run: Run) -> dict[str, Any]:
    s = run.sizes
    stock = 10_000_000
    raw_db = await run.database("raw")
    replay = await rawbound.record(raw_db, run.kafka, stock)
    result: dict[str, Any] = {"statements_per_order": len(replay.statements), "raw_bound": [], "workers": {}}
    for c in s.concurrencies:
        result["raw_bound"].append(await raw_round(replay, raw_db, c, s.seconds))
    for n in sorted({1, 2, run.workers}):
        # Topics of its own: its tens of thousands of order.created are no backlog for the stack of P2 to P4.
        service = await run.service("order", n, namespace=f"{os.environ['XINREN_TOPIC_NAMESPACE']}p1-{n}w.")
        try:
            rounds = [await intake_round(service.url, f"P1 {n}w c={c}", c, s.seconds, stock) for c in s.concurrencies]
            result["workers"][str(n)] = rounds
            if n == run.workers:
                result["paired"] = await paired_rounds(replay, raw_db, service.url, PAIRED_CONCURRENCY, s.seconds)
                peak = max(r["ops_per_s"] for r in rounds)
                # As P2's half step: the open loop measures 70% of the peak as the system runs it, once the
                # overloaded rounds' autovacuum is done and their dirty buffers are on disk (both waits reported).
                waited, checkpointed = await run.vacuum_done(), await run.checkpoint()
                before, segments = await run.checkpoints(), await run.wal_segments()
                open_loop = await intake_open_loop(service.url, 0.7 * peak, s.seconds, stock)
                open_loop["checkpoints_during"] = await run.checkpoints() - before
                open_loop["wal_segments_created_during"] = await run.wal_segments() - segments
                open_loop["waited_for_autovacuum_s"], open_loop["checkpoint_before_s"] = waited, checkpointed
                result["open_loop_70pct"] = open_loop
            result.setdefault("gc_pauses", {})[str(n)] = await h.gc_pauses(service.url)
        finally:
            await service.stop()
            await run.drop(service.database_url)
    await run.drop(raw_db)
    return result


# The concurrency of the acceptance's ratio, measured again in turns with the bound (`paired_rounds`).
PAIRED_CONCURRENCY = 32


async def paired_rounds(
    replay: rawbound.Replay, raw_db: str, url: str, concurrency: int, seconds: float
) -> dict[str, Any]:
    """The service and the raw bound at one concurrency in turns, bound-service-service-bound twice, each for a
    quarter of `seconds`; the ratio of their totals. The sweep measures the bound a few minutes before the service,
    and this shared machine's speed moves by half within minutes (its Python loop took 22 ms and 39 ms in one run),
    which moved the sweep's ratio from 0.43 to 0.65 across runs. In turns, a change of speed falls on both sides alike,
    and one that grows steadily through the turns cancels out (ABBA)."""
    each = max(1.0, seconds / 4)
    rounds: list[dict[str, Any]] = []
    # One pool for the bound's turns, as the service keeps its own open between them (warm: its statements prepared).
    pool = await rawbound.pool(raw_db, min(concurrency, 30))
    try:
        await raw_loop(replay, pool, concurrency, 0.5)  # not counted: prepares the statements on each connection
        for side in ("raw", "service", "service", "raw") * 2:
            if side == "raw":
                figures = await raw_loop(replay, pool, concurrency, each)
            else:
                figures = await intake_round(url, f"P1 paired c={concurrency}", concurrency, each, 10_000_000)
            rounds.append({"side": side, **figures})
    finally:
        await pool.close()
    total = {side: sum(r["ops_per_s"] for r in rounds if r["side"] == side) for side in ("raw", "service")}
    ratio = total["service"] / total["raw"] if total["raw"] else 0.0
    return {"concurrency": concurrency, "seconds_each": each, "ratio": round(ratio, 3), "rounds": rounds}


async def intake_open_loop(url: str, rate: float, seconds: float, stock: int) -> dict[str, Any]:
    async with h.http_client(url, 1000) as c:
        shop_id, sku_id, _ = await h.shop_and_product(c, stock)
        body = h.order_body(shop_id, sku_id)
        buyers = [h.token("buyer", f"b{i}") for i in range(64)]

        async def create(i: int) -> str:
            status, _ = await h.outcome(c.post("/v1/orders", json=body, headers={**buyers[i % 64], **h.key()}))
            return status

        # Not counted: the same rate for a few seconds first. A new client opens a connection for every request
        # sent while all of its connections are busy: at 350/s the first half second's 175 requests waited for
        # theirs (p50 148 ms, the rest of the run 10-120 ms), more requests than the 1% the p99 looks at. A flash
        # sale meets the steady state: the viewers' connections end at the edge proxy, which keeps its own to the
        # service open.
        warmup = min(3.0, seconds / 5)
        await h.open_loop(f"P1 open loop {rate:.0f}/s (warm-up)", rate, warmup, create)
        figures, _ = await h.open_loop(f"P1 open loop {rate:.0f}/s", rate, seconds, create)
    return figures.summary(offered_per_s=round(rate, 1), warmup_s=warmup)


# --- P2, P3, P4: the four services ---------------------------------------------------------------------------
class CaseWatch:
    """Reads xinren.qc.v1 and xinren.orders.v1 from their ends: when each order's qc.case_opened arrives, and the
    milestones of its path in wall-clock time (`PATH`)."""

    def __init__(self, kafka: str):
        self.opened: dict[str, float] = {}
        self.milestones: dict[str, dict[str, float]] = {}
        self.consumer = AIOKafkaConsumer(
            physical("xinren.qc.v1"),
            physical("xinren.orders.v1"),
            bootstrap_servers=kafka,
            group_id=None,
            auto_offset_reset="latest",
            # As the services' own consumers read (ServiceSettings.consumer_fetch_max_wait_ms). aiokafka keeps one
            # fetch in flight to a broker and leaves out of it the partitions whose records are not yet read: their
            # next records wait for it to return, which the broker holds up to this long when nothing comes for the
            # others. With Kafka's 500 ms, this reader could add up to half a second to a case it was late to see; a
            # shorter wait would cost the broker's CPU, shared with the services measured, a fetch every few ms.
            fetch_max_wait_ms=100,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        await self.consumer.seek_to_end()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for record in self.consumer:
            seen = time.time()
            env = Envelope.from_kafka(record.topic, record.key, record.value, record.headers)
            order_id = env.data.get("order_id")
            if not isinstance(order_id, str):
                continue
            marks = self.milestones.setdefault(order_id, {})
            # A record's timestamp is its producer's (CreateTime): when the relay sent it.
            if env.type == "xinren.order.paid":
                marks.setdefault("order_paid_sent_to_kafka", record.timestamp / 1000)
            elif env.type == "xinren.qc.case_opened":
                self.opened.setdefault(order_id, time.perf_counter())
                marks.setdefault("case_opened_by_qc", env.time.timestamp())
                marks.setdefault("case_opened_sent_to_kafka", record.timestamp / 1000)
                marks.setdefault("case_opened_read", seen)

    async def wait(self, order_ids: list[str], timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = sum(1 for o in order_ids if o not in self.opened)
            if not missing:
                return 0
            await asyncio.sleep(0.1)
        return sum(1 for o in order_ids if o not in self.opened)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        await self.consumer.stop()


async def p2(run: Run, stack: dict[str, h.Service], only_rate: float | None = None) -> dict[str, Any]:
    """The steps up to saturation, then one at half of it. With `only_rate`, only that one step (prepared as the half
    step is): the same rate on another stack."""
    s = run.sizes
    order, qc = stack["order"].url, stack["qc"].url
    admin = h.token("admin", "ops")
    watch = CaseWatch(run.kafka)
    await watch.start()
    steps: list[dict[str, Any]] = []
    try:
        async with h.http_client(order, 1000) as c, httpx.AsyncClient(base_url=qc, timeout=30) as q:
            wh = {"warehouse_id": h.rid("wh"), "name": "质检中心", "address": "四会市 8 号", "categories": ["jade"]}
            await h.expect(q, "POST", "/v1/warehouses", admin, json=wh)
            stock = int(sum(s.pay_rates) * s.seconds * 2) + 100
            shop_id, sku_id, _ = await h.shop_and_product(c, stock, category="jade", price_fen=99_000)
            body = h.order_body(shop_id, sku_id)

            async def orders(n: int) -> list[tuple[dict[str, str], dict[str, Any]]]:
                made: list[tuple[dict[str, str], dict[str, Any]]] = []
                sem = asyncio.Semaphore(16)

                async def one() -> None:
                    buyer = h.token("buyer", h.rid("u"))
                    async with sem:
                        made.append((buyer, await h.expect(c, "POST", "/v1/orders", {**buyer, **h.key()}, json=body)))

                await asyncio.gather(*(one() for _ in range(n)))
                return made

            # Warm-up: one order all the way to its case, so the consumer groups have their partitions.
            ((buyer, first),) = await orders(1)
            pay = {"amount_fen": first["total_fen"], "method": "SANDBOX"}
            await h.expect(c, "POST", f"/v1/orders/{first['order_id']}/pay", {**buyer, **h.key()}, json=pay)
            if await watch.wait([first["order_id"]], 60):
                raise RuntimeError("no qc.case_opened for the warm-up order within 60 s")

            async def step(rate: float, label: str) -> dict[str, Any]:
                batch = await orders(int(rate * s.seconds))
                # The step's orders are created first, and the step starts once every consumer has handled every
                # event (these orders' order.created, and anything the previous step left behind, such as the cases
                # an overloaded step still opens): the latency is the pays' own at this rate, not a backlog's.
                await h.consumers_caught_up(run.kafka, [physical(t) for t in TOPICS])
                sent_at: dict[str, float] = {}
                # The same moments on the wall clock, for `path` to compare with Kafka's record timestamps (the
                # step's latency itself stays on the monotonic clock).
                sent_wall: dict[str, float] = {}
                answered_wall: dict[str, float] = {}

                async def pay_one(i: int) -> str:
                    buyer, o = batch[i]
                    sent_at[o["order_id"]] = time.perf_counter()
                    sent_wall[o["order_id"]] = time.time()
                    body = {"amount_fen": o["total_fen"], "method": "SANDBOX"}
                    status, _ = await h.outcome(
                        c.post(f"/v1/orders/{o['order_id']}/pay", json=body, headers={**buyer, **h.key()})
                    )
                    answered_wall[o["order_id"]] = time.time()
                    return status

                checkpoints_before, segments_before = await run.checkpoints(), await run.wal_segments()
                figures, planned = await h.open_loop(label, rate, s.seconds, pay_one, ok="200")
                checkpoints = await run.checkpoints() - checkpoints_before
                segments = await run.wal_segments() - segments_before
                paid = list(sent_at)
                # The path's throughput: the cases opened while the step offered its pays (past the rate the
                # consumers sustain, pays are still answered, and their cases open later and later).
                until = planned[0][1] + s.seconds if planned else 0.0
                opened_in_step = sum(1 for o in paid if watch.opened.get(o, until + 1) <= until)
                missing = await watch.wait(paid, 30)
                # How long after its last case every other consumer (the refund and notify views, the order's own
                # reactions) had handled the step's events too: seconds mean they fell behind the offered rate.
                settled = await h.consumers_caught_up(run.kafka, [physical(t) for t in TOPICS])
                lat = sorted(watch.opened[o] - sent_at[o] for o in paid if o in watch.opened)
                # Keeping up: the pays are answered at the offered rate, every case opens, and the last fifth of the
                # step waits no longer than the first fifth (a growing backlog would show there).
                fifth = max(1, len(lat) // 5)
                ordered = [watch.opened[o] - sent_at[o] for o in paid if o in watch.opened]
                early, late = sorted(ordered[:fifth]), sorted(ordered[-fifth:])
                growing = bool(early and late) and h.percentile(late, 0.5) > 2 * h.percentile(early, 0.5) + 0.05
                pays = figures.summary(offered_per_s=rate)
                keeps_up = figures.statuses["200"] == len(batch) and not missing and not growing
                keeps_up = keeps_up and settled <= EVERY_CONSUMER_WITHIN_S
                return {
                    "offered_per_s": rate,
                    "pay": pays,
                    "case_opened": {
                        "p50_ms": h.ms(h.percentile(lat, 0.5)) if lat else None,
                        "p99_ms": h.ms(h.percentile(lat, 0.99)) if lat else None,
                        "missing": missing,
                        "backlog_growing": growing,
                        "opened_per_s": round(opened_in_step / s.seconds, 1),
                    },
                    "every_consumer_caught_up_after_s": round(settled, 1),
                    # PostgreSQL's checkpoints begun while the step ran (each writes the buffers dirtied since the
                    # last one, and the pages written first after it go to the WAL whole).
                    "checkpoints_during": checkpoints,
                    "wal_segments_created_during": segments,
                    "keeps_up": keeps_up,
                    "path_ms": path(paid, sent_wall, answered_wall, watch.milestones),
                }

            saturation = None
            if only_rate is None:
                for rate in s.pay_rates:
                    steps.append(await step(rate, f"P2 pay {rate:.0f}/s"))
                    if not steps[-1]["keeps_up"]:
                        break
                # The saturation of pay → qc.case_opened: the most it carried in any step, pays answered and cases
                # opened alike (a step past it answers its pays faster than the cases open).
                saturation = max(min(x["pay"]["ops_per_s"], x["case_opened"]["opened_per_s"]) for x in steps)
                rate, which = round(saturation / 2, 1), "half"
            else:
                rate, which = only_rate, f"{stack['order'].workers}w each"
            # The half step measures that rate as the system runs it, not the clean-up of the overload before it:
            # it starts once the overloaded steps' rows are vacuumed (autovacuum's work under way is waited for, the
            # rest done at once: it would otherwise start during the step) and the buffers they dirtied are on disk (a
            # checkpoint; each wait is reported).
            waited = await run.vacuum_done()
            vacuumed = await run.vacuum([service.database_url for service in stack.values()])
            checkpointed = await run.checkpoint()
            half = await step(rate, f"P2 pay {rate:.0f}/s ({which})")
            half["waited_for_autovacuum_s"], half["vacuum_before_s"] = waited, vacuumed
            half["checkpoint_before_s"] = checkpointed
    finally:
        await watch.stop()
    if saturation is None:
        return half
    return {"steps": steps, "saturation_pay_per_s": saturation, "at_half_saturation": half}


async def p2_one_worker_each(run: Run, rate: float) -> dict[str, Any]:
    """P2's half step again, at the same rate, on the four services with one worker each (topics and databases of
    their own). On this machine the four services' `workers` processes each share two cores with PostgreSQL, Kafka
    and the load generator: the step shows what the second worker of each costs the path's latency at that rate."""
    namespace = os.environ["XINREN_TOPIC_NAMESPACE"]
    os.environ["XINREN_TOPIC_NAMESPACE"] = f"{namespace}p2-1w."  # the services started now, and this process's reads
    try:
        stack = {n: await run.service(n, 1) for n in ("order", "qc", "refund", "notify")}
        try:
            return await p2(run, stack, only_rate=rate)
        finally:
            for service in stack.values():
                await service.stop()
            await drop_databases(run.database_url, [service.database_url for service in stack.values()])
    finally:
        os.environ["XINREN_TOPIC_NAMESPACE"] = namespace


# The milestones of a pay's path to its case, in order, each timed from the pay's sending (wall clock, so the
# Kafka records' own timestamps compare): where a step's latency is spent.
PATH = (
    "pay_answered",
    "order_paid_sent_to_kafka",  # the order service's relay sent order.paid
    "case_opened_by_qc",  # the QC consumer handled it and made the case (its transaction not yet committed)
    "case_opened_sent_to_kafka",  # the QC service's relay sent qc.case_opened
    "case_opened_read",  # this suite read it: the step's latency
)


def path(
    paid: list[str], sent: dict[str, float], answered: dict[str, float], milestones: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """p50 and p99 of each milestone of `PATH` after the pay was sent, over the pays that reached every one."""
    rows = []
    for o in paid:
        marks = {"pay_answered": answered.get(o), **milestones.get(o, {})}
        if all(marks.get(m) is not None for m in PATH):
            rows.append([marks[m] - sent[o] for m in PATH])
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(PATH):
        column = sorted(r[i] for r in rows)
        if column:
            out[name] = {"p50": h.ms(h.percentile(column, 0.5)), "p99": h.ms(h.percentile(column, 0.99))}
    return out


async def p3(run: Run, stack: dict[str, h.Service]) -> dict[str, Any]:
    s = run.sizes
    admin = h.token("admin", "ops")
    async with h.http_client(stack["order"].url, s.lifecycle_concurrency) as c:
        shop_id, sku_id, seller = await h.shop_and_product(c, 10_000_000)
        body = h.order_body(shop_id, sku_id)
        buyers = [h.token("buyer", f"life{i}") for i in range(s.lifecycle_concurrency)]

        async def lifecycle(w: int) -> str:
            buyer = buyers[w]
            try:
                o = await h.expect(c, "POST", "/v1/orders", {**buyer, **h.key()}, json=body)
                oid = o["order_id"]
                pay = {"amount_fen": o["total_fen"], "method": "SANDBOX"}
                await h.expect(c, "POST", f"/v1/orders/{oid}/pay", {**buyer, **h.key()}, json=pay)
                tracking = h.rid("SF")
                ship = {"carrier": "SF", "tracking_no": tracking}
                await h.expect(c, "POST", f"/v1/orders/{oid}/shipments", {**seller, **h.key()}, json=ship)
                delivered = {"tracking_no": tracking, "delivered_at": datetime.now(UTC).isoformat()}
                await h.expect(c, "POST", f"/v1/orders/{oid}/delivery", {**admin, **h.key()}, json=delivered)
                await h.expect(c, "POST", f"/v1/orders/{oid}/confirm-receipt", {**buyer, **h.key()})
            except h.Refused as exc:
                return exc.status
            except h.TRANSPORT_ERRORS as exc:
                return type(exc).__name__
            return "completed"

        figures = await h.closed_loop(
            f"P3 lifecycles c={s.lifecycle_concurrency}", s.lifecycle_concurrency, s.seconds, lifecycle, ok="completed"
        )
    return figures.summary(concurrency=s.lifecycle_concurrency)


async def p4(run: Run, stack: dict[str, h.Service]) -> dict[str, Any]:
    s = run.sizes
    order = stack["order"]
    answers: list[dict[str, Any]] = []
    async with h.http_client(order.url, s.flash_in_flight) as c:
        shop_id, sku_id, _ = await h.shop_and_product(c, s.flash_stock)
        body = h.order_body(shop_id, sku_id)
        attempts = [({**h.token("buyer", f"fan{i}"), **h.key()}) for i in range(s.flash_attempts)]
        sem = asyncio.Semaphore(s.flash_in_flight)
        bar = tqdm(total=s.flash_attempts, desc=f"{'P4 flash sale':<28}", unit="req")

        async def attempt(headers: dict[str, str]) -> None:
            async with sem:
                status, r = await h.outcome(c.post("/v1/orders", json=body, headers=headers))
            answer: dict[str, Any] = {"status": status, "headers": headers}
            if r is not None:
                answer["retry_after"] = r.headers.get("retry-after")
                error = r.json().get("error") if r.status_code >= 400 and r.content else None
                answer["code"] = error.get("code") if isinstance(error, dict) else None
                answer["order_id"] = r.json().get("order_id") if r.status_code == 201 else None
            answers.append(answer)
            bar.update()

        with h.measuring():
            t0 = time.perf_counter()
            await asyncio.gather(*(attempt(a) for a in attempts))
            wall = time.perf_counter() - t0
        bar.close()
        # An attempt without a final answer (dropped, 5xx) is asked again with its key: the recorded answer must come.
        replayed: dict[str, int] = {}
        for a in answers:
            if a["status"] not in ("201", "409", "503", "429"):
                status, r = await h.outcome(c.post("/v1/orders", json=body, headers=a["headers"]))
                replayed[status] = replayed.get(status, 0) + 1
                if r is not None and r.status_code == 201:
                    a["replayed_order_id"] = r.json()["order_id"]
    conn = await asyncpg.connect(to_plain_url(order.database_url))
    try:
        rows = {r["order_id"] for r in await conn.fetch("SELECT order_id FROM sales_order WHERE shop_id = $1", shop_id)}
        stock_left = await conn.fetchval("SELECT sum(available) FROM product_stock WHERE sku_id = $1", sku_id)
    finally:
        await conn.close()
    statuses: dict[str, int] = {}
    for a in answers:
        statuses[a["status"]] = statuses.get(a["status"], 0) + 1
    created = [a["order_id"] for a in answers if a.get("order_id")]
    replays = [a["replayed_order_id"] for a in answers if a.get("replayed_order_id")]
    refusals = [a for a in answers if a["status"] == "409"]
    shed = [a for a in answers if a["status"] in ("503", "429")]
    checks = {
        "exactly_stock_orders": len(rows) == s.flash_stock,
        "every_attempt_answered": sum(statuses.get(k, 0) for k in ("201", "409", "503", "429")) == s.flash_attempts,
        "no_500": not any(k.startswith("5") and k not in ("503",) for k in statuses),
        "no_dropped_connections": not any(not k.isdigit() for k in statuses),
        "conflicts_are_out_of_stock": all(a.get("code") == "OUT_OF_STOCK" for a in refusals),
        "shed_with_retry_after": all(a.get("retry_after") for a in shed),
        "each_201_one_row": len(created) == len(set(created)) and set(created) <= rows,
        "each_row_one_201_or_replay": rows <= set(created) | set(replays),
        "stock_left_zero": stock_left == 0,
    }
    return {
        "stock": s.flash_stock,
        "attempts": s.flash_attempts,
        "in_flight": s.flash_in_flight,
        "seconds": round(wall, 2),
        "statuses": statuses,
        "order_rows": len(rows),
        "replayed_after": replayed,
        "checks": checks,
        "ok": all(checks.values()),
    }


# --- the backbone -----------------------------------------------------------------------------------------------
def backbone(tree: Path, events: int, env: dict[str, str], label: str, per_event: bool = False) -> dict[str, Any]:
    """The backbone of `tree` (its shared package) as a process on this run's Kafka and PostgreSQL, driven by this
    checkout's bench/backbone.py, so both trees are measured alike (same writers, same handler); the tree's own
    script only if this one cannot drive that package."""
    result = _backbone(h.ROOT / "bench" / "backbone.py", tree, events, env, label, per_event)
    own = tree / "bench" / "backbone.py"
    if "error" in result and own.exists() and own.resolve() != (h.ROOT / "bench" / "backbone.py").resolve():
        result = {**_backbone(own, tree, events, env, label), "driven_by": "its own script", "error_here": result}
    return result


def _backbone(
    script: Path, tree: Path, events: int, env: dict[str, str], label: str, per_event: bool = False
) -> dict[str, Any]:
    out = RESULTS / f"backbone-{label}.json"
    args = [sys.executable, str(script), "--events", str(events)]
    help_text = subprocess.run([*args[:2], "--help"], capture_output=True, text=True, env=env).stdout
    if "--out" in help_text:
        args += ["--out", str(out)]
    else:
        out = tree / "bench" / "results" / "backbone.json"
    if "--writers" in help_text:  # transactions writing at once, as a service's requests do (older scripts: one)
        args += ["--writers", "4"]
    if per_event:
        args += ["--per-event"]
    with tqdm(total=1, desc=f"{'BB backbone ' + label:<28}", bar_format="{desc} {elapsed}") as bar:
        # Topics of its own: a consumer of the other run would read this run's events too (a new group starts at
        # the earliest offset) and count them as its own.
        namespace = f"bench-bb-{uuid.uuid4().hex[:8]}."
        own = {"PYTHONPATH": str(tree / "shared" / "src"), "XINREN_TOPIC_NAMESPACE": namespace}
        done = subprocess.run(args, env={**env, **own}, capture_output=True, text=True)
        bar.update()
    if done.returncode != 0:
        return {"error": done.stderr[-2000:]}
    data: dict[str, Any] = json.loads(out.read_text())
    return data


# --- the run ----------------------------------------------------------------------------------------------------
async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    parts = set(args.only or ["p1", "p2", "p3", "p4", "bb"])
    # The run's topics go at its end on a broker of one's own (KAFKA_BOOTSTRAP_SERVERS); one started for it goes whole.
    delete_topics_at_end = (
        bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) and "XINREN_TOPIC_NAMESPACE" not in os.environ
    )
    os.environ.setdefault("XINREN_TOPIC_NAMESPACE", f"bench-{uuid.uuid4().hex[:8]}.")
    infra = provide(h.ROOT, durable=True)
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "workers": args.workers,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load": os.getloadavg(),
            "python_loop_ms_at_start": h.python_loop_ms(),
        },
        "infra": infra.source,
        "sizes": sizes.__dict__,
    }
    # What the figures were measured against: a server started here is durable as make run's is.
    conn = await asyncpg.connect(to_plain_url(infra.database_url))
    try:
        result["postgres"] = {k: await conn.fetchval(f"SHOW {k}") for k in ("fsync", "synchronous_commit")}
    finally:
        await conn.close()
    run = Run(sizes, args.workers, infra.kafka_bootstrap, infra.database_url)
    task = asyncio.current_task()
    if task is not None:  # SIGTERM stops the services and the infrastructure on the way out, as Ctrl-C does
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if "p1" in parts:
            result["p1"] = await p1(run)
            save(result)
        if parts & {"p2", "p3", "p4"}:
            names = ("order", "qc", "refund", "notify")
            stack = {n: await run.service(n, args.workers) for n in names}
            try:
                if "p2" in parts:
                    result["p2"] = await p2(run, stack)
                    save(result)
                if "p3" in parts:
                    result["p3"] = await p3(run, stack)
                    save(result)
                if "p4" in parts:
                    result["p4"] = await p4(run, stack)
                    save(result)
            finally:
                for service in stack.values():
                    await service.stop()
                await drop_databases(run.database_url, [service.database_url for service in stack.values()])
        if "p2" in parts and args.workers != 1:
            half = result["p2"]["at_half_saturation"]["offered_per_s"]
            result["p2"]["at_half_saturation_one_worker_each"] = await p2_one_worker_each(run, half)
            save(result)
        if "bb" in parts:
            env = {
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
                "DATABASE_URL": infra.database_url,
            }
            trees = {"this": h.ROOT, **({"other": args.vs.resolve()} if args.vs else {})}
            events = sizes.backbone_events
            result["backbone"] = {name: backbone(tree, events, env, name) for name, tree in trees.items()}
            # This tree's consumer with a handler that waits for the database per event, as most services' do.
            result["backbone"]["this_per_event"] = backbone(h.ROOT, events, env, "this-per-event", per_event=True)
        if delete_topics_at_end:  # tens of them: P1's services', the stacks', the backbone's
            await delete_topics(infra.kafka_bootstrap, os.environ["XINREN_TOPIC_NAMESPACE"])
    finally:
        infra.stop()
    result["machine"]["python_loop_ms_at_end"] = h.python_loop_ms()
    return result


def save(result: dict[str, Any]) -> None:
    """Written after every part, so an interrupted run keeps what it measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "suite.json").write_text(json.dumps(result, indent=2, default=str) + "\n")


def _conditions(step: dict[str, Any]) -> dict[str, Any]:
    """What the disks wrote while an open loop ran (harness.DiskWatch: its largest and busiest half second) and how
    fast and busy the machine was (harness.CpuWatch), to put next to the p99 they may explain."""
    return {k: step[k] for k in ("disk", "machine") if step.get(k)}


def acceptance(result: dict[str, Any], workers: int) -> dict[str, Any]:
    """The issue's acceptance figures as ratios, with whether each holds."""
    out: dict[str, Any] = {}
    if "p1" in result:
        p = result["p1"]
        service = {r["concurrency"]: r for r in p["workers"][str(workers)]}
        raw = {r["concurrency"]: r for r in p["raw_bound"]}
        paired = p["paired"]
        c = paired["concurrency"]
        # The sweep's ratio at the same concurrency, for comparison (its two sides measured minutes apart).
        swept = service[c]["ops_per_s"] / raw[c]["ops_per_s"] if c in service and raw[c]["ops_per_s"] else None
        out[f"p1_intake_vs_raw_at_c{c}"] = {
            "ratio": round(paired["ratio"], 2),
            "holds": paired["ratio"] >= 0.5,
            "sweep_ratio": round(swept, 2) if swept is not None else None,
        }
        p99 = p["open_loop_70pct"]["p99_ms"]
        out["p1_p99_ms_at_70pct_of_peak"] = {
            "value": p99,
            "holds": p99 is not None and p99 <= 100,
            **_conditions(p["open_loop_70pct"]),
        }
        two, one = p["workers"].get("2"), p["workers"].get("1")
        if one and two:
            out["p1_two_workers_vs_one"] = {
                str(a["concurrency"]): round(b["ops_per_s"] / a["ops_per_s"], 2) if a["ops_per_s"] else None
                for a, b in zip(one, two, strict=True)
            }
    if "p2" in result:
        half = result["p2"]["at_half_saturation"]
        p99 = half["case_opened"]["p99_ms"]
        out["p2_p99_ms_at_half_saturation"] = {
            "value": p99,
            "keeps_up": half["keeps_up"],
            "holds": p99 is not None and p99 <= 250 and half["keeps_up"],
            "path_ms": half.get("path_ms", {}),
            **_conditions(half["pay"]),
        }
        one = result["p2"].get("at_half_saturation_one_worker_each")
        if one is not None:  # for comparison: not an acceptance figure
            out["p2_p99_ms_at_the_same_rate_one_worker_each"] = {
                "value": one["case_opened"]["p99_ms"],
                "p50_ms": one["case_opened"]["p50_ms"],
                "keeps_up": one["keeps_up"],
                **_conditions(one["pay"]),
            }
    if "p3" in result:
        out["p3_lifecycles_per_s"] = {"value": result["p3"]["ops_per_s"]}
    if "p4" in result:
        failed = [k for k, v in result["p4"]["checks"].items() if not v]
        out["p4_flash_sale"] = {"holds": result["p4"]["ok"], "failed": failed}
    bb = result.get("backbone", {})
    other = bb.get("other", {})
    for name, key in (("this", "backbone_end_to_end_vs_other"), ("this_per_event", "backbone_per_event_vs_other")):
        if name in bb and other and "error" not in bb[name] and "error" not in other:
            ratio = bb[name]["end_to_end_events_per_s"] / other["end_to_end_events_per_s"]
            out[key] = {"handler": bb[name].get("handler"), "ratio": round(ratio, 2), "holds": ratio >= 10}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each part for a few seconds at small sizes")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes per service")
    parser.add_argument("--vs", type=Path, help="another checkout (the commit before): its backbone for the ratio")
    parser.add_argument("--only", nargs="+", choices=["p1", "p2", "p3", "p4", "bb"])
    args = parser.parse_args()
    # The load and the raw bound on the event loop the services run on (deploy/serve.sh), so that neither side of a
    # ratio gets the faster loop alone.
    result = uvloop.run(main_async(args))
    result["acceptance"] = acceptance(result, args.workers)
    save(result)
    written = plots.draw(result, RESULTS)
    print(json.dumps(result["acceptance"], indent=2))
    print("written:", RESULTS / "suite.json", *written)


if __name__ == "__main__":
    main()
