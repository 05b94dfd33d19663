"""Test helpers for notify: a real uvicorn server in the test's event loop, a scriptable webhook receiver on
loopback, an SSE reader, and a deadline-bound poll."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xinren_shared.kafka import ensure_topics
from xinren_shared.testing.infra import free_port


class LiveServer:
    """Runs an ASGI app under a real uvicorn server on a free loopback port (so responses really stream)."""

    def __init__(self, app: Any, *, lifespan: str = "on"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan=lifespan, log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> LiveServer:
        self.task = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + 120
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("uvicorn stopped before it started")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start within 120 s")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await asyncio.wait_for(self.task, 30)


async def eventually(
    check: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Polls `check` until it returns something truthy; fails with the last value after the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)


async def start_group_at_end(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commits the group's offsets at the current end of the topics: the shared broker holds other developers'
    history, which a fresh group would otherwise read from the beginning."""
    await ensure_topics(bootstrap, topics, 3)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in parts]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        await consumer.commit(end)
    finally:
        await consumer.stop()


# ---------------------------------------------------------------------------------------------------------------
# Webhook receiver


@dataclass
class Call:
    name: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int | None  # what the receiver answered (None: never answered)

    @property
    def type(self) -> str:
        return json.loads(self.body)["type"]

    @property
    def subject(self) -> str | None:
        return json.loads(self.body).get("subject")


Behaviour = Callable[[int, Call], Awaitable[int | None]]


def fail_times(n: int, status: int = 500) -> Behaviour:
    """Answers `status` to the first n calls (per receiver name), then 200."""

    async def behave(index: int, call: Call) -> int:
        return status if index < n else 200

    return behave


def ok() -> Behaviour:
    async def behave(index: int, call: Call) -> int:
        return 200

    return behave


@dataclass
class Receiver:
    """One Starlette app on loopback; each test uses its own path name and behaviour."""

    calls: list[Call] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            name = request.path_params["name"]
            call = Call(
                name, {k.lower(): v for k, v in request.headers.items()}, await request.body(), time.monotonic(), None
            )
            index = self.counts.get(name, 0)
            self.counts[name] = index + 1
            behaviour = self.behaviours.get(name, ok())
            self.calls.append(call)
            status = await behaviour(index, call)
            call.status = status
            return Response(status_code=status or 200)

        return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])

    def hang_until_released(self) -> Behaviour:
        """Never answers (until the test releases it, so the server can stop)."""

        async def behave(index: int, call: Call) -> int | None:
            await self.release.wait()
            return None

        return behave

    def url(self, name: str, behaviour: Behaviour | None = None) -> str:
        if behaviour is not None:
            self.behaviours[name] = behaviour
        return f"{self.base_url}/hooks/{name}"

    def of(self, name: str, predicate: Callable[[Call], bool] = lambda c: True) -> list[Call]:
        return [c for c in self.calls if c.name == name and predicate(c)]

    async def wait_for(
        self, name: str, predicate: Callable[[Call], bool] = lambda c: True, *, count: int = 1, timeout: float = 15.0
    ) -> list[Call]:
        async def check():
            found = self.of(name, predicate)
            return found if len(found) >= count else None

        return await eventually(check, timeout=timeout, what=f"{count} call(s) to /hooks/{name}")


# ---------------------------------------------------------------------------------------------------------------
# SSE


@dataclass
class SseEvent:
    id: str | None
    event: str | None
    data: str
    received_at: float


async def sse_events(response: httpx.Response) -> AsyncIterator[SseEvent]:
    """Parses a text/event-stream response into events (comments and pings skipped)."""
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields or "id" in fields:
                yield SseEvent(
                    id=fields.get("id", [None])[-1],
                    event=fields.get("event", [None])[-1],
                    data="\n".join(fields.get("data", [])),
                    received_at=time.monotonic(),
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
