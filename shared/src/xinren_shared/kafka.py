"""Kafka clients: an idempotent producer, topic creation, and a metadata probe for /readyz."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from . import events

log = logging.getLogger("xinren.kafka")


def make_producer(bootstrap_servers: str, client_id: str) -> AIOKafkaProducer:
    # Idempotence with acks=all: broker-side dedupe of retried batches and per-partition order. No linger: the relay
    # sends a whole claimed batch before it awaits the first acknowledgement, so its records share requests anyway,
    # and a linger would only delay every hop of every event by as much.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=0,
        request_timeout_ms=15_000,
    )


def catalog_topics() -> list[str]:
    import xinren_shared.contracts  # noqa: F401  (registers the catalog)

    own = events.topics()
    return [events.physical(t) for t in own + [events.dlq_topic(t) for t in own]]


async def ensure_topics(
    bootstrap_servers: str,
    topics: list[str],
    partitions: int,
    *,
    replication_factor: int = 1,
    min_insync_replicas: int = 1,
) -> None:
    """Create the topics that do not exist yet, with the replication said explicitly; a topic that exists keeps
    its settings."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="xinren-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        try:
            config = {"min.insync.replicas": str(min_insync_replicas)}
            await admin.create_topics(
                [
                    NewTopic(t, num_partitions=partitions, replication_factor=replication_factor, topic_configs=config)
                    for t in missing
                ]
            )
        except TopicAlreadyExistsError:
            pass  # another replica created it first
        # Creation is asynchronous in the controller; wait until the broker lists them so subscribers see them.
        for _ in range(100):
            if set(missing) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.1)
        log.warning("topics not visible yet after creation: %s", missing)
    finally:
        await admin.close()


async def kafka_reachable(producer: AIOKafkaProducer, timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
        return True
    except Exception:  # any failure means "not ready"; /readyz reports, never raises
        return False
