"""Consumer-side Kafka gauges that need the broker: what waits in the dead-letter topics of a consumer's topics.

A dead letter stays in `<topic>.dlq` (Kafka keeps it); it counts as waiting until a replay (`xinren-dlq replay`,
which commits its progress as the group `xinren-dlq-replay-<consumer>` or `xinren-dlq-replay-all`) has moved past
it. A dead-letter topic is shared by every consumer of its topic, so the depth a consumer reports also counts the
letters of other consumers of the same topic that no replay has moved past: an upper bound, exact when one consumer
reads the topic, and 0 exactly when nothing waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from .events import dlq_topic, logical
from .metrics import DLQ_DEPTH

log = logging.getLogger("xinren.kafka_metrics")

REPLAY_GROUP = "xinren-dlq-replay"  # xinren_shared.dlq's default group prefix


class DeadLetterDepth:
    """Measures, for each topic a consumer reads, the dead letters not yet replayed (see the module's docstring)."""

    def __init__(self, *, service: str, consumer: str, topics: list[str], partitions: int, bootstrap_servers: str):
        self.service = service
        self.consumer = consumer
        self.topics = topics  # physical topic names
        self.partitions = partitions
        self.bootstrap_servers = bootstrap_servers

    async def measure(self, reader: AIOKafkaConsumer, admin: AIOKafkaAdminClient) -> dict[str, int]:
        """Returns and publishes the depth per (logical) topic."""
        tps = [TopicPartition(dlq_topic(t), p) for t in self.topics for p in range(self.partitions)]
        beginning = await reader.beginning_offsets(tps)
        end = await reader.end_offsets(tps)
        replayed: dict[TopicPartition, int] = {}
        for group in (f"{REPLAY_GROUP}-all", f"{REPLAY_GROUP}-{self.consumer}"):
            for tp, meta in (await admin.list_consumer_group_offsets(group, partitions=tps)).items():
                if meta is not None and meta.offset >= 0:
                    replayed[tp] = max(replayed.get(tp, 0), meta.offset)
        depths: dict[str, int] = {}
        for topic in self.topics:
            depth = 0
            for p in range(self.partitions):
                tp = TopicPartition(dlq_topic(topic), p)
                frontier = max(beginning.get(tp, 0), replayed.get(tp, 0))
                depth += max(0, end.get(tp, 0) - frontier)
            depths[logical(topic)] = depth
            DLQ_DEPTH.labels(self.service, self.consumer, logical(topic)).set(depth)
        return depths

    async def run(self, interval_seconds: float) -> None:
        """Measures every `interval_seconds` until cancelled; a failed measurement is logged and tried again."""
        reader: AIOKafkaConsumer | None = None
        admin: AIOKafkaAdminClient | None = None
        client_id = f"{self.service}-dlq-depth"
        try:
            while True:
                try:
                    if reader is None:
                        fresh = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, client_id=client_id)
                        try:
                            await fresh.start()
                        except Exception:
                            await _quietly(fresh.stop())
                            raise
                        reader = fresh
                    if admin is None:
                        fresh_admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=client_id)
                        try:
                            await fresh_admin.start()
                        except Exception:
                            await _quietly(fresh_admin.close())
                            raise
                        admin = fresh_admin
                    await self.measure(reader, admin)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("measuring the dead-letter depth of %s failed", self.consumer, exc_info=True)
                await asyncio.sleep(interval_seconds)
        finally:
            await _quietly(admin.close() if admin is not None else None)
            await _quietly(reader.stop() if reader is not None else None)


async def _quietly(closing: Awaitable[None] | None) -> None:
    if closing is None:
        return
    try:
        await asyncio.wait_for(closing, 10)
    except Exception:  # closing is best effort: the loop is ending anyway
        log.debug("closing a dead-letter depth client failed", exc_info=True)
