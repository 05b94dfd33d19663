"""What the benchmark suite's parts share: the services as uvicorn processes (as `make run` starts them, workers
included), tokens, and two load shapes over HTTP (closed loop at a concurrency, open loop at an offered rate),
each measured the same way: every request counted by status, latency percentiles, a progress bar."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import aiohttp
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families
from tqdm import tqdm

from xinren_shared.auth import mint_token
from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-suite-secret-0123456789abcdef"
ADDRESS = {
    "name": "王小明",
    "phone": "13800138000",
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "line1": "体育西路 1 号",
}
# service -> (env prefix, package, source directory)
SERVICES = {
    "order": ("ORDER", "xinren_order", "order"),
    "refund": ("REFUND", "xinren_refund", "refund"),
    "qc": ("QC", "xinren_qc", "quality-check"),
    "notify": ("NOTIFY", "xinren_notify", "notify"),
}


async def consumers_caught_up(kafka: str, topics: Sequence[str], timeout: float = 120.0) -> float:
    """Waits until the services are quiet: every consumer group that reads one of `topics` (broker names) has
    committed each of its partitions' end, and the ends no longer move (what a handled event wrote in turn, another
    topic's event, is handled too). So a measurement starts on an idle system, never on the last one's backlog.
    Returns the seconds it took."""
    started = time.monotonic()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    ends = AIOKafkaConsumer(bootstrap_servers=kafka)
    await admin.start()
    await ends.start()
    try:
        described = await admin.describe_topics(list(topics))
        tps = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
        readers: dict[str, list[TopicPartition]] = {}  # each group with offsets on the topics: their consumers
        for group, _ in await admin.list_consumer_groups():
            read = {tp.topic for tp in await admin.list_consumer_group_offsets(group)} & set(topics)
            if read:
                readers[group] = [tp for tp in tps if tp.topic in read]
        if not readers:
            raise RuntimeError(f"no consumer group has read {', '.join(topics)}")
        end = await ends.end_offsets(tps)
        while True:
            behind: dict[str, int] = {}
            for group, read in readers.items():
                offsets = await admin.list_consumer_group_offsets(group)
                lag = sum(max(0, end[tp] - (offsets[tp].offset if tp in offsets else 0)) for tp in read)
                if lag:
                    behind[group] = lag
            if not behind:
                moved = await ends.end_offsets(tps)
                if moved == end:
                    return time.monotonic() - started
                end = moved  # handling wrote more events: wait for those too
                continue
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"consumers still behind after {timeout:.0f} s (events by group): {behind}")
            await asyncio.sleep(0.2)
    finally:
        await ends.stop()
        await admin.close()


# One request: returns the outcome to count ("201", "503", "ConnectError", ...).
Request = Callable[[int], Awaitable[str]]


async def gc_pauses(url: str) -> dict[str, dict[str, float]]:
    """The garbage collector's pauses of the service's workers (xinren_gc_pause_seconds), by generation: how many,
    their total, and the bucket the longest fell in (the smallest bound that holds them all)."""
    async with httpx.AsyncClient(timeout=5) as c:
        text = (await c.get(f"{url}/metrics")).text
    samples = [
        s
        for family in text_string_to_metric_families(text)
        if family.name == "xinren_gc_pause_seconds"
        for s in family.samples
    ]
    out: dict[str, dict[str, float]] = {}
    for generation in sorted({s.labels["generation"] for s in samples}):
        mine = [s for s in samples if s.labels["generation"] == generation]
        count = next(s.value for s in mine if s.name.endswith("_count"))
        out[generation] = {
            "count": count,
            "seconds": round(next(s.value for s in mine if s.name.endswith("_sum")), 3),
            "longest_at_most": min(
                (float(s.labels["le"]) for s in mine if s.name.endswith("_bucket") and s.value >= count), default=0.0
            ),
        }
    return out


def token(role: str, sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, sub, role, **claims)}"}


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def rid(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(q * len(sorted_values)) - 1))]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@dataclass
class Service:
    name: str
    url: str
    database_url: str
    workers: int
    proc: asyncio.subprocess.Process
    metrics_dir: Path

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


async def start_service(
    name: str,
    database_url: str,
    kafka: str,
    workers: int,
    log: Path,
    tree: Path = ROOT,
    namespace: str | None = None,
    **extra: str,
) -> Service:
    """One service as `make run` starts it (uvicorn, the factory, --workers), on its own database and consumer group
    (and topics of its own under `namespace`, when given)."""
    prefix, package, directory = SERVICES[name]
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{tree / 'shared' / 'src'}:{tree / 'services' / directory / 'src'}",
        f"XINREN_{prefix}_DATABASE_URL": database_url,
        f"XINREN_{prefix}_KAFKA_BOOTSTRAP_SERVERS": kafka,
        f"XINREN_{prefix}_JWT_SECRET": SECRET,
        f"XINREN_{prefix}_ENV": "test",
        f"XINREN_{prefix}_LOG_LEVEL": "WARNING",
        f"XINREN_{prefix}_CONSUMER_GROUP": f"bench-{name}-{uuid.uuid4().hex[:8]}",
        # Capacity is measured, not the per-token rate limits (a role's budget would answer 429 instead).
        f"XINREN_{prefix}_RATE_LIMITS": "{}",
        **{f"XINREN_{prefix}_{k}": v for k, v in extra.items()},
    }
    if namespace is not None:
        env["XINREN_TOPIC_NAMESPACE"] = namespace
    # As deploy/serve.sh: the workers' metrics in a directory of their own, summed by /metrics.
    metrics_dir = Path(tempfile.mkdtemp(prefix=f"xinren-bench-metrics-{name}-"))
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", f"{package}.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log"]
    cmd += ["--timeout-keep-alive", "75"]  # as deploy/serve.sh: longer than any client's idle keep-alive
    cmd += ["--loop", "uvloop", "--http", "httptools"]  # as deploy/serve.sh
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:  # noqa: ASYNC230 (opened once, before the process starts)
        proc = await asyncio.create_subprocess_exec(*cmd, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT)
    service = Service(name, f"http://127.0.0.1:{port}", database_url, workers, proc, metrics_dir)
    # A fresh connection per probe, so that with several workers more than one of them has answered.
    needed, answered = 3 * workers, 0
    async with httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0), timeout=5) as c:
        for _ in range(1200):
            if proc.returncode is not None:
                raise RuntimeError(f"the {name} service exited with {proc.returncode}; see {log}")
            try:
                answered = answered + 1 if (await c.get(f"{service.url}/readyz")).status_code == 200 else 0
            except httpx.TransportError:
                answered = 0
            if answered >= needed:
                return service
            await asyncio.sleep(0.1)
    await service.stop()
    raise RuntimeError(f"the {name} service did not become ready; see {log}")


@dataclass
class Figures:
    """One measurement: what was asked, what was answered, how fast."""

    label: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    ok: str = "201"
    disk: dict[str, float | None] | None = None  # what the disks wrote meanwhile (an open loop's, on Linux)
    machine: dict[str, float] | None = None  # how fast the machine was and how busy its cores (an open loop's)

    def summary(self, **extra: Any) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            **extra,
            "ops_per_s": round(self.statuses[self.ok] / self.seconds, 1) if self.seconds else 0.0,
            "answered_per_s": round(len(lat) / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": ms(statistics.median(lat)) if lat else None,
            "p99_ms": ms(percentile(lat, 0.99)) if lat else None,
            "max_ms": ms(lat[-1]) if lat else None,
            "requests": len(lat),
            "statuses": dict(self.statuses),
            **({"disk": self.disk} if self.disk is not None else {}),
            **({"machine": self.machine} if self.machine is not None else {}),
        }


class _Watch:
    """Samples something of the machine as a step starts, every half second while it runs, and as it ends (`_take`
    appends a sample, or nothing where the machine cannot tell)."""

    HALF_SECOND = 0.5

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def _take(self) -> bool:
        raise NotImplementedError

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(self.HALF_SECOND)
            self._take()

    async def __aenter__(self) -> Self:
        if self._take():
            self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._take()


class DiskWatch(_Watch):
    """What the machine's disks wrote while a step ran, half second by half second (Linux's /proc/diskstats; nothing
    elsewhere). A commit waits for its WAL's fsync, and an fsync waits behind whatever the disk is writing: a half
    second in which the kernel flushed a burst of dirty pages (tens of MB, from any process of the machine) is a stall
    of every commit then, which shows in the p99 of whatever was measured. `busiest_half_second_write_ms` adds up the
    time the writes of that half second spent at the disk: 1,000 means two of them waiting all along, on average."""

    def __init__(self) -> None:
        super().__init__()
        self.disks = self._whole_disks()
        self.samples: list[tuple[int, int]] = []

    @staticmethod
    def _whole_disks() -> set[str]:
        try:
            names = os.listdir("/sys/block")
        except OSError:
            return set()
        return {n for n in names if not n.startswith(("loop", "ram", "zram", "dm-", "md"))}

    def _written(self) -> tuple[int, int]:
        """Sectors written and milliseconds spent writing, summed over the whole disks, since boot."""
        sectors = write_ms = 0
        with open("/proc/diskstats") as stats:
            for line in stats:
                fields = line.split()
                if len(fields) > 10 and fields[2] in self.disks:
                    sectors, write_ms = sectors + int(fields[9]), write_ms + int(fields[10])
        return sectors, write_ms

    def _take(self) -> bool:
        if self.disks:
            self.samples.append(self._written())
        return bool(self.disks)

    def summary(self) -> dict[str, float] | None:
        if len(self.samples) < 2:
            return None
        steps = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(self.samples, self.samples[1:], strict=False)]
        megabytes = 512 / 1e6
        return {
            "written_mb": round(sum(s for s, _ in steps) * megabytes, 1),
            "largest_half_second_mb": round(max(s for s, _ in steps) * megabytes, 1),
            "busiest_half_second_write_ms": max(w for _, w in steps),
        }


class CpuWatch(_Watch):
    """How busy the machine's cores were while a step ran, half second by half second (Linux's /proc/stat; nothing
    elsewhere), the load generator included. A p99 measured with the cores busy all along is queueing for the CPU,
    whatever fraction of a peak was offered: a peak measured with 128 clients is served with larger batches (group
    commits, fuller relay batches, more requests per event-loop turn) than the same rate of fewer requests at once.
    `steal_cores` is the time the hypervisor gave the machine's cores to others (often 0 even when it did)."""

    def __init__(self) -> None:
        super().__init__()
        self.samples: list[tuple[float, int, int, int]] = []  # (time, busy, steal, total) in ticks

    @staticmethod
    def _ticks() -> tuple[int, int, int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = [int(x) for x in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        user, nice, system, idle, iowait, irq, softirq, steal = fields
        return user + nice + system + irq + softirq, steal, sum(fields)

    def _take(self) -> bool:
        ticks = self._ticks()
        if ticks is not None:
            self.samples.append((time.perf_counter(), *ticks))
        return ticks is not None

    def summary(self) -> dict[str, float] | None:
        if len(self.samples) < 2:
            return None
        cores = os.cpu_count() or 1

        def busy(a: tuple[float, int, int, int], b: tuple[float, int, int, int]) -> tuple[float, float]:
            total = max(b[3] - a[3], 1)
            return cores * (b[1] - a[1]) / total, cores * (b[2] - a[2]) / total

        first, last = self.samples[0], self.samples[-1]
        whole, steal = busy(first, last)
        halves = [busy(a, b)[0] for a, b in zip(self.samples, self.samples[1:], strict=False)]
        return {
            "cores": cores,
            "busy_cores": round(whole, 2),
            "busiest_half_second_cores": round(max(halves), 2),
            "steal_cores": round(steal, 2),
        }


def python_loop_ms(iterations: int = 1_000_000, tries: int = 3) -> float:
    """How fast this machine runs Python now: the best of `tries` timings of a fixed loop, in ms (lower is faster).
    A shared machine's cores are not always as fast: the same loop took 60 ms on some days here and 120 on others,
    and every figure of a run moves with it; a ratio within one run does not."""
    best = float("inf")
    for _ in range(tries):
        started = time.perf_counter()
        total = 0
        for i in range(iterations):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


@contextmanager
def measuring() -> Iterator[None]:
    """While a load is measured, this process's garbage collector stays off. Its full collection of the load's
    objects took 130-180 ms here, all the more as a measurement went on: the load stopped sending and reading for
    that long, and the p99 of an open loop showed this client's pause (and the burst it sent after it) as the
    server's latency. What the load leaves behind is collected once it is measured."""
    gc.collect()
    gc.freeze()  # what exists now (the services' tokens, the run's state) is never looked at again
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


async def _ticker(bar: tqdm, started: float, seconds: float, figures: Figures) -> None:
    while True:
        await asyncio.sleep(0.25)
        elapsed = time.perf_counter() - started
        bar.n = round(min(elapsed, seconds), 1)
        bar.set_postfix_str(f"{figures.statuses[figures.ok] / max(elapsed, 1e-9):.0f} ok/s", refresh=False)
        bar.refresh()


def _bar(label: str, seconds: float) -> tqdm:
    return tqdm(total=seconds, desc=f"{label:<28}", unit="s", bar_format="{desc} {bar} {n:.0f}/{total:.0f}s {postfix}")


async def closed_loop(label: str, concurrency: int, seconds: float, request: Request, ok: str = "201") -> Figures:
    """`concurrency` clients, each sending its next request as soon as the last is answered, for `seconds`."""
    figures = Figures(label, seconds, ok=ok)
    started = time.perf_counter()
    deadline = started + seconds

    async def client(w: int) -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            figures.statuses[await request(w)] += 1
            figures.latencies.append(time.perf_counter() - t0)

    with measuring(), _bar(label, seconds) as bar:
        ticker = asyncio.create_task(_ticker(bar, started, seconds, figures))
        try:
            await asyncio.gather(*(client(w) for w in range(concurrency)))
        finally:
            ticker.cancel()
    figures.seconds = time.perf_counter() - started
    return figures


async def open_loop(
    label: str, rate: float, seconds: float, request: Request, max_in_flight: int = 1000, ok: str = "201"
) -> tuple[Figures, list[tuple[int, float]]]:
    """Requests sent at `rate` per second whatever the answers do (latency counted from the planned send time, so a
    slow server is not excused by a client that waited for it). Returns the figures and (request number, planned
    send time) of every request sent. Beyond `max_in_flight` unanswered, a request is not sent but counted as
    "client_backlog": the server is not keeping up."""
    figures = Figures(label, seconds, ok=ok)
    planned: list[tuple[int, float]] = []
    tasks: set[asyncio.Task[None]] = set()
    # What earlier steps left in the page cache reaches the disk first (sync), so that the kernel does not flush it
    # in bursts during this step (it writes dirty pages once they are 30 s old) and stall its commits.
    inherited = dirty_mb()
    await asyncio.to_thread(os.sync)
    speed = python_loop_ms()
    started = time.perf_counter()
    total = int(rate * seconds)

    async def one(i: int, at: float) -> None:
        figures.statuses[await request(i)] += 1
        figures.latencies.append(time.perf_counter() - at)

    async with DiskWatch() as disk, CpuWatch() as cpu:
        with measuring(), _bar(label, seconds) as bar:
            ticker = asyncio.create_task(_ticker(bar, started, seconds, figures))
            try:
                for i in range(total):
                    at = started + i / rate
                    delay = at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    if len(tasks) >= max_in_flight:
                        figures.statuses["client_backlog"] += 1
                        continue
                    planned.append((i, at))
                    task = asyncio.create_task(one(i, at))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                await asyncio.gather(*tasks)
            finally:
                ticker.cancel()
    summary = disk.summary()
    figures.disk = {**summary, "synced_before_mb": inherited} if summary is not None else None
    figures.seconds = max(seconds, time.perf_counter() - started)
    after = python_loop_ms()  # once the step is over (the services may still be finishing its work)
    figures.machine = {"python_loop_ms_before": speed, "python_loop_ms_after": after, **(cpu.summary() or {})}
    return figures, planned


def dirty_mb() -> float | None:
    """The machine's page cache not yet on disk (Linux's /proc/meminfo: Dirty plus Writeback), in MB."""
    try:
        with open("/proc/meminfo") as info:
            kb = sum(int(line.split()[1]) for line in info if line.startswith(("Dirty:", "Writeback:")))
    except OSError:
        return None
    return round(kb / 1000, 1)


@dataclass
class Answer:
    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Http:
    """The load's HTTP client, one connection pool of `connections` to one service. aiohttp, because its cost per
    request stays flat with hundreds of connections open, where httpx's grows with them (at 128 connections httpx
    spent ~14 ms of this process's CPU per request on this machine, and the benchmark measured its own client)."""

    def __init__(self, url: str, connections: int):
        self.url = url
        self.connections = connections
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Http:
        connector = aiohttp.TCPConnector(limit=self.connections, keepalive_timeout=15)
        timeout = aiohttp.ClientTimeout(total=60)
        self.session = aiohttp.ClientSession(base_url=self.url, connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, json: Any = None
    ) -> Answer:
        assert self.session is not None
        async with self.session.request(method, path, headers=headers, json=json) as r:
            return Answer(r.status, r.headers, await r.read())

    def post(self, path: str, *, json: Any = None, headers: dict[str, str] | None = None) -> Awaitable[Answer]:
        return self.request("POST", path, headers=headers, json=json)

    def get(self, path: str, *, headers: dict[str, str] | None = None) -> Awaitable[Answer]:
        return self.request("GET", path, headers=headers)


def http_client(url: str, connections: int) -> Http:
    return Http(url, connections)


# A request that got no answer: refused, reset or dropped connections, timeouts.
TRANSPORT_ERRORS = (httpx.TransportError, aiohttp.ClientError, asyncio.TimeoutError)


async def outcome(call: Awaitable[Answer]) -> tuple[str, Answer | None]:
    try:
        r = await call
    except TRANSPORT_ERRORS as exc:
        return type(exc).__name__, None
    return str(r.status_code), r


class Refused(RuntimeError):
    def __init__(self, method: str, path: str, r: Answer | httpx.Response):
        super().__init__(f"{method} {path} → {r.status_code} {r.text[:300]}")
        self.status = str(r.status_code)


async def expect(c: Http | httpx.AsyncClient, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
    r = await c.request(method, path, headers=headers, **kw)
    if r.status_code not in (200, 201):
        raise Refused(method, path, r)
    return r.json()


async def shop_and_product(
    c: Http | httpx.AsyncClient, stock: int, category: str = "snacks", price_fen: int = 990
) -> tuple[str, str, dict[str, str]]:
    """A fresh shop and one product of it; returns (shop_id, sku_id, the seller's headers)."""
    shop_id = rid("shop")
    admin = token("admin", "ops")
    await expect(
        c,
        "POST",
        "/v1/shops",
        admin,
        json={"shop_id": shop_id, "name": "Bench", "trust_rights": [], "deposit_fen": 20_000_000},
    )
    seller = token("seller", rid("seller"), shop_id=shop_id)
    body = {"sku_id": rid("sku"), "title": "Bench", "category": category, "price_fen": price_fen, "stock": stock}
    product = await expect(c, "POST", f"/v1/shops/{shop_id}/products", seller, json=body)
    return shop_id, product["sku_id"], seller


def order_body(shop_id: str, sku_id: str) -> dict[str, Any]:
    # No host_id: orders without a host are what every part measures.
    return {"shop_id": shop_id, "items": [{"sku_id": sku_id, "quantity": 1}], "shipping_address": ADDRESS}
