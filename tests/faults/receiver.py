"""A partner's webhook receiver on loopback that can be taken down and brought back on the same port."""

from __future__ import annotations

import asyncio
import json

import uvicorn
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xinren_shared.testing.infra import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.secret: str | None = None
        self.arrivals: list[str] = []  # event ids (webhook-id), in the order they arrived, redeliveries included
        self.bad_signatures = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers)) if self.secret else json.loads(body)
        except Exception:  # a wrong signature: counted, and answered as a partner would
            self.bad_signatures += 1
            return Response(status_code=400)
        self.arrivals.append(payload["id"])
        return Response(status_code=204)

    def first_arrivals(self) -> dict[str, int]:
        """Event id -> the position of its first arrival."""
        first: dict[str, int] = {}
        for i, event_id in enumerate(self.arrivals):
            first.setdefault(event_id, i)
        return first

    @property
    def redeliveries(self) -> int:
        return len(self.arrivals) - len(set(self.arrivals))

    async def up(self) -> None:
        app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # the port could not be bound: say why
            await asyncio.sleep(0.05)

    async def down(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
