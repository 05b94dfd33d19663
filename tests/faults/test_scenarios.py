"""The fault scenarios (make faults): the four services as processes on the suite's own Kafka and PostgreSQL, a mixed
workload with a retrying client, one kind of fault during it, then the wait for the system to settle and the
invariants: nothing acknowledged lost, nothing done twice, nothing stuck.

Sizes come from the environment: XINREN_FAULTS_ORDERS (orders per scenario), XINREN_FAULTS_CONCURRENCY,
XINREN_FAULTS_KILLS (kill -9 of random services), XINREN_FAULTS_OUTAGE_SECONDS (broker and database down),
XINREN_FAULTS_WEBHOOK_DOWN_SECONDS, XINREN_FAULTS_SETTLE_SECONDS, XINREN_FAULTS_STEP_SECONDS, XINREN_FAULTS_SEED.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from tests.e2e.conftest import SERVICES

from .cluster import Cluster
from .conftest import record, setting
from .invariants import settle
from .receiver import Receiver
from .stack import Services
from .workload import Workload


@dataclass
class Ctx:
    cluster: Cluster
    services: Services
    workload: Workload
    receiver: Receiver
    rng: random.Random


Fault = Callable[[Ctx], Awaitable[int]]
pytestmark = pytest.mark.timeout(int(setting("TIMEOUT_SECONDS", 900)))


async def run_scenario(
    name: str, cluster: Cluster, tmp_path: Path, fault: Fault, *, services_stopped: bool = False
) -> None:
    """The workload under `fault`, then every order settled, once. Only a service process stopped (killed, or stopped
    to rewind its consumer group) may drop a client's connection: a service whose database or broker is gone answers
    (503 with Retry-After), it does not hang up."""
    rng = random.Random(int(setting("SEED", time.time_ns() % 1_000_000)))
    services = Services(cluster, tmp_path, name)
    receiver = Receiver()
    await receiver.up()
    try:
        await services.start_all()
        workload = Workload(
            services.stack,
            orders=int(setting("ORDERS", 18)),
            concurrency=int(setting("CONCURRENCY", 6)),
            step_timeout=setting("STEP_SECONDS", 120),
        )
        await workload.setup()
        hook = {"url": receiver.url, "event_types": ["*"], "description": f"fault scenario {name}"}
        sub = await workload.client.call("notify", "POST", "/v1/webhooks", workload.admin, json=hook, ok=(201,))
        receiver.secret = sub["secret"]

        t0 = time.monotonic()
        running = asyncio.create_task(workload.run())
        try:
            faults = await fault(Ctx(cluster, services, workload, receiver, rng))
        except BaseException:
            running.cancel()
            raise
        await running
        run_seconds = time.monotonic() - t0
        result, settle_seconds = await settle(
            services, workload, receiver, sub["webhook_id"], timeout=setting("SETTLE_SECONDS", 120)
        )
        figures = {
            "scenario": name,
            "orders": len(workload.flows),
            "faults": faults,
            "lost": len(result.lost),
            "duplicated": len(result.duplicated),
            "stuck": len(result.stuck) + len(result.dlq),
            "5xx": workload.client.status_5xx,
            "503": workload.client.shed,
            "settle_s": round(settle_seconds, 1),
            "run_s": round(run_seconds, 1),
            "passed": result.clean,
            "connection_drops": workload.client.drops,
            "replayed_answers": workload.client.replays,
            "webhook_events": len(set(receiver.arrivals)),
            "webhook_redeliveries": receiver.redeliveries,
            "webhook_bad_signatures": receiver.bad_signatures,
            "dead_letters": result.dlq,
            "violations": {"lost": result.lost, "duplicated": result.duplicated, "stuck": result.stuck},
            "log": str(services.log),
        }
        record(figures)
        assert result.clean, f"{name} did not settle within the deadline:\n{result.summary()}\nlog: {services.log}"
        assert receiver.bad_signatures == 0
        if not services_stopped:
            assert workload.client.drops == 0, f"{workload.client.drops} connections dropped; log: {services.log}"
        assert len(set(receiver.arrivals)) >= 2 * len(workload.flows), "the webhook received too little to judge"
    finally:
        await services.close()
        await receiver.down()


# --- the faults -------------------------------------------------------------------------------------------------
async def kill_random_services(ctx: Ctx) -> int:
    kills = int(setting("KILLS", 4))
    await ctx.workload.started.wait()
    for _ in range(kills):
        await asyncio.sleep(ctx.rng.uniform(1.0, 4.0))
        svc = ctx.rng.choice(list(SERVICES))
        ctx.services.kill(svc)
        await asyncio.sleep(ctx.rng.uniform(0.5, 2.0))
        await ctx.services.restart(svc)
    return kills


async def restart_broker(ctx: Ctx) -> int:
    await ctx.workload.started.wait()
    await asyncio.sleep(ctx.rng.uniform(2.0, 5.0))
    await asyncio.to_thread(ctx.cluster.kill_kafka)
    await asyncio.sleep(setting("OUTAGE_SECONDS", 10))
    await asyncio.to_thread(ctx.cluster.start_kafka)
    return 1


async def restart_postgres(ctx: Ctx) -> int:
    await ctx.workload.started.wait()
    await asyncio.sleep(ctx.rng.uniform(2.0, 5.0))
    await asyncio.to_thread(ctx.cluster.stop_postgres_immediately)
    await asyncio.sleep(setting("OUTAGE_SECONDS", 10))
    await asyncio.to_thread(ctx.cluster.start_postgres)
    return 1


async def rewind_consumer_groups(ctx: Ctx) -> int:
    """Each service in turn: stopped, its consumer group set back to the start of every topic it reads, started."""
    await ctx.workload.started.wait()
    for svc in SERVICES:
        await asyncio.sleep(ctx.rng.uniform(1.0, 3.0))
        ctx.services.stop(svc)
        await rewind(ctx.services, svc)
        await ctx.services.restart(svc)
    return len(SERVICES)


async def rewind(services: Services, svc: str) -> int:
    """Commits the beginning of every partition the service's group has read: all of it is delivered again."""
    bootstrap, group = services.cluster.kafka_bootstrap, services.groups[svc]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:  # the service may not have read anything yet (the order service reads what QC and after-sales say)
        deadline = time.monotonic() + 120
        while not (partitions := list(await admin.list_consumer_group_offsets(group))):
            assert time.monotonic() < deadline, f"{svc}'s group {group} committed nothing within 120s"
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign(partitions)
        starts = await reader.beginning_offsets(partitions)
        await reader.commit(dict(starts))
    finally:
        await reader.stop()
    return len(partitions)


async def webhook_receiver_down(ctx: Ctx) -> int:
    await ctx.workload.started.wait()
    await ctx.receiver.down()
    await asyncio.sleep(setting("WEBHOOK_DOWN_SECONDS", 120))
    await ctx.receiver.up()
    return 1


# --- the scenarios ----------------------------------------------------------------------------------------------
async def test_kill_9_of_random_services_during_the_workload(cluster, tmp_path):
    await run_scenario("kill-9 services", cluster, tmp_path, kill_random_services, services_stopped=True)


async def test_the_broker_killed_and_restarted(cluster, tmp_path):
    await run_scenario("broker restart", cluster, tmp_path, restart_broker)


async def test_postgresql_stopped_immediately_and_restarted(cluster, tmp_path):
    await run_scenario("postgres immediate stop", cluster, tmp_path, restart_postgres)


async def test_consumer_groups_rewound(cluster, tmp_path):
    await run_scenario("consumer groups rewound", cluster, tmp_path, rewind_consumer_groups, services_stopped=True)


async def test_a_webhook_receiver_down_for_minutes(cluster, tmp_path):
    await run_scenario("webhook receiver down", cluster, tmp_path, webhook_receiver_down)
