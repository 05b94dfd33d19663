"""Pay, then ask at once: a request for an order the view has not caught up with waits for the projection (woken by
its notification, holding no database connection), and answers 409 ORDER_NOT_YET_VISIBLE with Retry-After when
the view does not catch up in time."""

import asyncio

from xinren_shared.contracts.orders import OrderCancelled

from ..support import ADMIN, ORDER_SOURCE, buyer_headers, eventually, order_events, place_order, uid


def _ask(svc, order, key: str | None = None):
    headers = dict(order.buyer)
    if key:
        headers["Idempotency-Key"] = key
    body = {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER"}
    return svc.client.post("/v1/after-sales", json=body, headers=headers)


async def _view(svc, order) -> dict | None:
    r = await svc.client.get("/v1/after-sales/eligibility", params={"order_id": order.order_id}, headers=ADMIN)
    return r.json() if r.status_code == 200 else None


async def test_requests_racing_the_projection_wait_for_it_without_holding_a_connection(refund_small_pool, publish):
    svc = refund_small_pool
    watch = svc.app.state.order_view_watch
    placed = [order_events() for _ in range(8)]  # more requests than the pool's three connections
    asks = [asyncio.create_task(_ask(svc, order, key=uid("idem"))) for order, _ in placed]

    async def all_waiting():
        return watch.waiting >= len(asks)

    await eventually(all_waiting, what="every request waiting for the order view")
    assert not any(a.done() for a in asks)
    # Were the waiting requests holding connections, this read would find none free (503 DATABASE_BUSY).
    listing = await svc.client.get("/v1/after-sales", headers=ADMIN)
    assert listing.status_code == 200, listing.text

    # The order service's events arrive only now; the wait (60 s) ends with the projection, not with time.
    loop = asyncio.get_running_loop()
    started = loop.time()
    await publish(*[event for _, events in placed for event in events], source=ORDER_SOURCE)
    answers = await asyncio.wait_for(asyncio.gather(*asks), 30)
    assert loop.time() - started < 30
    for (order, _), answer in zip(placed, answers, strict=True):
        assert answer.status_code == 201, answer.text
        case = answer.json()
        assert (case["order_id"], case["buyer_id"], case["status"]) == (order.order_id, order.buyer_id, "REFUNDING")
    assert watch.waiting == 0


async def test_a_view_that_does_not_catch_up_in_time_answers_409_with_retry_after_and_spends_no_key(
    refund_short, publish
):
    svc = refund_short  # waits 0.5 s, Retry-After: 2
    order, (created, paid) = order_events()
    key = uid("idem")
    loop = asyncio.get_running_loop()

    started = loop.time()
    unseen = await _ask(svc, order, key)
    assert loop.time() - started >= 0.5
    assert unseen.status_code == 409, unseen.text
    assert unseen.headers["retry-after"] == "2"
    error = unseen.json()["error"]
    assert error["code"] == "ORDER_NOT_YET_VISIBLE" and error["details"]["order_seen"] is False

    # Seen, but not its payment: the same answer, saying the order is known.
    await publish(created, source=ORDER_SOURCE)
    await eventually(lambda: _view(svc, order), what="the created order in the view")
    unpaid = await _ask(svc, order, key)
    assert unpaid.status_code == 409 and unpaid.headers["retry-after"] == "2"
    assert unpaid.json()["error"]["details"]["order_seen"] is True

    # The refusals were answered before the command ran: the key is still free for the retry that succeeds.
    await publish(paid, source=ORDER_SOURCE)

    async def paid_seen():
        view = await _view(svc, order)
        return view and view["paid_fen"] > 0

    await eventually(paid_seen, what="the payment in the view")
    done = await _ask(svc, order, key)
    assert done.status_code == 201, done.text
    assert "idempotent-replayed" not in done.headers
    again = await _ask(svc, order, key)
    assert again.status_code == 201 and again.json()["case_id"] == done.json()["case_id"]


async def test_orders_the_view_knows_are_answered_without_waiting(refund_small_pool, publish):
    svc = refund_small_pool  # waits up to 60 s for an order it does not know
    loop = asyncio.get_running_loop()

    # Another buyer's order: 404 at once, as before.
    order = await place_order(svc, publish)
    started = loop.time()
    body = {"order_id": order.order_id, "type": "REFUND_ONLY", "reason": "OTHER"}
    foreign = await svc.client.post("/v1/after-sales", json=body, headers=buyer_headers(uid("u")))
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert loop.time() - started < 10

    # A request waiting for a payment is released when the order is cancelled instead: ORDER_NOT_PAID.
    unpaid, (created, _) = order_events()
    await publish(created, source=ORDER_SOURCE)
    await eventually(lambda: _view(svc, unpaid), what="the created order in the view")
    watch = svc.app.state.order_view_watch
    asking = asyncio.create_task(_ask(svc, unpaid))

    async def waiting():
        return watch.waiting >= 1

    await eventually(waiting, what="the request waiting for the payment")
    started = loop.time()
    cancelled = OrderCancelled(
        order_id=unpaid.order_id,
        buyer_id=unpaid.buyer_id,
        shop_id=unpaid.shop_id,
        reason="不想要了",
        by="buyer",
        was_paid=False,
    )
    await publish(cancelled, source=ORDER_SOURCE)
    answer = await asyncio.wait_for(asking, 30)
    assert loop.time() - started < 30
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "ORDER_NOT_PAID", answer.text
