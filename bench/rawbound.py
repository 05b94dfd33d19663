"""The bound for order intake: the very statements the order service issues for one `POST /v1/orders`, replayed by
a bare asyncpg loop (in a transaction of their own if the service sends them in one; no HTTP, no framework, no
ORM).

The statements are not written out by hand (they would drift from the service): the order service runs in-process
once, and every statement its engine sends for two orders is recorded with its parameters. What differs between the
two orders (ids, keys, timestamps, the advisory-lock number of the idempotency key) is made fresh for every replay;
everything else is sent as recorded. The number of statements is reported, so the two sides can be compared."""

from __future__ import annotations

import json
import logging
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from harness import SECRET, order_body, shop_and_product, token

from xinren_shared.settings import to_plain_url
from xinren_shared.testing.http import serve
from xinren_shared.testing.roundtrips import RoundTrips

_TOKEN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z]+_[0-9A-Za-z]{8,}|[0-9a-f]{16,}"
)
_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class Statement:
    sql: str
    params: tuple[Any, ...]
    many: bool


def _tokens(value: Any) -> set[str]:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    return set(_TOKEN.findall(value)) if isinstance(value, str) else set()


def _fresh_token(tok: str) -> str:
    if "-" in tok and len(tok) == 36:
        return str(uuid.uuid4())
    if "_" in tok:
        head, tail = tok.split("_", 1)
        return f"{head}_{''.join(random.choices(_ALNUM, k=len(tail)))}"
    return "".join(random.choices("0123456789abcdef", k=len(tok)))


class Replay:
    """The recorded statements of one order, with what must be fresh each time."""

    def __init__(self, first: list[Statement], second: list[Statement], in_transaction: bool):
        if [s.sql for s in first] != [s.sql for s in second]:
            raise RuntimeError("the order service issued different statements for two alike orders")
        self.statements = first
        # Replayed in a transaction of their own (BEGIN … COMMIT) only if the service sent them in one.
        self.in_transaction = in_transaction
        self.varying: list[set[int]] = []
        seen_second: set[str] = set()
        for s in second:
            for p in s.params:
                seen_second |= _tokens(p)
        self.tokens: set[str] = set()
        for a, b in zip(first, second, strict=True):
            varying = {i for i, (x, y) in enumerate(zip(a.params, b.params, strict=True)) if x != y}
            self.varying.append(varying)
            for i in varying:
                self.tokens |= _tokens(a.params[i]) - seen_second

    def _fresh(self, value: Any, mapping: dict[str, str]) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return random.randint(-(2**62), 2**62)
        if isinstance(value, datetime):
            return datetime.now(UTC) if value.tzinfo else datetime.now()
        if isinstance(value, (str, bytes, dict, list)):
            text = value.decode() if isinstance(value, bytes) else value
            text = json.dumps(text) if isinstance(value, (dict, list)) else text
            text = _TOKEN.sub(lambda m: mapping.get(m.group(0), m.group(0)), text)
            if isinstance(value, bytes):
                return text.encode()
            return json.loads(text) if isinstance(value, (dict, list)) else text
        return value

    async def run_once(self, conn: asyncpg.Connection) -> None:
        mapping = {tok: _fresh_token(tok) for tok in self.tokens}
        if not self.in_transaction:
            await self._send(conn, mapping)
            return
        async with conn.transaction():
            await self._send(conn, mapping)

    async def _send(self, conn: asyncpg.Connection, mapping: dict[str, str]) -> None:
        for s, varying in zip(self.statements, self.varying, strict=True):
            params = tuple(self._fresh(p, mapping) if i in varying else p for i, p in enumerate(s.params))
            if s.many:
                await conn.executemany(s.sql, params)
            else:
                await conn.fetch(s.sql, *params)


async def record(database_url: str, kafka: str, stock: int) -> Replay:
    """Runs the order service in-process on `database_url` (relay, consumers and timers off), creates a shop and a
    product, one order to warm up and two recorded ones."""
    from xinren_order.app import create_app
    from xinren_order.settings import OrderSettings

    settings = OrderSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka,
        jwt_secret=SECRET,
        env="test",
        log_level="WARNING",
        run_relay=False,
        run_consumers=False,
        run_timers=False,
    )
    try:
        app = create_app(settings)
        async with serve(app) as c:
            shop_id, sku_id, _ = await shop_and_product(c, stock)
            body = order_body(shop_id, sku_id)
            buyer = token("buyer", "raw-bound-buyer")
            runs: list[list[Statement]] = []
            in_transaction = True
            for n in range(3):
                with RoundTrips(app.state.runtime.engine.sync_engine) as trips:
                    r = await c.post("/v1/orders", json=body, headers={**buyer, "Idempotency-Key": uuid.uuid4().hex})
                if r.status_code != 201:
                    raise RuntimeError(f"recording an order: {r.status_code} {r.text[:300]}")
                if n:  # the first warms up
                    runs.append([Statement(sql, params, False) for sql, params in trips.statements])
                    in_transaction = "BEGIN" in trips.trips
    finally:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # the service's log setup made it chatty
    return Replay(runs[0], runs[1], in_transaction)


async def pool(database_url: str, size: int) -> asyncpg.Pool:
    """`size` connections, each given back as it is. asyncpg's default resets a connection as the pool gets it back
    (`RESET ALL`, `UNLISTEN *`, `CLOSE ALL`, `pg_advisory_unlock_all()`: a round trip more per order), which the
    service's pool does not do and the replayed statements leave nothing for."""
    return await asyncpg.create_pool(to_plain_url(database_url), min_size=size, max_size=size, reset=_as_it_is)


async def _as_it_is(conn: asyncpg.Connection) -> None:
    return None
