"""The fault suite's own Kafka broker and PostgreSQL server: local processes on free ports with a state directory of
their own (infra/kafka.sh and infra/postgres.sh), so that killing and restarting them never touches anyone else's.

PostgreSQL runs durable (fsync and synchronous_commit on, as in make run): an immediate stop must not lose a commit
that a service has acknowledged, and only a durable server promises that.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from xinren_shared.testing.infra import free_port

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@dataclass
class Cluster:
    state: Path
    kafka_port: int
    controller_port: int
    pg_port: int
    env: dict[str, str] = field(default_factory=dict)

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    @classmethod
    def start(cls) -> Cluster:
        state = Path(tempfile.mkdtemp(prefix="xinren-faults-"))
        state.chmod(0o755)  # the postgres user must reach its data directory below it
        cluster = cls(state, free_port(), free_port(), free_port())
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        cluster.env = {
            **env,
            "XINREN_STATE_DIR": str(state),
            "KAFKA_PORT": str(cluster.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(cluster.controller_port),
            "PG_PORT": str(cluster.pg_port),
            "XINREN_PG_DURABLE": "on",
            "PG_DATABASES": "xinren_faults",
        }
        try:
            cluster._script("up.sh", timeout=900)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _script(self, name: str, *args: str, timeout: float = 180) -> None:
        result = subprocess.run(
            ["bash", str(INFRA / name), *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            raise RuntimeError(f"infra/{name} {' '.join(args)} failed:\n{tail}")

    def stop(self) -> None:
        subprocess.run(["bash", str(INFRA / "down.sh")], env=self.env, capture_output=True, timeout=120)
        shutil.rmtree(self.state, ignore_errors=True)

    # --- the broker ---------------------------------------------------------------------------------------------
    def kafka_pid(self) -> int:
        return int((self.state / "kafka" / "kafka.pid").read_text().strip())

    def kill_kafka(self) -> None:
        """kill -9 of the broker (our own pid file), and wait until it is gone."""
        pid = self.kafka_pid()
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)

    def start_kafka(self) -> None:
        self._script("kafka.sh", "start")

    # --- the database server ------------------------------------------------------------------------------------
    def postmaster_pid(self) -> int:
        return int((self.state / "pg" / "data" / "postmaster.pid").read_text().splitlines()[0])

    def stop_postgres_immediately(self) -> None:
        """pg_ctl stop -m immediate: SIGQUIT to the postmaster, no checkpoint; recovery replays the WAL on start."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGQUIT)
        _wait_gone(pid)

    def start_postgres(self) -> None:
        self._script("postgres.sh", "start")


def _wait_gone(pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # a child of ours would stay a zombie until reaped; ours are not, but be safe
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"process {pid} did not end within {timeout}s")
