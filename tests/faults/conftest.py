"""The fault suite's Kafka and PostgreSQL, its sizes (XINREN_FAULTS_*), and the table of figures it prints and writes.

Scenarios kill and restart the broker and the database server, so the suite runs its own pair (tests/faults/cluster.py)
on free ports for the whole session and never touches a shared one. When only the smoke case runs (make test), it
uses the suite's usual pair instead and nothing else is started.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xinren_shared.testing import plugin
from xinren_shared.testing.infra import Infra

from .cluster import ROOT, Cluster

RESULTS: list[dict[str, Any]] = []
COLUMNS = ("scenario", "orders", "faults", "lost", "duplicated", "stuck", "5xx", "503", "settle_s", "run_s", "passed")


def setting(name: str, default: float) -> float:
    """XINREN_FAULTS_<NAME> from the environment, else the default (small enough for a shared 2-core machine)."""
    return float(os.environ.get(f"XINREN_FAULTS_{name}", default))


def report_path() -> Path:
    return Path(os.environ.get("XINREN_FAULTS_REPORT", ROOT / ".run" / "faults" / "report.json"))


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = Cluster.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Infra:
    """With any scenario selected, every test of the suite (the smoke case too) runs on the suite's own pair."""
    if any(item.get_closest_marker("faults_smoke") is None for item in request.session.items):
        c: Cluster = request.getfixturevalue("cluster")
        return Infra(c.kafka_bootstrap, c.database_url, "the fault suite's own processes")
    return plugin._infra(request.config)  # the plugin's own choice, as in the other suites


def record(figures: dict[str, Any]) -> None:
    RESULTS.append(figures)
    path = report_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scenarios": RESULTS}, indent=2, ensure_ascii=False) + "\n")


def table() -> str:
    rows = [[str(r.get(c, "")) for c in COLUMNS] for r in RESULTS]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(COLUMNS)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    return "\n".join([line(COLUMNS), line(["-" * w for w in widths]), *(line(row) for row in rows)])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RESULTS:
        terminalreporter.section("fault scenarios")
        terminalreporter.write_line(table())
        terminalreporter.write_line(f"written to {report_path()}")
