"""The consistency checks through a real app on the shared web layer and a real database: an old unpublished outbox
row and an overdue timer are found, counted in the gauge, listed for admins only; a service's own check repairs
what it marks repairable, in the request's transaction, and the next report is clean."""

from datetime import timedelta

import pytest_asyncio
from fastapi import APIRouter
from prometheus_client import REGISTRY
from sqlalchemy import insert, select

from xinren_shared.consistency import Check, Finding
from xinren_shared.ids import utcnow
from xinren_shared.testing.http import bearer, serve

from .conftest import web_app

SECRET = "consistency-test-secret-0123456789abcdef"


@pytest_asyncio.fixture
async def client(world, kafka_bootstrap):
    effect = world.effect  # the service's own check: an `effect` row with n = 0 was asked for and never answered

    async def find_unanswered(session, runtime, now):
        rows = (await session.execute(select(effect.c.key).where(effect.c.n == 0))).scalars().all()
        return len(rows), [Finding("unanswered", key, "asked, never answered", now, repairable=True) for key in rows]

    async def ask_again(session, runtime, finding):
        await session.execute(effect.update().where(effect.c.key == finding.subject).values(n=1))
        return "asked its owner again"

    check = Check("unanswered", "a request nobody answered", find_unanswered, ask_again)
    app = web_app(
        world, kafka_bootstrap, "consist", APIRouter(), SECRET, checks=[check], consistency_interval_seconds=0
    )
    async with serve(app) as c:
        yield c


async def test_stuck_rows_are_found_counted_and_repaired_where_safe(client, world):
    long_ago = utcnow() - timedelta(hours=1)
    async with world.sessions() as s, s.begin():
        await s.execute(
            insert(world.tables.outbox).values(
                event_id="e-stuck",
                topic="t",
                key="ord_1",
                type="xinren.order.paid",
                source="/x",
                data={},
                occurred_at=long_ago,
                created_at=long_ago,
                attempts=3,
                last_error="broker unreachable",
            )
        )
        await s.execute(insert(world.tables.timer).values(kind="auto_confirm", key="ord_2", due_at=long_ago))
        await s.execute(insert(world.effect).values(key="ord_3", n=0))
    admin = bearer(SECRET, "admin", "ops")

    assert (await client.get("/v1/admin/consistency", headers=bearer(SECRET, "buyer", "u1"))).status_code == 403
    report = (await client.get("/v1/admin/consistency", headers=admin)).json()
    assert report["ok"] is False
    assert report["counts"] == {"outbox_unpublished": 1, "timer_overdue": 1, "unanswered": 1}
    subjects = {f["check"]: f for f in report["findings"]}
    assert subjects["outbox_unpublished"]["subject"].startswith("outbox:")
    assert "broker unreachable" in subjects["outbox_unpublished"]["detail"]
    assert subjects["timer_overdue"]["subject"] == "timer:auto_confirm:ord_2"
    assert subjects["unanswered"]["repairable"] is True and subjects["timer_overdue"]["repairable"] is False
    assert REGISTRY.get_sample_value("xinren_consistency_findings", {"service": "consist", "check": "unanswered"}) == 1

    repaired = await client.post("/v1/admin/consistency/repair", headers=admin)
    assert repaired.status_code == 200
    assert repaired.json()["repaired"] == [{"check": "unanswered", "subject": "ord_3", "done": "asked its owner again"}]
    assert await world.count("ord_3") == 1
    after = (await client.get("/v1/admin/consistency", headers=admin)).json()
    assert after["counts"]["unanswered"] == 0 and after["counts"]["outbox_unpublished"] == 1
