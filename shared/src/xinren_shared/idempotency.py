"""Idempotency-Key for POSTs (API.md): same key and body → the first response again; same key with another
body → 422; the same key still in flight → 409. Keys are scoped to the caller (JWT subject).

A pure ASGI middleware: it records the key before the request runs, and the response after. A key whose
request died in flight is taken over once its lease runs out. Server errors free the key for a retry.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import Table, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .auth import decode_token
from .errors import DomainError, error_response

HEADER = b"idempotency-key"
MAX_KEY_LENGTH = 200


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = headers.get(HEADER)
        state = scope["app"].state
        principal = _principal(state.settings.jwt_secret, headers.get(b"authorization", b""))
        if key is None or principal is None:
            await self.app(scope, receive, send)
            return
        key_text = key.decode("latin-1").strip()
        if not key_text or len(key_text) > MAX_KEY_LENGTH:
            await error_response(
                400, "BAD_IDEMPOTENCY_KEY", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters"
            )(scope, receive, send)
            return

        body = await _read_body(receive)
        scope_name = f"{scope['method']} {scope['path']}"
        digest = hashlib.sha256(scope_name.encode() + b"\n" + body).hexdigest()
        runtime = state.runtime
        table: Table = runtime.tables.idempotency
        lease = timedelta(seconds=state.settings.idempotency_lease_seconds)

        verdict = await _claim(runtime.session_factory, table, principal, key_text, scope_name, digest, lease)
        if verdict is not None:
            await verdict(scope, receive, send)
            return

        captured: dict = {"status": 500, "headers": [], "body": bytearray()}

        async def replay_receive() -> Message:
            nonlocal body
            chunk, body = body, b""
            return {"type": "http.request", "body": chunk, "more_body": False}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = message.get("headers", [])
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await _forget(runtime.session_factory, table, principal, key_text)
            raise
        if captured["status"] >= 500:
            await _forget(runtime.session_factory, table, principal, key_text)
            return
        content_type = next(
            (v.decode() for k, v in captured["headers"] if k.lower() == b"content-type"), "application/json"
        )
        async with runtime.session_factory() as session, session.begin():
            await session.execute(
                update(table)
                .where(and_(table.c.principal == principal, table.c.key == key_text))
                .values(
                    state="DONE",
                    response_status=captured["status"],
                    response_headers={"content-type": content_type},
                    response_body=bytes(captured["body"]),
                    locked_until=None,
                )
            )


def _principal(secret: str, authorization: bytes) -> str | None:
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        p = decode_token(secret, token.strip())
    except DomainError:
        return None  # the route answers 401 itself
    # The whole identity: the same user id acting for another shop or warehouse is another caller.
    identity = "\x1f".join([str(p.role), p.sub, p.shop_id or "", p.warehouse_id or ""])
    return hashlib.sha256(identity.encode()).hexdigest()


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _claim(factory, table: Table, principal: str, key: str, scope_name: str, digest: str, lease: timedelta):
    """Returns None when this request owns the key now, or the response to give instead."""
    now = datetime.now(UTC)
    async with factory() as session, session.begin():
        inserted = await session.execute(
            insert(table)
            .values(
                principal=principal,
                key=key,
                scope=scope_name,
                request_hash=digest,
                state="IN_FLIGHT",
                locked_until=now + lease,
            )
            .on_conflict_do_nothing(index_elements=["principal", "key"])
            .returning(table.c.key)
        )
        if inserted.first() is not None:
            return None
        row = (
            await session.execute(
                select(table).where(and_(table.c.principal == principal, table.c.key == key)).with_for_update()
            )
        ).one()
        if row.request_hash != digest:
            return error_response(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with another request",
                {"first_request": row.scope},
            )
        if row.state == "DONE":
            headers = dict(row.response_headers or {})
            headers["idempotent-replayed"] = "true"
            return _RawResponse(row.response_status, headers, row.response_body or b"")
        if row.locked_until is not None and row.locked_until > now:
            return error_response(
                409, "IDEMPOTENCY_KEY_IN_FLIGHT", "a request with this Idempotency-Key is still in progress"
            )
        # The first request died without an answer: this one takes the key over.
        await session.execute(
            update(table)
            .where(and_(table.c.principal == principal, table.c.key == key))
            .values(locked_until=now + lease)
        )
        return None


async def _forget(factory, table: Table, principal: str, key: str) -> None:
    async with factory() as session, session.begin():
        await session.execute(delete(table).where(and_(table.c.principal == principal, table.c.key == key)))


class _RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(k.encode(), v.encode()) for k, v in self.headers.items()]
        raw.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})
