"""Notifications sent after the commit, from outside the transaction (xinren_shared.listen.Announcer), against the
real PostgreSQL."""

import asyncio
import uuid

import asyncpg
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from xinren_shared import listen
from xinren_shared.db import make_engine
from xinren_shared.listen import Announcer, notify_after_commit
from xinren_shared.testing.announcing import announcing, listening
from xinren_shared.testing.roundtrips import RoundTrips

from .support import wait_until


async def told(heard: asyncio.Queue[str], n: int) -> list[str]:
    return [await asyncio.wait_for(heard.get(), 10) for _ in range(n)]


def channel() -> str:
    return f"xinren_test_{uuid.uuid4().hex[:12]}"


async def test_a_commit_is_announced_after_it_from_a_connection_that_does_not_wait_for_the_disk(world):
    """The transaction itself sends no NOTIFY (its commit would hold PostgreSQL's one notification lock, for every
    database of the server, until it is on disk); the announcer sends it once the commit is done, on a connection
    whose commits do not wait for a flush."""
    ch, key = channel(), f"k_{uuid.uuid4().hex[:8]}"
    async with announcing(world.url, world.engine) as announcer, listening(world.url, ch) as heard:
        with RoundTrips(world.engine.sync_engine) as rec:
            async with world.sessions() as s, s.begin():
                await world.bump(s, key)
                notify_after_commit(s, ch, key)
                notify_after_commit(s, ch, key)  # noted twice, told once
                assert announcer.pending == 0  # nothing goes before the commit
        assert rec.trips[-1] == "COMMIT" and not any("notify" in t.lower() for t in rec.trips), rec.trips
        assert await told(heard, 1) == [key]
        assert await world.count(key) == 1  # what the listener is told about is there to be read
        conn = await announcer._connection()
        assert await conn.fetchval("SHOW synchronous_commit") == "off"


async def test_a_rollback_announces_nothing_and_a_savepoint_waits_for_the_commit(world):
    ch = channel()
    async with announcing(world.url, world.engine) as announcer, listening(world.url, ch) as heard:
        with pytest.raises(RuntimeError):
            async with world.sessions() as s, s.begin():
                notify_after_commit(s, ch, "rolled back")
                raise RuntimeError("the work fails")
        async with world.sessions() as s, s.begin():
            async with s.begin_nested():
                notify_after_commit(s, ch, "in a savepoint")
            assert announcer.pending == 0  # a released savepoint is not a commit
            notify_after_commit(s, ch, "after it")
        # The rolled-back transaction's note would have come first.
        assert await told(heard, 2) == ["in a savepoint", "after it"]


async def test_what_could_not_be_sent_is_sent_once_the_database_answers_again(world):
    """The announcer's connection ended by the server: the notes of the failed send are sent on a new one."""
    ch = channel()
    fast = announcing(world.url, world.engine, reconnect_seconds=0.05)
    async with fast as announcer, listening(world.url, ch) as heard:
        async with world.sessions() as s, s.begin():
            notify_after_commit(s, ch, "first")
        assert await told(heard, 1) == ["first"]
        async with world.sessions() as s, s.begin():
            ended = await s.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'xinren-announcer' AND datname = current_database()"
                )
            )
            assert ended.scalar_one() == 1
            notify_after_commit(s, ch, "second")
        assert await told(heard, 1) == ["second"]
        assert announcer.dropped == 0


async def test_a_session_of_an_engine_with_no_announcer_notifies_inside_its_transaction(world):
    """A script's or a test's own engine: the notification still reaches the listeners, at the commit."""
    ch, other, other_engine = channel(), Announcer(world.url), make_engine(world.url)
    other.bind(other_engine)
    try:
        async with listening(world.url, ch) as heard:
            with RoundTrips(world.engine.sync_engine) as rec:
                async with world.sessions() as s, s.begin():
                    notify_after_commit(s, ch, "inside")
            assert any(t.startswith("SELECT pg_notify") for t in rec.trips), rec.trips
            assert await told(heard, 1) == ["inside"]
        assert other.pending == 0  # the announcer of another engine is not asked
    finally:
        await other_engine.dispose()


async def test_an_engine_whose_announcer_stopped_notifies_inside_its_transactions_again(world):
    ch = channel()
    async with announcing(world.url, world.engine) as announcer:
        pass
    async with listening(world.url, ch) as heard:
        async with world.sessions() as s, s.begin():
            notify_after_commit(s, ch, "after it stopped")
        assert await told(heard, 1) == ["after it stopped"]
    assert announcer.pending == 0


async def test_a_notification_the_server_refuses_is_dropped_and_the_next_ones_still_go(world):
    """A payload over PostgreSQL's 8,000 bytes is refused every time: sending it again would stop every later one."""
    ch, service = channel(), f"svc_{uuid.uuid4().hex[:8]}"
    async with announcing(world.url, world.engine, service=service) as announcer, listening(world.url, ch) as heard:
        async with world.sessions() as s, s.begin():
            notify_after_commit(s, ch, "x" * 9000)
        await wait_until(lambda: announcer.dropped == 1)
        assert REGISTRY.get_sample_value("xinren_notifications_dropped_total", {"service": service}) == 1
        async with world.sessions() as s, s.begin():
            notify_after_commit(s, ch, "next")
        assert await told(heard, 1) == ["next"]


async def test_a_connection_left_unusable_by_its_end_is_replaced_and_nothing_is_dropped(world, monkeypatch):
    """A connection the server ended while it was idle can still be reading the server's last error when the next
    NOTIFY goes out: asyncpg then refuses that statement on the client ("another operation is in progress"), which is
    not the server refusing the notification. The notes go again on a new connection (they were dropped, once)."""
    ch = channel()
    send = listen._NOTIFY_EACH.execute
    failures = [asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")]

    async def failing_once(conn, params):
        if failures:
            raise failures.pop()
        await send(conn, params)

    monkeypatch.setattr(listen._NOTIFY_EACH, "execute", failing_once)
    fast = announcing(world.url, world.engine, reconnect_seconds=0.05)
    async with fast as announcer, listening(world.url, ch) as heard:
        async with world.sessions() as s, s.begin():
            notify_after_commit(s, ch, "sent again")
        assert await told(heard, 1) == ["sent again"]
        assert not failures and announcer.dropped == 0
