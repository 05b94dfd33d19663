"""Housekeeping (xinren_shared.housekeeping) deletes what is past each retention and nothing else, against the real
PostgreSQL: published events, handled event ids, finished timers and old Idempotency-Key answers go; an event not yet
published, a live timer and anything younger than its retention stay."""

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import insert, select

from xinren_shared.housekeeping import Housekeeper
from xinren_shared.settings import ServiceSettings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


async def _fill(world) -> None:
    t = world.tables
    event = {"topic": "xinren.orders.v1", "key": "o1", "type": "t", "source": "/x", "data": {}, "occurred_at": ago(500)}
    outbox = [
        *({**event, "event_id": f"old-published-{i}", "published_at": ago(200)} for i in range(5)),
        {**event, "event_id": "old-unpublished", "published_at": None},
        {**event, "event_id": "new-published", "published_at": ago(1)},
    ]
    inbox = {"consumer": "c", "type": "t", "topic": "x", "partition": 0, "offset": 1}
    timer = {"kind": "k", "due_at": ago(400), "fired_at": None, "cancelled_at": None}
    key = {"principal": "buyer:u1", "scope": "POST /v1/orders", "request_hash": "h"}
    async with world.sessions() as s, s.begin():
        await s.execute(insert(t.outbox), outbox)
        await s.execute(
            insert(t.inbox),
            [
                {**inbox, "event_id": "handled-long-ago", "handled_at": ago(400)},
                {**inbox, "event_id": "handled-lately", "handled_at": ago(300)},
            ],
        )
        await s.execute(
            insert(t.timer),
            [
                {**timer, "key": "fired-long-ago", "fired_at": ago(200)},
                {**timer, "key": "cancelled-long-ago", "cancelled_at": ago(200)},
                {**timer, "key": "live-and-overdue"},
                {**timer, "key": "fired-lately", "fired_at": ago(2)},
            ],
        )
        await s.execute(
            insert(t.idempotency),
            [
                {**key, "key": "answered-long-ago", "created_at": ago(200)},
                {**key, "key": "answered-lately", "created_at": ago(3)},
            ],
        )


async def _left(world) -> dict[str, set[str]]:
    t = world.tables
    async with world.sessions() as s:
        return {
            "outbox": set((await s.execute(select(t.outbox.c.event_id))).scalars()),
            "inbox": set((await s.execute(select(t.inbox.c.event_id))).scalars()),
            "timer": set((await s.execute(select(t.timer.c.key))).scalars()),
            "idempotency_key": set((await s.execute(select(t.idempotency.c.key))).scalars()),
        }


def _housekeeper(world, **settings) -> Housekeeper:
    config = ServiceSettings(database_url=world.url, housekeeping_batch=2, **settings)
    return Housekeeper(service="hk", tables=world.tables, settings=config, session_factory=world.sessions)


def _counted(table: str) -> float:
    return REGISTRY.get_sample_value("xinren_housekeeping_deleted_total", {"service": "hk", "table": table}) or 0.0


async def test_a_sweep_deletes_only_what_is_past_its_retention_in_batches(world):
    await _fill(world)
    before = _counted("outbox")
    deleted = await _housekeeper(world).sweep(NOW)
    assert deleted == {"outbox": 5, "inbox": 1, "timer": 2, "idempotency_key": 1}  # five outbox rows, two a batch
    assert _counted("outbox") - before == 5
    assert await _left(world) == {
        "outbox": {"old-unpublished", "new-published"},
        "inbox": {"handled-lately"},
        "timer": {"live-and-overdue", "fired-lately"},
        "idempotency_key": {"answered-lately"},
    }
    assert await _housekeeper(world).sweep(NOW) == {"outbox": 0, "inbox": 0, "timer": 0, "idempotency_key": 0}


async def test_a_retention_of_zero_keeps_that_table_forever(world):
    await _fill(world)
    deleted = await _housekeeper(world, outbox_retention_hours=0, inbox_retention_hours=0).sweep(NOW)
    assert deleted == {"timer": 2, "idempotency_key": 1}
    left = await _left(world)
    assert len(left["outbox"]) == 7 and left["inbox"] == {"handled-long-ago", "handled-lately"}
