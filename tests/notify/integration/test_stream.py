"""The live stream over a real HTTP connection: new notifications within a second, exact resume with
Last-Event-ID, and wake-ups that come through PostgreSQL (so any replica's write reaches any replica's stream)."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from xinren_notify.handlers.inbox import record_event
from xinren_notify.listener import INBOX_CHANNEL
from xinren_shared.contracts.orders import OrderDelivered
from xinren_shared.db import make_engine, make_session_factory, transaction
from xinren_shared.events import Envelope
from xinren_shared.listen import notify_after_commit
from xinren_shared.testing.announcing import announcing, listening
from xinren_shared.testing.roundtrips import RoundTrips

from ..support import eventually, sse_events


def delivered(order_id: str, buyer_id: str) -> OrderDelivered:
    return OrderDelivered(
        order_id=order_id, buyer_id=buyer_id, shop_id="shop_" + order_id, delivered_at="2025-05-20T08:00:00Z"
    )


class Stream:
    """An SSE connection read in the background, so the test can act while it listens."""

    def __init__(self, notify, headers: dict[str, str]):
        self.notify = notify
        self.headers = headers
        self.events: list = []
        self.opened = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.status: int | None = None

    async def _run(self) -> None:
        async with httpx.AsyncClient(base_url=self.notify.url, timeout=httpx.Timeout(30, read=60)) as client:
            async with client.stream("GET", "/v1/notifications/stream", headers=self.headers) as response:
                self.status = response.status_code
                self.opened.set()
                async for event in sse_events(response):
                    self.events.append(event)

    async def __aenter__(self) -> "Stream":
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.opened.wait(), 10)
        assert self.status == 200
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def wait(self, count: int, timeout: float = 10.0) -> list:
        async def check():
            return self.events if len(self.events) >= count else None

        return await eventually(check, timeout=timeout, interval=0.01, what=f"{count} SSE event(s)")


async def test_a_new_notification_reaches_the_stream_within_a_second(notify, publish):
    buyer_id, order_id = f"u_{uuid.uuid4().hex[:10]}", f"ord_{uuid.uuid4().hex[:10]}"
    async with Stream(notify, notify.auth("buyer", buyer_id)) as stream:
        sent = time.monotonic()
        await publish(delivered(order_id, buyer_id), source="/xinren/order")
        (event,) = await stream.wait(1)
        assert event.received_at - sent < 1.0, f"took {event.received_at - sent:.3f}s"
        assert event.event == "notification"
        body = json.loads(event.data)
        assert body["event_type"] == "xinren.order.delivered" and body["order_id"] == order_id
        assert body["title"] == "包裹已签收" and event.id == str(body["seq"])


@contextlib.asynccontextmanager
async def another_replica(notify) -> AsyncIterator[AsyncEngine]:
    """An engine of its own with its announcer running, as another replica's runtime has them."""
    engine = make_engine(notify.settings.database_url)
    try:
        async with announcing(notify.settings.database_url, engine):
            yield engine
    finally:
        await engine.dispose()


async def test_a_write_by_another_replica_wakes_this_replicas_stream(notify):
    """The notification is written through another replica's engine (as its consumer would); only PostgreSQL's
    NOTIFY, sent by that replica once it committed, can tell this server's stream about it (its fallback poll is
    30 s in these tests)."""
    buyer_id, order_id = f"u_{uuid.uuid4().hex[:10]}", f"ord_{uuid.uuid4().hex[:10]}"
    async with another_replica(notify) as engine, Stream(notify, notify.auth("buyer", buyer_id)) as stream:
        started = time.monotonic()
        async with transaction(make_session_factory(engine)) as session:
            await record_event(session, Envelope.of(delivered(order_id, buyer_id), "/xinren/order"))
        (event,) = await stream.wait(1)
        assert event.received_at - started < 1.0
        assert json.loads(event.data)["order_id"] == order_id


async def test_an_event_for_two_people_is_one_statement_and_both_are_told_once_it_committed(notify):
    """The buyer's and the shop's notifications are one round trip, with no NOTIFY in the transaction; once it has
    committed, both recipients' listeners are told; the replay inserts and announces nothing."""
    buyer_id, order_id = f"u_{uuid.uuid4().hex[:10]}", f"ord_{uuid.uuid4().hex[:10]}"
    envelope = Envelope.of(delivered(order_id, buyer_id), "/xinren/order")
    async with listening(notify.settings.database_url, INBOX_CHANNEL) as heard, another_replica(notify) as engine:
        with RoundTrips(engine.sync_engine) as rec:
            async with transaction(make_session_factory(engine)) as session:
                await record_event(session, envelope)
        writes = [t for t in rec.trips if "notification" in t and "INSERT" in t]
        assert len(writes) == 1, rec.trips
        assert not any("pg_notify" in t for t in rec.trips), rec.trips
        told = {await asyncio.wait_for(heard.get(), 10) for _ in range(2)}
        assert told == {f"buyer:{buyer_id}", f"shop:shop_{order_id}"}
        async with transaction(make_session_factory(engine)) as session:
            recipients = (
                await session.execute(
                    text("SELECT recipient FROM notification WHERE event_id = :e ORDER BY id"), {"e": envelope.id}
                )
            ).scalars()
            assert list(recipients) == sorted(told)
        async with transaction(make_session_factory(engine)) as session:
            await record_event(session, envelope)  # a replay: nothing new, nobody woken
            notify_after_commit(session, INBOX_CHANNEL, "marker")  # told after whatever the replay noted
            notified = await session.execute(
                text("SELECT count(*) FROM notification WHERE event_id = :e"), {"e": envelope.id}
            )
            assert notified.scalar_one() == 2
        assert await asyncio.wait_for(heard.get(), 10) == "marker"


async def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(notify, publish):
    buyer_id = f"u_{uuid.uuid4().hex[:10]}"
    headers = notify.auth("buyer", buyer_id)
    orders = [f"ord_{uuid.uuid4().hex[:10]}" for _ in range(4)]
    async with Stream(notify, headers) as stream:
        await publish(delivered(orders[0], buyer_id), source="/xinren/order")
        (first,) = await stream.wait(1)
    # Disconnected: two more arrive meanwhile.
    for order_id in orders[1:3]:
        await publish(delivered(order_id, buyer_id), source="/xinren/order")

    async def inbox_has_three():
        r = await notify.client.get("/v1/notifications", headers=headers)
        return len(r.json()["items"]) == 3

    await eventually(inbox_has_three, what="3 notifications")

    async with Stream(notify, {**headers, "Last-Event-ID": first.id}) as resumed:
        missed = await resumed.wait(2)
        assert [json.loads(e.data)["order_id"] for e in missed] == orders[1:3]
        assert [int(e.id) for e in missed] == [int(first.id) + 1, int(first.id) + 2]
        # ...and then it goes on live.
        await publish(delivered(orders[3], buyer_id), source="/xinren/order")
        events = await resumed.wait(3)
        assert [json.loads(e.data)["order_id"] for e in events] == orders[1:]
    # Without Last-Event-ID a stream starts with what comes next: nothing old is replayed.
    async with Stream(notify, headers) as fresh:
        await publish(delivered(f"ord_{uuid.uuid4().hex[:10]}", buyer_id), source="/xinren/order")
        (only,) = await fresh.wait(1)
        assert int(only.id) == int(first.id) + 4


async def test_stream_errors(notify):
    async with httpx.AsyncClient(base_url=notify.url, timeout=10) as client:
        r = await client.get("/v1/notifications/stream")
        assert r.status_code == 401
        r = await client.get("/v1/notifications/stream", headers={**notify.auth("buyer"), "Last-Event-ID": "abc"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_LAST_EVENT_ID"
        r = await client.get("/v1/notifications/stream", headers=notify.auth("partner"))
        assert r.status_code == 403
