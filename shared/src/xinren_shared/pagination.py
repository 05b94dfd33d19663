"""Keyset pagination for list endpoints: `limit` (1..200, default 50) and an opaque `cursor`."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from .errors import DomainError

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Cursor = Annotated[str | None, Query(max_length=500, description="next_cursor of the previous page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(DomainError):
    status, code = 400, "INVALID_CURSOR"


def encode_cursor(*values: Any) -> str:
    """The position after the last item of a page, e.g. encode_cursor(created_at.isoformat(), id)."""
    raw = json.dumps(list(values), separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise InvalidCursor("the cursor is not one this API gave out") from exc
    if not isinstance(values, list) or len(values) != arity:
        raise InvalidCursor("the cursor is not one this API gave out")
    return values
