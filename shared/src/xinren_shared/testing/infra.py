"""Where the suite's Kafka and PostgreSQL come from: the environment, testcontainers, or local processes."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast


class InfrastructureUnavailable(RuntimeError):
    """Kafka or PostgreSQL could not be had; the message says why. The suite fails with it, never skips."""


@dataclass
class Infra:
    kafka_bootstrap: str
    database_url: str
    source: str
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self._stops:
            self._stops.pop()()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def from_environment() -> tuple[str | None, str | None]:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")


def kafka_version(repo_root: Path) -> str:
    """The broker version the project pins (infra/kafka/pom.xml), so containers and local processes agree."""
    pom = (repo_root / "infra" / "kafka" / "pom.xml").read_text()
    return pom.split("<kafka.version>", 1)[1].split("<", 1)[0]


def start_containers(
    repo_root: Path, kafka_needed: bool, pg_needed: bool
) -> tuple[str | None, str | None, list[Callable[[], None]]]:
    stops: list[Callable[[], None]] = []
    kafka = pg = None
    try:
        if pg_needed:
            from testcontainers.postgres import PostgresContainer

            # As many connections as the local cluster allows (infra/postgres.sh): the image's default is 100.
            pg_container = PostgresContainer("postgres:16", driver=None).with_command("postgres -c max_connections=300")
            pg_container = pg_container.start()
            stops.append(pg_container.stop)
            pg = pg_container.get_connection_url()
        if kafka_needed:
            from testcontainers.kafka import KafkaContainer

            kafka_container = KafkaContainer(f"apache/kafka:{kafka_version(repo_root)}").with_kraft().start()
            stops.append(kafka_container.stop)
            kafka = kafka_container.get_bootstrap_server()
    except Exception as exc:
        for stop in reversed(stops):
            stop()
        raise InfrastructureUnavailable(f"testcontainers could not start Kafka/PostgreSQL: {exc}") from exc
    return kafka, pg, stops


def start_local(
    repo_root: Path, kafka_needed: bool, pg_needed: bool, durable: bool = False
) -> tuple[str | None, str | None, list[Callable[[], None]]]:
    """Starts a private Kafka broker and PostgreSQL cluster as local processes on free ports (infra/up.sh)."""
    up, down = repo_root / "infra" / "up.sh", repo_root / "infra" / "down.sh"
    if not up.exists():
        raise InfrastructureUnavailable(f"{up} not found: cannot start local Kafka/PostgreSQL")
    state = Path(tempfile.mkdtemp(prefix="xinren-test-"))
    state.chmod(0o755)  # the postgres user must reach its data directory below it
    env = dict(os.environ, XINREN_STATE_DIR=str(state), KAFKA_PORT=str(free_port()), PG_PORT=str(free_port()))
    env["KAFKA_CONTROLLER_PORT"] = str(free_port())
    # The tests' throw-away cluster trades durability for speed (fsync off); make run and the benchmarks keep it on.
    env["XINREN_PG_DURABLE"] = "on" if durable else "off"
    if not pg_needed:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]

    def stop() -> None:
        subprocess.run(["bash", str(down)], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)

    result = subprocess.run(["bash", str(up)], env=env, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        stop()
        raise InfrastructureUnavailable(
            "infra/up.sh failed to start Kafka/PostgreSQL "
            f"(exit {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    values = dict(line.split("=", 1) for line in (state / "infra.env").read_text().splitlines() if "=" in line)
    return values.get("KAFKA_BOOTSTRAP_SERVERS"), values.get("DATABASE_URL"), [stop]


def provide(repo_root: Path, durable: bool = False) -> Infra:
    """Kafka and PostgreSQL: from the environment when both are set, else started for the caller and stopped by
    `Infra.stop`. A PostgreSQL started here is durable (fsync, synchronous commit) only with `durable` (the
    benchmarks, which measure what `make run` runs); the test suite's is not (containers' always are)."""
    kafka, pg = from_environment()
    stops: list[Callable[[], None]] = []
    sources = []
    if kafka and pg:
        return Infra(kafka, pg, "environment")
    if kafka or pg:
        sources.append("environment")
    if docker_answers():
        k, p, stops = start_containers(repo_root, kafka is None, pg is None)
        sources.append("testcontainers")
    else:
        k, p, stops = start_local(repo_root, kafka is None, pg is None, durable)
        sources.append("local processes")
    # Either may still be None here; the check below stops what was started and says so.
    infra = Infra(cast(str, kafka or k), cast(str, pg or p), " + ".join(sources), stops)
    if not infra.kafka_bootstrap or not infra.database_url:
        infra.stop()
        raise InfrastructureUnavailable("the infrastructure started but did not report its addresses")
    return infra
