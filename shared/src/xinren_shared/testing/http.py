"""Drive a service app in-process, lifespan included (relay, consumer, timers), over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from ..auth import mint_token


def _state_per_request(app: ASGIApp) -> ASGIApp:
    """ASGI servers give each request a shallow copy of the lifespan state; asgi-lifespan shares one dict."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = dict(scope, state=dict(scope["state"]))
        await app(scope, receive, send)

    return wrapped


@asynccontextmanager
async def serve(app: FastAPI, *, raise_app_exceptions: bool = False) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in this process, its lifespan run. With `raise_app_exceptions`, an error that leaves the app
    (even after its answer was sent, after which a server closes the connection) is raised in the caller."""
    async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager:
        transport = httpx.ASGITransport(app=_state_per_request(manager.app), raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            yield client


def bearer(secret: str, role: str, sub: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(secret, sub, role, **claims)}"}
