"""What must hold once the system has settled after a fault, read from the services' APIs, their databases and the
broker, and summed up as the scenario's figures (lost, duplicated, stuck) with the violations behind them."""

from __future__ import annotations

import asyncio
import importlib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from xinren_shared.settings import to_plain_url

from .receiver import Receiver
from .stack import Services
from .workload import Workload

OVERDUE_GRACE_SECONDS = 15  # a timer this late with the services up is stuck, not slow
PRODUCERS = ("order", "qc", "refund")  # the services with an outbox of events keyed by order


@dataclass
class Check:
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    dlq: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or self.dlq)

    def summary(self, limit: int = 12) -> str:
        lines = []
        for name in ("lost", "duplicated", "stuck", "dlq"):
            items = getattr(self, name)
            lines += [f"{name}: {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"{name}: … and {len(items) - limit} more")
        return "\n".join(lines)


async def _rows(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(to_plain_url(url), timeout=10)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def check(services: Services, workload: Workload, receiver: Receiver, webhook_id: str) -> Check:
    c = Check()
    db = services.databases
    flows = [f for f in workload.flows]
    buyers = [f.buyer_id for f in flows]

    # Every acknowledged order exists once, in the state its steps left it in; no money moved twice.
    orders = await _rows(
        db["order"],
        "SELECT order_id, buyer_id, status, total_fen, paid_fen, refunded_fen FROM sales_order "
        "WHERE buyer_id = ANY($1)",
        buyers,
    )
    by_buyer: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in orders:
        by_buyer[row["buyer_id"]].append(row)
    order_ids = [row["order_id"] for row in orders]
    for f in flows:
        mine = by_buyer.get(f.buyer_id, [])
        if len(mine) > 1:
            c.duplicated.append(f"{f.kind} buyer {f.buyer_id}: {len(mine)} orders {[r['order_id'] for r in mine]}")
        if f.replay_mismatch:
            c.duplicated.append(f"{f.kind} {f.order_id}: the retried creation answered another order")
        if f.acknowledged and f.order_id not in {r["order_id"] for r in mine}:
            c.lost.append(f"{f.kind} {f.order_id}: acknowledged, not in the order database")
            continue
        if f.error:
            c.stuck.append(f"{f.kind} {f.order_id}: the workload failed at {f.step}: {f.error}")
        for row in mine:
            if row["status"] != f.expected:
                c.stuck.append(f"{f.kind} {row['order_id']}: {row['status']}, expected {f.expected} (at {f.step})")
            if row["refunded_fen"] > row["paid_fen"] or row["paid_fen"] not in (0, row["total_fen"]):
                c.duplicated.append(f"{row['order_id']}: paid {row['paid_fen']}, refunded {row['refunded_fen']}")

    ledger = await services.stack.http("order").get("/v1/ledger/check", headers=workload.admin)
    body = ledger.json() if ledger.status_code == 200 else {"ok": False, "violations": [ledger.text]}
    if not body["ok"]:
        c.duplicated.append(f"ledger check: {body['violations'][:5]}")
    for row in await _rows(
        db["order"],
        "SELECT order_id, kind, count(*) AS n FROM ledger_transaction WHERE order_id = ANY($1) "
        "AND kind IN ('PAYMENT', 'RELEASE') GROUP BY order_id, kind HAVING count(*) > 1",
        order_ids,
    ):
        c.duplicated.append(f"{row['order_id']}: {row['n']} {row['kind']} transactions")
    for row in await _rows(
        db["order"],
        "SELECT order_id, kind, count(*) AS n FROM compensation_record WHERE order_id = ANY($1) "
        "GROUP BY order_id, kind HAVING count(*) > 1",
        order_ids,
    ):
        c.duplicated.append(f"{row['order_id']}: {row['n']} {row['kind']} compensations")

    # Every refunded case has exactly one refund; one full-refund case per refunded order.
    refunds = Counter(
        r["case_id"]
        for r in await _rows(
            db["order"],
            "SELECT case_id FROM refund_record WHERE order_id = ANY($1) AND outcome = 'REFUNDED'",
            order_ids,
        )
    )
    cases = await _rows(
        db["refund"], "SELECT case_id, order_id, status FROM after_sale_case WHERE order_id = ANY($1)", order_ids
    )
    for case in cases:
        n = refunds.get(case["case_id"], 0)
        if case["status"] == "REFUNDED" and n != 1:
            (c.duplicated if n > 1 else c.lost).append(f"case {case['case_id']} REFUNDED with {n} refunds")
    cases_per_order = Counter(case["order_id"] for case in cases)
    expected_cases = {"counterfeit": 1, "refund_before_shipment": 1, "return_7d": 1}
    for f in flows:
        want = expected_cases.get(f.kind, 0)
        if f.order_id and f.acknowledged and cases_per_order.get(f.order_id, 0) != want:
            n = cases_per_order.get(f.order_id, 0)
            (c.duplicated if n > want else c.stuck).append(f"{f.kind} {f.order_id}: {n} after-sales cases")

    # One QC case per paid QC order.
    qc = Counter(
        r["order_id"] for r in await _rows(db["qc"], "SELECT order_id FROM qc_case WHERE order_id = ANY($1)", order_ids)
    )
    for f in flows:
        if f.kind in ("jade_pass", "counterfeit") and f.acknowledged and qc.get(f.order_id, 0) != 1:
            n = qc.get(f.order_id, 0)
            (c.duplicated if n > 1 else c.stuck).append(f"{f.kind} {f.order_id}: {n} QC cases")

    # One notification per (event, recipient), and the buyer told of each order.
    for row in await _rows(
        db["notify"],
        "SELECT event_id, recipient, count(*) AS n FROM notification GROUP BY event_id, recipient HAVING count(*) > 1",
    ):
        c.duplicated.append(f"notification {row['event_id']} to {row['recipient']} ×{row['n']}")
    told = {
        r["order_id"]
        for r in await _rows(
            db["notify"],
            "SELECT order_id FROM notification WHERE event_type = 'xinren.order.created' AND order_id = ANY($1)",
            order_ids,
        )
    }
    c.lost += [f"{oid}: the buyer never told of the order" for oid in order_ids if oid not in told]

    # Every event published, no overdue timer.
    for svc in services.databases:
        for row in await _rows(db[svc], "SELECT count(*) AS n FROM outbox_event WHERE published_at IS NULL"):
            if row["n"]:
                c.stuck.append(f"{svc}: {row['n']} outbox events unpublished")
        for row in await _rows(
            db[svc],
            "SELECT kind, key, due_at FROM timer WHERE fired_at IS NULL AND cancelled_at IS NULL "
            f"AND due_at < now() - interval '{OVERDUE_GRACE_SECONDS} seconds' ORDER BY due_at LIMIT 20",
        ):
            c.stuck.append(f"{svc}: timer {row['kind']} {row['key']} overdue since {row['due_at']:%H:%M:%S}")

    # Every webhook delivered, and each producer's events of an order received in the order it published them.
    published: dict[str, list[tuple[str, str]]] = defaultdict(list)  # order -> [(producer, event id)] in seq order
    for svc in PRODUCERS:
        for row in await _rows(
            db[svc], "SELECT key, event_id FROM outbox_event WHERE key = ANY($1) ORDER BY seq", order_ids
        ):
            published[row["key"]].append((svc, row["event_id"]))
    arrived = receiver.first_arrivals()
    queued: dict[str, int] = {  # event id -> the order notify queued it in for the webhook (its Kafka order)
        r["event_id"]: r["seq"]
        for r in await _rows(
            db["notify"], "SELECT event_id, seq FROM webhook_delivery WHERE webhook_id = $1", webhook_id
        )
    }
    undelivered = await _rows(
        db["notify"],
        "SELECT event_id, event_type, status FROM webhook_delivery WHERE webhook_id = $1 AND status <> 'DELIVERED'",
        webhook_id,
    )
    c.stuck += [f"webhook delivery {r['event_type']} {r['event_id']}: {r['status']}" for r in undelivered[:20]]
    for order_id in order_ids:
        if not published.get(order_id):
            c.lost.append(f"{order_id}: no event of the order in any outbox")
    for order_id, events in published.items():
        for svc in PRODUCERS:
            sent = [e for s, e in events if s == svc]
            missing = [e for e in sent if e not in arrived]
            if missing:
                c.lost.append(f"{order_id}: {len(missing)} {svc} events never reached the webhook")
                continue
            # Two transactions may commit in the other order than their outbox rows were numbered, so the order to
            # keep is the one the events had on their topic: the order notify consumed and queued them in.
            if sorted(sent, key=arrived.__getitem__) != sorted(sent, key=lambda e: queued.get(e, 0)):
                c.stuck.append(f"{order_id}: {svc} events reached the webhook out of order")

    # Consumer lag 0 on every group; the dead-letter topics empty (or each letter explained here).
    lag, letters = await kafka_state(services)
    c.stuck += [f"consumer lag {n} on {where}" for where, n in lag.items() if n]
    c.dlq += letters
    return c


async def kafka_state(services: Services) -> tuple[dict[str, int], list[str]]:
    bootstrap = services.cluster.kafka_bootstrap
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=10_000)
    await admin.start()
    await reader.start()
    try:
        topics = [t for t in await reader.topics() if t.startswith(services.namespace)]
        partitions = []
        for t in topics:
            partitions += [TopicPartition(t, p) for p in reader.partitions_for_topic(t) or await _parts(reader, t)]
        ends = await reader.end_offsets(partitions)
        starts = await reader.beginning_offsets(partitions)
        lag: dict[str, int] = {}
        for svc, group in services.groups.items():
            committed = await admin.list_consumer_group_offsets(group)
            for tp, meta in committed.items():
                if tp in ends and not tp.topic.endswith(".dlq"):
                    lag[f"{svc} {tp.topic}[{tp.partition}]"] = max(0, ends[tp] - meta.offset)
            seen = {tp for tp in committed}
            for tp in partitions:  # a partition with events the group never committed: all of it is lag
                if tp not in seen and not tp.topic.endswith(".dlq") and ends[tp] > starts[tp] and svc_reads(svc, tp):
                    lag[f"{svc} {tp.topic}[{tp.partition}] (never committed)"] = ends[tp] - starts[tp]
        letters: list[str] = []
        dead = [tp for tp in partitions if tp.topic.endswith(".dlq") and ends[tp] > starts[tp]]
        if dead:
            reader.assign(dead)
            for tp in dead:
                reader.seek(tp, starts[tp])
            while [tp for tp in dead if await reader.position(tp) < ends[tp]]:
                batch = await reader.getmany(timeout_ms=2000)
                for records in batch.values():
                    for r in records:
                        headers = {k: v.decode(errors="replace") for k, v in r.headers}
                        letters.append(
                            f"{headers.get('x-dlq-consumer')} on {headers.get('x-dlq-topic')}: "
                            f"{headers.get('x-dlq-error', '')[:300]}"
                        )
                if not batch:
                    break
        return lag, letters
    finally:
        await reader.stop()
        await admin.close()


def svc_reads(svc: str, tp: TopicPartition) -> bool:
    """Whether the service consumes the topic (its consumer table names the event types it handles)."""
    module = importlib.import_module(f"xinren_{svc}.consumers")
    return any(tp.topic.endswith(cls.TOPIC) for cls in module.EVENT_HANDLERS)


async def _parts(reader: AIOKafkaConsumer, topic: str) -> set[int]:
    await reader._client.force_metadata_update()  # a topic made since the reader started
    return reader.partitions_for_topic(topic) or set()


async def settle(
    services: Services, workload: Workload, receiver: Receiver, webhook_id: str, timeout: float
) -> tuple[Check, float]:
    """Checks until everything holds or `timeout` passes; returns the last check and the seconds it took."""
    t0 = time.monotonic()
    while True:
        try:
            result = await check(services, workload, receiver, webhook_id)
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            result = Check(stuck=[f"check could not run: {exc!r}"])
        if result.clean or time.monotonic() - t0 > timeout:
            return result, time.monotonic() - t0
        await asyncio.sleep(1.0)
