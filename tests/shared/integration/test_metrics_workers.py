"""A service with several worker processes (as `make run` starts it) answers /metrics for all of them: whichever
worker serves the scrape, a counter is the sum of every worker's count. A real uvicorn with two workers of the
trust service, on the suite's Kafka and PostgreSQL."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest_asyncio
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from xinren_shared.testing.infra import free_port

from .support import wait_until

ROOT = Path(__file__).resolve().parents[3]


@pytest_asyncio.fixture
async def two_workers(make_database, kafka_bootstrap, tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "XINREN_TRUST_DATABASE_URL": await make_database("metrics"),
        "XINREN_TRUST_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "XINREN_TRUST_JWT_SECRET": "metrics-test-secret-0123456789abcdef",
        "XINREN_TRUST_ENV": "test",
        "XINREN_TRUST_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "xinren_trust.app:create_app", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--workers", "2", "--no-access-log"], cwd=ROOT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5, limits=httpx.Limits(max_keepalive_connections=0)) as c:

            async def ready() -> bool:
                assert proc.poll() is None, f"the service exited with {proc.returncode}"
                try:
                    return (await c.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=60)
            yield c, metrics_dir
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)


def healthz_served(metrics_dir: Path) -> dict[str, float]:
    """Per worker (its pid's counter file), how many /healthz requests it counted."""
    served: dict[str, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, *_ in MmapedDict.read_all_values_from_file(str(path)):
            if '"xinren_http_requests_total"' in key and '"/healthz"' in key:
                served[path.stem] = served.get(path.stem, 0.0) + value
    return served


def healthz_total(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "xinren_http_requests"
        for s in family.samples
        if s.name == "xinren_http_requests_total" and s.labels.get("route") == "/healthz"
    )


async def test_every_scrape_counts_the_requests_of_both_workers(two_workers):
    client, metrics_dir = two_workers
    sent = 0
    # A connection of its own per request: the kernel hands them to both workers. Until each has served some.
    while len([n for n in healthz_served(metrics_dir).values() if n > 0]) < 2:
        assert sent < 2000, f"one worker served all {sent} requests: {healthz_served(metrics_dir)}"
        for _ in range(20):
            assert (await client.get("/healthz")).status_code == 200
            sent += 1
    await wait_until(lambda: sum(healthz_served(metrics_dir).values()) == sent)  # counted once the answer is sent
    for _ in range(8):  # each scrape on a new connection, so both workers answer some of them
        scraped = (await client.get("/metrics")).text
        assert healthz_total(scraped) == sent
        assert "xinren_db_pool_max" in scraped  # the collectors computed at scrape time, of the answering worker
