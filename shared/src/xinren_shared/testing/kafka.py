"""Kafka helpers for tests: publish events as another service would, and await events with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from ..events import Envelope, Event, logical, physical
from ..kafka import catalog_topics, ensure_topics, make_producer


async def publish_events(
    bootstrap: str, evts: list[Event | Envelope], *, source: str = "/xinren/test"
) -> list[Envelope]:
    producer = make_producer(bootstrap, "xinren-test-publisher")
    await producer.start()
    try:
        sent = []
        for item in evts:
            env = item if isinstance(item, Envelope) else Envelope.of(item, source)
            key, value, headers = env.to_kafka()
            await (await producer.send(physical(env.topic), value=value, key=key, headers=headers))
            sent.append(env)
        return sent
    finally:
        await producer.stop()


async def publish_raw(
    bootstrap: str, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = make_producer(bootstrap, "xinren-test-publisher")
    await producer.start()
    try:
        await (await producer.send(physical(topic), value=value, key=key, headers=headers))
    finally:
        await producer.stop()


class EventCollector:
    """Reads every partition of the given topics from the beginning, without a consumer group."""

    def __init__(self, bootstrap: str, topics: list[str] | None = None, partitions: int = 3):
        self.bootstrap = bootstrap
        self.topics = topics
        self.partitions = partitions
        self.records: list[Any] = []  # aiokafka ConsumerRecords
        self._parsed: list[Envelope | None] = []  # records[i] as an envelope (None: a dead letter or not a CloudEvent)
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        topics = self.topics or catalog_topics()
        await ensure_topics(self.bootstrap, topics, self.partitions)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await self._consumer.start()
        tps = []
        for topic in topics:
            parts = self._consumer.partitions_for_topic(topic)
            if not parts:
                await self._consumer._client.force_metadata_update()
                parts = self._consumer.partitions_for_topic(topic) or set()
            tps += [TopicPartition(topic, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            if batch:
                async with self._changed:
                    for records in batch.values():
                        self.records.extend(records)
                    self._changed.notify_all()

    def envelopes(self, predicate: Callable[[Envelope], bool] = lambda e: True) -> list[Envelope]:
        for r in self.records[len(self._parsed) :]:
            env = None
            if not r.topic.endswith(".dlq"):
                try:
                    env = Envelope.from_kafka(logical(r.topic), r.key, r.value, r.headers)
                except ValueError:
                    pass
            self._parsed.append(env)
        return [env for env in self._parsed if env is not None and predicate(env)]

    async def wait_for(
        self, predicate: Callable[[Envelope], bool], *, count: int = 1, timeout: float = 20.0
    ) -> list[Envelope]:
        """Awaits until `count` events match; fails with what was seen when the deadline passes."""

        async def _await() -> list[Envelope]:
            async with self._changed:
                while len(found := self.envelopes(predicate)) < count:
                    await self._changed.wait()
                return found

        try:
            return await asyncio.wait_for(_await(), timeout)
        except TimeoutError:
            seen = [(e.type, e.key) for e in self.envelopes()][-30:]
            raise AssertionError(f"expected {count} matching event(s) within {timeout}s; last seen: {seen}") from None

    def raw(self, topic: str) -> list[Any]:
        return [r for r in self.records if r.topic == physical(topic)]

    async def wait_for_raw(
        self, topic: str, predicate: Callable[[Any], bool], *, count: int = 1, timeout: float = 20.0
    ) -> list[Any]:
        async def _await() -> list[Any]:
            async with self._changed:
                while len(found := [r for r in self.raw(topic) if predicate(r)]) < count:
                    await self._changed.wait()
                return found

        try:
            return await asyncio.wait_for(_await(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"expected {count} matching record(s) on {topic} within {timeout}s; "
                f"have {sum(1 for r in self.raw(topic) if predicate(r))} matching of {len(self.raw(topic))}"
            ) from None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()
