"""`make run` brings Kafka, PostgreSQL and all five services to ready, and Ctrl-C leaves nothing running."""

import asyncio
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import asyncpg

from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ORDER", "REFUND", "QC", "NOTIFY", "TRUST")


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{proc.name}: {cmdline[:200]}")
    return found


async def pg_settings(port: int, *names: str) -> dict[str, str]:
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
    try:
        return {name: await conn.fetchval(f"SHOW {name}") for name in names}
    finally:
        await conn.close()


def pool_max(port: int) -> int:
    """The connections one worker's pool may open (`xinren_db_pool_max` of the worker that answers)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        lines = r.read().decode().splitlines()
    (value,) = [float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("xinren_db_pool_max{")]
    return int(value)


def test_make_run_starts_everything_and_ctrl_c_stops_everything():
    state = tempfile.mkdtemp(prefix="xinren-make-run-")
    os.chmod(state, 0o755)
    ports = {f"XINREN_{s}_PORT": free_port() for s in SERVICES}
    # As a user runs it: none of the suite's own settings (its servers, its non-durable cluster) carry over.
    suite_only = ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "XINREN_PG_DURABLE")
    env = {k: v for k, v in os.environ.items() if k not in suite_only}
    env.update({k: str(v) for k, v in ports.items()})
    env.update(
        XINREN_STATE_DIR=state,
        KAFKA_PORT=str(free_port()),
        KAFKA_CONTROLLER_PORT=str(free_port()),
        PG_PORT=str(free_port()),
    )
    log = open(Path(state) / "make-run.log", "wb")
    proc = subprocess.Popen(
        ["make", "-s", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        while not all(ready(p) for p in ports.values()):
            assert proc.poll() is None, (
                f"make run exited with {proc.returncode}:\n{(Path(state) / 'make-run.log').read_text()[-4000:]}"
            )
            assert time.monotonic() < deadline, (
                f"not ready in time:\n{(Path(state) / 'make-run.log').read_text()[-4000:]}"
            )
            time.sleep(0.5)
        # What make run gives users is durable: an acknowledged commit survives a crash.
        settings = asyncio.run(pg_settings(int(env["PG_PORT"]), "fsync", "synchronous_commit", "full_page_writes"))
        assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
        # Every worker's pool can open whole: the server allows them all, with each worker's own 3 connections (its
        # LISTENs and announcer) and 20 for tools besides.
        workers = int(env.get("XINREN_WORKERS") or len(os.sched_getaffinity(0)))  # make run's default: nproc
        pools = {s: pool_max(ports[f"XINREN_{s}_PORT"]) for s in SERVICES}
        allowed = int(asyncio.run(pg_settings(int(env["PG_PORT"]), "max_connections"))["max_connections"])
        assert allowed >= 20 + sum(workers * (pool + 3) for pool in pools.values()), (allowed, workers, pools)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    output = (Path(state) / "make-run.log").read_text()
    assert not any(listening(p) for p in ports.values()), output[-3000:]
    assert processes_mentioning(state) == [], output[-3000:]
    assert "order" in output and "notify" in output
