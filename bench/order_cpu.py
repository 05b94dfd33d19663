"""The order service's own CPU per `POST /v1/orders`, measured in-process: N sequential creations through the ASGI
app (httpx, lifespan on, relay, consumers and timers off) against N calls of its hello-world route (`/healthz`) in
the same run, both timed with time.process_time, so what the test client and the framework cost cancels out of the
difference. Also counts the statements the engine sends per creation (BEGIN and COMMIT included).

    DATABASE_URL=... KAFKA_BOOTSTRAP_SERVERS=... .venv/bin/python bench/order_cpu.py [--orders 300] [--concurrency 1]
        [--pool-size 10 --max-overflow 20]

With --concurrency N the creations run N at a time (the hello calls too), and the new database connections the pool
opened while measuring are counted: a pool smaller than the concurrency closes the overflow connections it gets back
and opens new ones, whose statements are prepared again. Writes bench/results/order-cpu.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from harness import ROOT, SECRET, order_body, shop_and_product, token
from sqlalchemy import event

from xinren_shared.testing.http import serve
from xinren_shared.testing.plugin import create_database
from xinren_shared.testing.roundtrips import RoundTrips


async def _cpu_per_call(
    n: int, call: Callable[[int], Awaitable[httpx.Response]], ok: int, concurrency: int = 1
) -> float:
    """CPU seconds of this process per call, over n calls made `concurrency` at a time."""

    async def worker(w: int) -> None:
        for i in range(w, n, concurrency):
            r = await call(i)
            if r.status_code != ok:
                raise RuntimeError(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:300]}")

    started = time.process_time()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return (time.process_time() - started) / n


async def measure(
    database_url: str, kafka: str, orders: int, rounds: int, concurrency: int, pool_size: int, max_overflow: int
) -> dict[str, Any]:
    from xinren_order.app import create_app
    from xinren_order.settings import OrderSettings

    settings = OrderSettings(
        database_url=await create_database(database_url, "bench_order_cpu"),
        kafka_bootstrap_servers=kafka,
        jwt_secret=SECRET,
        env="test",
        log_level="WARNING",
        run_relay=False,
        run_consumers=False,
        run_timers=False,
        rate_limits={},
        db_pool_size=pool_size,
        db_max_overflow=max_overflow,
    )
    opened = 0
    commits: list[float] = []

    def connected(*_: Any) -> None:
        nonlocal opened
        opened += 1

    app = create_app(settings)
    async with serve(app) as c:
        shop_id, sku_id, _ = await shop_and_product(c, stock=10_000_000)
        body = order_body(shop_id, sku_id)
        buyer = token("buyer", "cpu-bench-buyer")

        def create(_: int) -> Awaitable[httpx.Response]:
            return c.post("/v1/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})

        def hello(_: int) -> Awaitable[httpx.Response]:
            return c.get("/healthz")

        await _cpu_per_call(50, create, 201)  # warm-up: statement caches, prepared statements, the pool
        await _cpu_per_call(50, hello, 200)
        engine = app.state.runtime.engine.sync_engine
        with RoundTrips(engine) as one:
            await create(0)
        per_order: list[float] = []
        per_hello: list[float] = []
        event.listen(engine.pool, "connect", connected)
        try:
            for _ in range(rounds):  # interleaved, so a noisy neighbour touches both sides alike
                with RoundTrips(engine) as timed:
                    per_order.append(await _cpu_per_call(orders, create, 201, concurrency))
                per_hello.append(await _cpu_per_call(orders, hello, 200, concurrency))
                commits = _commits(timed, commits)
        finally:
            event.remove(engine.pool, "connect", connected)
    order_ms = statistics.median(per_order) * 1000
    hello_ms = statistics.median(per_hello) * 1000
    return {
        "orders_per_round": orders,
        "rounds": rounds,
        "concurrency": concurrency,
        "pool": {"size": pool_size, "max_overflow": max_overflow, "connections_opened": opened},
        "order_cpu_ms": round(order_ms, 3),
        "hello_cpu_ms": round(hello_ms, 3),
        "order_minus_hello_cpu_ms": round(order_ms - hello_ms, 3),
        "ratio_order_to_hello": round(order_ms / hello_ms, 2),
        "commit_taking_the_stock_ms": _percentiles(commits),
        # The round trips of one creation (BEGIN and COMMIT included, were there a transaction).
        "round_trips_per_order": len(one.trips),
        "statements": one.trips,
        "order_cpu_ms_rounds": [round(x * 1000, 3) for x in per_order],
        "hello_cpu_ms_rounds": [round(x * 1000, 3) for x in per_hello],
    }


def _commits(timed: RoundTrips, took: list[float]) -> list[float]:
    """How long each commit took: the order takes its stock there (the deferred trigger), so this is the longest a
    bucket of the hot product's stock stays locked by one order, with the wait for the lock and the WAL flush. The
    order's write commits on its own (no transaction: commands.OneStatement), so it is that statement, write
    included; a COMMIT if the order was written in a transaction."""
    commits = [elapsed for _, trip, _, elapsed in timed.completed if trip == "COMMIT"]
    writes = [elapsed for _, trip, _, elapsed in timed.completed if "INSERT INTO sales_order" in trip]
    took.extend(commits or writes)
    return took


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds) or [float("nan")]
    return {f"p{q}": round(ordered[min(len(ordered) - 1, len(ordered) * q // 100)] * 1000, 2) for q in (50, 99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="creations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1, help="creations at a time")
    parser.add_argument("--pool-size", type=int, default=30, help="the service's db_pool_size")
    parser.add_argument("--max-overflow", type=int, default=0, help="the service's db_max_overflow")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    result = asyncio.run(
        measure(database_url, kafka, args.orders, args.rounds, args.concurrency, args.pool_size, args.max_overflow)
    )
    out = ROOT / "bench" / "results" / "order-cpu.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    summary = {k: v for k, v in result.items() if k != "statements"}
    print(json.dumps(summary, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
