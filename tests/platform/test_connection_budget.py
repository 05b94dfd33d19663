"""`make run` fits its workers' connections in PostgreSQL: it sizes the pools by the worker count, gives the server it
starts room for all of them, refuses a server that cannot hold what the workers open as they start, and never serves
from a cluster of its state directory left running with other settings (the test suite's non-durable one)."""

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from xinren_shared.settings import to_plain_url
from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("ORDER", "REFUND", "QC", "NOTIFY", "TRUST")


def run_script(env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """scripts/run.sh to its end; should it start the services instead of refusing, they are stopped with it."""
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"scripts/run.sh did not end within {timeout} s:\n{out[-2000:]}{err[-2000:]}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_env(kafka_bootstrap: str, postgres_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINREN_")}
    env.update(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=postgres_url)
    env.update({f"XINREN_{s}_PORT": str(free_port()) for s in SERVICES})
    env.update(extra)
    return env


async def max_connections(url: str) -> int:
    conn = await asyncpg.connect(to_plain_url(url))
    try:
        return int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()


def test_workers_whose_pools_cannot_open_are_refused_before_any_starts(kafka_bootstrap, postgres_url):
    allowed = asyncio.run(max_connections(postgres_url))
    # 4 workers each: pools of 15 (60 per service), opened whole at start (asked for 30, capped at the pool), plus 3
    # connections of each worker's own and 20 for tools: 20 + 5 x 4 x (15 + 3) = 380.
    assert allowed < 380, f"the suite's server allows {allowed}: this test needs one that allows fewer than 380"
    opened = {f"XINREN_{s}_DB_POOL_OPEN_AT_START": "30" for s in SERVICES}
    done = run_script(run_env(kafka_bootstrap, postgres_url, XINREN_WORKERS="4", **opened))
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"PostgreSQL allows {allowed} connections and these workers open 380 as they start" in done.stderr
    assert "order :" not in done.stdout  # no service was started


def test_a_bad_worker_count_is_refused(kafka_bootstrap, postgres_url):
    done = run_script(run_env(kafka_bootstrap, postgres_url, XINREN_WORKERS="two"))
    assert done.returncode == 2
    assert "XINREN_ORDER_WORKERS / XINREN_WORKERS must be a positive whole number, not 'two'" in done.stderr


def test_a_cluster_left_running_with_other_settings_is_restarted_with_make_runs():
    state = tempfile.mkdtemp(prefix="xinren-pg-settings-")
    os.chmod(state, 0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XINREN_PG_DURABLE")}
    env.update(XINREN_STATE_DIR=state, PG_PORT=str(free_port()), PG_DATABASES="xinren_order")
    port = int(env["PG_PORT"])

    def postgres(command: str, **extra: str) -> str:
        done = subprocess.run(
            ["bash", "infra/postgres.sh", command],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout + done.stderr

    async def settings() -> dict[str, str]:
        conn = await asyncpg.connect(host="127.0.0.1", port=port, user="postgres", database="postgres")
        try:
            return {n: await conn.fetchval(f"SHOW {n}") for n in ("fsync", "synchronous_commit", "max_connections")}
        finally:
            await conn.close()

    try:
        postgres("start", XINREN_PG_DURABLE="off")  # as the test suite leaves it
        assert asyncio.run(settings()) == {"fsync": "off", "synchronous_commit": "off", "max_connections": "300"}
        said = postgres("start", XINREN_PG_MAX_CONNECTIONS="360")  # as make run starts it
        assert "running with fsync=off, synchronous_commit=off, max_connections=300: restarting" in said
        assert asyncio.run(settings()) == {"fsync": "on", "synchronous_commit": "on", "max_connections": "360"}
        said = postgres("start", XINREN_PG_MAX_CONNECTIONS="360")  # the same settings: kept running
        assert "already running" in said
    finally:
        postgres("stop")
        shutil.rmtree(state, ignore_errors=True)
