"""The five services as real processes (scripts/run.sh, as `make run` starts them) on the suite's Kafka and
PostgreSQL, driven only over HTTP with a token per role."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from xinren_shared.auth import mint_token
from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-secret-" + "x" * 32
SERVICES = {"order": "ORDER", "refund": "REFUND", "qc": "QC", "notify": "NOTIFY", "trust": "TRUST"}

# Short clocks, so that the timers the scenarios rely on fire within the test's deadlines.
FAST_CLOCKS: dict[str, str] = {
    "XINREN_ORDER_UNPAID_TIMEOUT_SECONDS": "8",
    "XINREN_ORDER_FAST_SHIPPING_SECONDS": "4",
    "XINREN_QC_INBOUND_DEADLINE_SECONDS": "15",
    "XINREN_REFUND_REVIEW_SLA_SECONDS": "6",
    "XINREN_REFUND_MONEY_REQUEST_RESEND_SECONDS": "5",
    "XINREN_NOTIFY_WEBHOOK_FIRST_RETRY_SECONDS": "1",
    "XINREN_NOTIFY_WEBHOOK_POLL_SECONDS": "0.2",
    # How long an after-sales request waits for the refund service's view of a just-paid order.
    "XINREN_REFUND_ORDER_VIEW_WAIT_SECONDS": "0.5",
    "XINREN_REFUND_ESCALATION_WINDOW_SECONDS": "3",
    # A FAILED verdict becomes final (qc.failed) once the seller's appeal window has passed.
    "XINREN_QC_APPEAL_WINDOW_SECONDS": "3",
    # Settlement: the sellers' and hosts' shares are held this long after completion before payout.
    "XINREN_ORDER_SETTLEMENT_HOLD_SECONDS": "8",
    "XINREN_ORDER_SETTLEMENT_HOLD_SHORT_SECONDS": "8",
    "XINREN_ORDER_SETTLEMENT_RECHECK_SECONDS": "1",
    "XINREN_ORDER_PAYOUT_RETRY_SECONDS": "1",
    # One worker per service: the suite's timing and its /metrics reads assume one process per service.
    "XINREN_WORKERS": "1",
}


@dataclass
class Stack:
    urls: dict[str, str]
    log: Path
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)  # service -> its DATABASE_URL (for exposure checks)

    def token(self, role: str, sub: str | None = None, **claims: Any) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {mint_token(SECRET, sub or f'{role}-{uuid.uuid4().hex[:8]}', role, **claims)}"
        }

    def http(self, service: str) -> httpx.AsyncClient:
        if service not in self.clients:
            self.clients[service] = httpx.AsyncClient(base_url=self.urls[service], timeout=30)
        return self.clients[service]

    async def until(
        self, probe: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, what: str = "condition"
    ) -> Any:
        """Polls `probe` until it returns something truthy; fails with `what` and the last value at the deadline."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = await probe()
            if last:
                return last
            await asyncio.sleep(0.2)
        raise AssertionError(f"{what} not reached within {timeout}s; last: {last!r}")

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def platform(stack):
    from .platform import Platform

    return Platform(stack)


@pytest_asyncio.fixture(scope="session")
async def stack(make_database, kafka_bootstrap, postgres_url):
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=postgres_url, XINREN_JWT_SECRET=SECRET, XINREN_ENV="test"
    )
    urls, databases = {}, {}
    for name, prefix in SERVICES.items():
        port = free_port()
        env[f"XINREN_{prefix}_PORT"] = str(port)
        env[f"XINREN_{prefix}_DATABASE_URL"] = databases[name] = await make_database(f"e2e_{name}")
        env[f"XINREN_{prefix}_LOG_LEVEL"] = "WARNING"
        env[f"XINREN_{prefix}_TIMER_POLL_SECONDS"] = "0.5"
        urls[name] = f"http://127.0.0.1:{port}"
    env.update(FAST_CLOCKS)
    log = Path(tempfile.mkdtemp(prefix="xinren-e2e-")) / "services.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    s = Stack(urls, log, databases=databases)
    try:
        deadline = time.monotonic() + 120
        while not all(_ready(u) for u in urls.values()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the services did not become ready (exit {proc.poll()}):\n{s.tail()}")
            await asyncio.sleep(0.3)
        yield s
    finally:
        for client in s.clients.values():
            await client.aclose()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
