"""Dead-letter replay: puts dead letters back on their original topic, as they were, for the consumers to retry.

`xinren-dlq replay --topic xinren.orders.v1 [--consumer order]`. Every consumer of the topic sees the replayed
record again; those that handled it before skip it through their inbox.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from aiokafka import AIOKafkaConsumer, TopicPartition

from .consumer import DLQ_HEADERS
from .events import dlq_topic, physical
from .kafka import make_producer


async def replay_dead_letters(
    bootstrap_servers: str,
    topic: str,
    *,
    consumer: str | None = None,
    event_ids: set[str] | None = None,
    group_id: str = "xinren-dlq-replay",
) -> int:
    """Replays what the dead-letter topic of `topic` holds now; returns the count.

    Without `event_ids` the replay resumes where the last one (for the same consumer filter) stopped, so each dead
    letter goes back once. With `event_ids` it looks through the whole dead-letter topic for those events only and
    remembers nothing: a targeted retry, harmless to repeat since the consumers' inboxes skip what they handled.
    """
    source = physical(dlq_topic(topic))
    targeted = event_ids is not None
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None if targeted else f"{group_id}-{consumer or 'all'}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = make_producer(bootstrap_servers, "xinren-dlq-replay")
    await reader.start()
    await producer.start()
    replayed = 0
    try:
        partitions = [
            TopicPartition(source, p)
            for p in (reader.partitions_for_topic(source) or await _partitions(reader, source))
        ]
        reader.assign(partitions)
        end = await reader.end_offsets(partitions)
        for tp in partitions:
            committed = None if targeted else await reader.committed(tp)
            if committed is None:
                await reader.seek_to_beginning(tp)
            else:
                reader.seek(tp, committed)
        while [tp for tp in partitions if await reader.position(tp) < end[tp]]:
            batch = await reader.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    if record.offset >= end[tp]:
                        continue
                    headers = dict(record.headers or [])
                    wanted = consumer is None or headers.get("x-dlq-consumer", b"").decode() == consumer
                    if event_ids is not None:  # targeted
                        wanted = wanted and headers.get("ce_id", b"").decode() in event_ids
                    if wanted:
                        original = [(k, v) for k, v in record.headers if k not in DLQ_HEADERS]
                        await (
                            await producer.send(physical(topic), value=record.value, key=record.key, headers=original)
                        )
                        replayed += 1
                    if not targeted:
                        await reader.commit({tp: record.offset + 1})
    finally:
        await producer.stop()
        await reader.stop()
    return replayed


async def _partitions(reader: AIOKafkaConsumer, topic: str) -> set[int]:
    await reader._client.force_metadata_update()  # the topic may be new to this client
    return reader.partitions_for_topic(topic) or set()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Replay Xinren dead letters onto their original topic.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    replay = sub.add_parser("replay")
    replay.add_argument("--topic", required=True, help="the original topic, e.g. xinren.orders.v1")
    replay.add_argument("--consumer", help="only the dead letters of this consumer")
    replay.add_argument("--event-id", action="append", dest="event_ids", help="only this event (repeatable)")
    replay.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    args = parser.parse_args(argv)
    count = asyncio.run(
        replay_dead_letters(
            args.bootstrap,
            args.topic,
            consumer=args.consumer,
            event_ids=set(args.event_ids) if args.event_ids else None,
        )
    )
    print(f"replayed {count} dead letter(s) onto {args.topic}")


if __name__ == "__main__":
    main()
