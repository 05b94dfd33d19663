"""Stuck is visible and repairable: each service checks its own tables for work that cannot move on.

A check finds rows that should have moved on by now (an unpublished outbox row, an overdue timer, an order waiting
on an answer that never came). Findings are counted in `xinren_consistency_findings` (checked periodically), listed
by `GET /v1/admin/consistency` and the `xinren-check <service>` command. Where a fix is safe, the check's repair
asks the owner of the missing state to send it again through an event; it never writes another service's tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .ids import utcnow

if TYPE_CHECKING:
    from .runtime import ServiceRuntime

log = logging.getLogger("xinren.consistency")

FINDINGS = Gauge(
    "xinren_consistency_findings",
    "Rows a consistency check found stuck",
    ["service", "check"],
    multiprocess_mode="livemostrecent",
)
LAST_RUN = Gauge(
    "xinren_consistency_last_run_timestamp_seconds",
    "When the checks last ran",
    ["service"],
    multiprocess_mode="livemax",
)

# At most this many findings of one check are listed (the gauge counts them all).
LISTED_PER_CHECK = 100


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str  # what is stuck: an order id, an outbox row, a timer
    detail: str
    since: datetime | None = None
    repairable: bool = False


Finder = Callable[[AsyncSession, "ServiceRuntime[Any]", datetime], Awaitable[tuple[int, list[Finding]]]]
Repairer = Callable[[AsyncSession, "ServiceRuntime[Any]", Finding], Awaitable[str]]


@dataclass(frozen=True)
class Check:
    """`find(session, runtime, now)` returns (how many, the first LISTED_PER_CHECK); `repair`, when given, fixes one
    finding marked repairable inside the caller's transaction and says what it did."""

    name: str
    description: str
    find: Finder
    repair: Repairer | None = None


@dataclass
class Report:
    service: str
    checked_at: datetime
    counts: dict[str, int]
    findings: list[Finding]
    repaired: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "checked_at": self.checked_at.isoformat(),
            "ok": self.ok,
            "counts": self.counts,
            "findings": [{**asdict(f), "since": f.since.isoformat() if f.since else None} for f in self.findings],
            "repaired": self.repaired,
        }


async def _stale_outbox(
    session: AsyncSession, runtime: ServiceRuntime[Any], now: datetime
) -> tuple[int, list[Finding]]:
    t = runtime.tables.outbox
    bound = now - timedelta(seconds=runtime.settings.consistency_outbox_bound_seconds)
    stale = and_(t.c.published_at.is_(None), t.c.created_at < bound)
    count = (await session.execute(select(func.count()).select_from(t).where(stale))).scalar_one()
    rows = await session.execute(
        select(t.c.seq, t.c.type, t.c.key, t.c.created_at, t.c.attempts, t.c.last_error)
        .where(stale)
        .order_by(t.c.seq)
        .limit(LISTED_PER_CHECK)
    )
    return count, [
        Finding(
            "outbox_unpublished",
            f"outbox:{r.seq}",
            f"{r.type} for {r.key} not published after {r.attempts} attempts"
            + (f": {r.last_error}" if r.last_error else ""),
            r.created_at,
        )
        for r in rows
    ]


async def _overdue_timers(
    session: AsyncSession, runtime: ServiceRuntime[Any], now: datetime
) -> tuple[int, list[Finding]]:
    t = runtime.tables.timer
    bound = now - timedelta(seconds=runtime.settings.consistency_timer_bound_seconds)
    overdue = and_(t.c.fired_at.is_(None), t.c.cancelled_at.is_(None), t.c.due_at < bound)
    count = (await session.execute(select(func.count()).select_from(t).where(overdue))).scalar_one()
    rows = await session.execute(
        select(t.c.id, t.c.kind, t.c.key, t.c.due_at, t.c.attempts, t.c.last_error)
        .where(overdue)
        .order_by(t.c.due_at)
        .limit(LISTED_PER_CHECK)
    )
    return count, [
        Finding(
            "timer_overdue",
            f"timer:{r.kind}:{r.key}",
            f"due {r.due_at.isoformat()}, {r.attempts} attempts" + (f": {r.last_error}" if r.last_error else ""),
            r.due_at,
        )
        for r in rows
    ]


# Every service has an outbox and timers: these two run everywhere, before the service's own checks.
SHARED_CHECKS = [
    Check("outbox_unpublished", "events committed but not on Kafka after the bound", _stale_outbox),
    Check("timer_overdue", "timers past due by more than the bound and not fired", _overdue_timers),
]


class ConsistencyChecker:
    def __init__(self, runtime: ServiceRuntime[Any], checks: Sequence[Check]):
        self.runtime = runtime
        self.checks = [*SHARED_CHECKS, *checks]

    async def run(self, session: AsyncSession, *, repair: bool = False) -> Report:
        """Runs every check in `session` (and, with `repair`, fixes what is safe to fix in the same transaction)."""
        service = self.runtime.spec.name
        now = utcnow()
        report = Report(service, now, {}, [])
        for check in self.checks:
            count, findings = await check.find(session, self.runtime, now)
            report.counts[check.name] = count
            report.findings.extend(findings)
            if repair and check.repair is not None:
                for finding in findings:
                    if finding.repairable:
                        done = await check.repair(session, self.runtime, finding)
                        report.repaired.append({"check": check.name, "subject": finding.subject, "done": done})
        for name, count in report.counts.items():
            FINDINGS.labels(service, name).set(count)
        LAST_RUN.labels(service).set(now.timestamp())
        return report

    async def loop(self) -> None:
        """Checks (without repairing) every `consistency_interval_seconds`, so the gauge stays current."""
        interval = self.runtime.settings.consistency_interval_seconds
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.runtime.transaction() as session:
                    report = await self.run(session)
                if not report.ok:
                    log.warning("consistency: %s", {k: v for k, v in report.counts.items() if v})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("the consistency checks failed; trying again later", exc_info=True)


def main(argv: list[str] | None = None) -> None:
    """`xinren-check SERVICE [--repair] [--json]`: runs a service's checks against its database (the service's own
    settings from the environment, e.g. XINREN_ORDER_DATABASE_URL); exits 1 when something is stuck."""
    services = {ep.name: ep for ep in entry_points(group="xinren.services")}
    parser = argparse.ArgumentParser(description="Find (and safely repair) work a Xinren service cannot move on.")
    parser.add_argument("service", choices=sorted(services))
    parser.add_argument("--repair", action="store_true", help="re-request missing state from its owner by event")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    create_app = services[args.service].load()

    async def check() -> Report:
        app = create_app()  # not started: no consumer, relay or timers run, only the database is used
        runtime: ServiceRuntime[Any] = app.state.runtime
        try:
            async with runtime.transaction() as session:
                return await runtime.consistency.run(session, repair=args.repair)
        finally:
            await runtime.engine.dispose()
            await runtime.producer.stop()  # never started: only closes it

    try:
        report = asyncio.run(check())
    except Exception as exc:  # reported in one line: the database is unreachable, or not this service's
        print(
            f"xinren-check {args.service}: cannot check: {type(exc).__name__}: {str(exc).splitlines()[0]}",
            file=sys.stderr,
        )
        sys.exit(2)
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        for name, count in report.counts.items():
            print(f"{name:<32} {count}")
        for f in report.findings:
            print(f"  {f.check}: {f.subject} — {f.detail}" + (" (repairable)" if f.repairable else ""))
        for r in report.repaired:
            print(f"  repaired {r['subject']}: {r['done']}")
    sys.exit(0 if report.ok or (args.repair and len(report.repaired) == sum(report.counts.values())) else 1)
