"""The five services as separate processes (uvicorn, one worker each, as deploy/Procfile starts them), each of which a
scenario may kill -9 and start again on the same port and database."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.e2e.conftest import SECRET, SERVICES, Stack
from xinren_shared.testing.infra import free_port
from xinren_shared.testing.plugin import create_database

from .cluster import ROOT, Cluster

APPS = {
    "order": "xinren_order.app:create_app",
    "refund": "xinren_refund.app:create_app",
    "qc": "xinren_qc.app:create_app",
    "notify": "xinren_notify.app:create_app",
    "trust": "xinren_trust.app:create_app",
}

# Clocks: the workload's own steps decide every order's fate, so the timers that would decide it for them (unpaid
# cancellation, seller review, QC inbound deadline, auto-confirm) are long; those that only retry are short.
CLOCKS: dict[str, str] = {
    "XINREN_ORDER_UNPAID_TIMEOUT_SECONDS": "3600",
    "XINREN_QC_INBOUND_DEADLINE_SECONDS": "3600",
    "XINREN_QC_APPEAL_WINDOW_SECONDS": "0",  # a FAILED verdict is final at once: the workload never appeals
    "XINREN_REFUND_REVIEW_SLA_SECONDS": "3600",
    "XINREN_REFUND_MONEY_REQUEST_RESEND_SECONDS": "5",
    "XINREN_NOTIFY_WEBHOOK_FIRST_RETRY_SECONDS": "1",
    "XINREN_NOTIFY_WEBHOOK_BACKOFF_FACTOR": "2",
    "XINREN_NOTIFY_WEBHOOK_MAX_BACKOFF_SECONDS": "5",
    "XINREN_NOTIFY_WEBHOOK_PROBE_SECONDS": "2",
    "XINREN_NOTIFY_WEBHOOK_POLL_SECONDS": "0.2",
    "XINREN_NOTIFY_WEBHOOK_ALLOW_PRIVATE": "true",
}


class Services:
    """The processes of one scenario's stack; `stack` is the e2e Stack (tokens, clients, `until`) over them."""

    def __init__(self, cluster: Cluster, log_dir: Path, name: str):
        self.cluster = cluster
        self.log = log_dir / "services.log"
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")  # Kafka names take [a-zA-Z0-9._-] only
        self.namespace = f"faults-{slug}-{uuid.uuid4().hex[:6]}."
        self.groups = {svc: f"faults-{slug}-{svc}-{uuid.uuid4().hex[:6]}" for svc in SERVICES}
        self.ports = {svc: free_port() for svc in SERVICES}
        self.databases: dict[str, str] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.stack = Stack({svc: f"http://127.0.0.1:{p}" for svc, p in self.ports.items()}, self.log)

    async def start_all(self) -> None:
        for svc in SERVICES:
            self.databases[svc] = await create_database(self.cluster.database_url, f"faults_{svc}")
        self.stack.databases = self.databases
        for svc in SERVICES:
            self.spawn(svc)
        for svc in SERVICES:
            await self.ready(svc)

    def env(self, svc: str) -> dict[str, str]:
        prefix = SERVICES[svc]
        own = {
            "DATABASE_URL": self.databases[svc],
            "KAFKA_BOOTSTRAP_SERVERS": self.cluster.kafka_bootstrap,
            "JWT_SECRET": SECRET,
            "ENV": "test",
            "LOG_LEVEL": "WARNING",
            "TIMER_POLL_SECONDS": "0.5",
            "CONSUMER_GROUP": self.groups[svc],
        }
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINREN_") or k == "XINREN_STATE_DIR"}
        env.update({f"XINREN_{prefix}_{k}": v for k, v in own.items()})
        env.update(CLOCKS)
        env["XINREN_TOPIC_NAMESPACE"] = self.namespace
        return env

    def spawn(self, svc: str) -> None:
        with open(self.log, "ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} starting {svc}\n".encode())
            self.procs[svc] = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", APPS[svc], "--host", "127.0.0.1"]
                + ["--port", str(self.ports[svc]), "--no-access-log", "--loop", "uvloop", "--http", "httptools"],
                cwd=ROOT,
                env=self.env(svc),
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def ready(self, svc: str, timeout: float = 120) -> None:
        proc, url = self.procs[svc], self.stack.urls[svc]
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=3) as client:
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"{svc} exited with {proc.returncode}:\n{self.stack.tail()}")
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{svc} not ready within {timeout}s:\n{self.stack.tail()}")
                await asyncio.sleep(0.3)

    def kill(self, svc: str) -> None:
        """kill -9: no shutdown, no offsets committed, whatever was in flight is cut."""
        proc = self.procs[svc]
        with open(self.log, "ab") as out:
            out.write(f"--- {time.strftime('%H:%M:%S')} kill -9 {svc} (pid {proc.pid})\n".encode())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, svc: str) -> None:
        """An orderly stop (SIGTERM), as a deploy would do."""
        proc = self.procs[svc]
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)

    async def restart(self, svc: str) -> None:
        self.spawn(svc)
        await self.ready(svc)

    async def close(self) -> None:
        for client in self.stack.clients.values():
            await client.aclose()
        self.stack.clients.clear()
        for svc in self.procs:
            self.stop(svc)
