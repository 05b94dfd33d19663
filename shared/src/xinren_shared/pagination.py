"""Keyset pagination for list endpoints: `limit` (1..200, default 50) and an opaque, signed `cursor`.

A cursor is the position after the last row of a page, signed with a key derived from the service's secret, so a
cursor this API did not give out (forged, edited, or from another service) is a 400 INVALID_CURSOR, never a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import DomainError

T = TypeVar("T")
R = TypeVar("R")

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]

# The signing key of this request's service (set by the app for every request; see use_cursor_secret).
_cursor_key: ContextVar[bytes] = ContextVar("xinren_cursor_key", default=b"xinren-cursor-unconfigured")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(DomainError):
    status, code = 400, "INVALID_CURSOR"


def cursor_key_for(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"xinren.pagination.cursor", hashlib.sha256).digest()


def use_cursor_key(key: bytes) -> object:
    """Signs and checks this context's cursors with `key`; returns a token for reset_cursor_key."""
    return _cursor_key.set(key)


def reset_cursor_key(token: object) -> None:
    _cursor_key.reset(token)  # type: ignore[arg-type]  # the token use_cursor_key returned


def _mac(payload: bytes) -> bytes:
    return hmac.new(_cursor_key.get(), payload, hashlib.sha256).digest()[:12]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_cursor(*values: Any) -> str:
    """The position after the last item of a page, e.g. encode_cursor(created_at, id)."""
    payload = json.dumps([_plain(v) for v in values], separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload))}"


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    refused = InvalidCursor("the cursor is not one this API gave out")
    body, _, mac = cursor.partition(".")
    try:
        payload, given = _unb64(body), _unb64(mac)
        if not hmac.compare_digest(given, _mac(payload)):
            raise refused
        values = json.loads(payload)
    except ValueError as exc:
        raise refused from exc
    if not isinstance(values, list) or len(values) != arity:
        raise refused
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a cursor cannot hold {type(value).__name__}")


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return datetime.fromisoformat(value["t"])
    return value


async def keyset_page(
    session: AsyncSession,
    stmt: Select[R],
    columns: Sequence[Any],  # mapped attributes (SQLModel's column attributes type as their values)
    cursor: str | None,
    limit: int,
    *,
    descending: bool = False,
) -> tuple[list[R], str | None]:
    """One page of `stmt` (a select of one entity) ordered by `columns` (unique together, e.g. created_at and the
    id), starting after `cursor`; returns the rows and the next page's cursor (None on the last page)."""
    if cursor is not None:
        values = [_typed(v) for v in decode_cursor(cursor, len(columns))]
        position = tuple_(*columns)
        stmt = stmt.where(position < tuple_(*values) if descending else position > tuple_(*values))
    order = [c.desc() for c in columns] if descending else list(columns)
    rows = list((await session.execute(stmt.order_by(*order).limit(limit + 1))).scalars())
    page = rows[:limit]
    if len(rows) <= limit:
        return page, None
    last = page[-1]
    return page, encode_cursor(*(getattr(last, c.key) for c in columns))
