"""Order intake over HTTP: `POST /v1/orders` with an Idempotency-Key against the order service as a real uvicorn
process, at several concurrencies, for one source tree or two side by side.

    .venv/bin/python bench/intake.py                       # this checkout
    .venv/bin/python bench/intake.py --vs /path/to/other   # another checkout of the project, run in turns with this one

With --vs the two trees are run alternately (A B A B …) on the same Kafka and PostgreSQL, each on a fresh database,
and the result gives each figure of this tree as a ratio to the other's: the machine's drift affects both alike.
Every request is counted: 201, or anything else by status (a 5xx or a dropped connection is reported, not hidden).
Results go to bench/results/intake.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from xinren_shared.auth import mint_token
from xinren_shared.testing.infra import free_port, provide
from xinren_shared.testing.plugin import create_database

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-intake-secret-0123456789abcdef"
ADDRESS = {
    "name": "王小明",
    "phone": "13800138000",
    "province": "广东省",
    "city": "广州市",
    "district": "天河区",
    "line1": "体育西路 1 号",
}


def _headers(role: str, sub: str, **claims: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, sub, role, **claims)}"}


async def _serve(tree: Path, database_url: str, kafka: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{tree / 'shared' / 'src'}:{tree / 'services' / 'order' / 'src'}",
        "XINREN_ORDER_DATABASE_URL": database_url,
        "XINREN_ORDER_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "XINREN_ORDER_JWT_SECRET": SECRET,
        "XINREN_ORDER_ENV": "test",
        "XINREN_ORDER_LOG_LEVEL": "WARNING",
        "XINREN_ORDER_CONSUMER_GROUP": f"bench-{uuid.uuid4().hex}",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "xinren_order.app:create_app", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, "--no-access-log", cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as c:
        for _ in range(600):
            if proc.returncode is not None:
                raise RuntimeError(f"the order service of {tree} exited with {proc.returncode}")
            try:
                if (await c.get(f"{url}/readyz")).status_code == 200:
                    return proc, url
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"the order service of {tree} did not become ready")


async def _round(url: str, concurrency: int, requests: int) -> dict[str, Any]:
    shop_id, sku = f"shop_{uuid.uuid4().hex[:10]}", f"sku_{uuid.uuid4().hex[:10]}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        shop = {"shop_id": shop_id, "name": "Bench", "trust_rights": [], "deposit_fen": 0}
        assert (await c.post("/v1/shops", json=shop, headers=_headers("admin", "ops"))).status_code == 201
        product = {"sku_id": sku, "title": "Tea", "category": "snacks", "price_fen": 990, "stock": requests * 2}
        seller = _headers("seller", "s", shop_id=shop_id)
        assert (await c.post(f"/v1/shops/{shop_id}/products", json=product, headers=seller)).status_code == 201
        body = {"shop_id": shop_id, "items": [{"sku_id": sku, "quantity": 1}], "shipping_address": ADDRESS}
        buyers = [_headers("buyer", f"b{i}") for i in range(concurrency)]
        statuses: Counter[str] = Counter()
        latencies: list[float] = []
        queue = iter(range(requests))

        async def worker(w: int) -> None:
            for _ in queue:
                started = time.perf_counter()
                try:
                    key = {"Idempotency-Key": uuid.uuid4().hex}
                    r = await c.post("/v1/orders", json=body, headers={**buyers[w], **key})
                    statuses[str(r.status_code)] += 1
                except httpx.TransportError as exc:
                    statuses[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - started)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {
        "concurrency": concurrency,
        "requests": requests,
        "orders_per_s": round(statuses["201"] / wall, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
        "statuses": dict(statuses),
    }


async def run(trees: dict[str, Path], concurrencies: list[int], requests: int, rounds: int) -> dict[str, Any]:
    infra = provide(ROOT, durable=True)
    os.environ.setdefault("XINREN_TOPIC_NAMESPACE", f"bench-{uuid.uuid4().hex[:8]}.")
    results: dict[str, dict[int, list[dict[str, Any]]]] = {name: {c: [] for c in concurrencies} for name in trees}
    try:
        for r in range(rounds):
            for name, tree in trees.items():  # alternately, so drift hits both alike
                database_url = await create_database(infra.database_url, f"bench_intake_{name}_{r}")
                proc, url = await _serve(tree, database_url, infra.kafka_bootstrap)
                try:
                    for concurrency in concurrencies:
                        figures = await _round(url, concurrency, requests)
                        results[name][concurrency].append(figures)
                        print(f"round {r + 1}/{rounds} {name:>5} c={concurrency:<4} {figures}", flush=True)
                finally:
                    proc.terminate()
                    await asyncio.wait_for(proc.wait(), 30)
    finally:
        infra.stop()
    summary: dict[str, Any] = {}
    for name in trees:
        summary[name] = {
            str(c): {
                "orders_per_s_median": statistics.median(f["orders_per_s"] for f in runs),
                "p99_ms_median": statistics.median(f["p99_ms"] for f in runs),
                "statuses": sum((Counter(f["statuses"]) for f in runs), Counter()),
            }
            for c, runs in results[name].items()
        }
    if "other" in trees:
        summary["ratio_this_to_other"] = {
            str(c): round(
                summary["this"][str(c)]["orders_per_s_median"] / summary["other"][str(c)]["orders_per_s_median"], 2
            )
            for c in concurrencies
        }
    return {
        "trees": {k: str(v) for k, v in trees.items()},
        "requests_per_round": requests,
        "rounds": rounds,
        "summary": summary,
        "runs": results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vs", type=Path, help="another checkout of the project to compare with")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--requests", type=int, default=600, help="orders per concurrency and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    trees = {"this": ROOT, **({"other": args.vs.resolve()} if args.vs else {})}
    result = asyncio.run(run(trees, args.concurrency, args.requests, args.rounds))
    out = ROOT / "bench" / "results" / "intake.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=dict) + "\n")
    print(json.dumps(result["summary"], indent=2, default=dict))


if __name__ == "__main__":
    main()
