"""Identifiers and the clock: one way to make an id and to read the time, in every service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id(prefix: str) -> str:
    """An id such as `ord_3f2c…`: the prefix names the entity, 32 hex characters make it unique."""
    return f"{prefix}_{uuid.uuid4().hex}"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (the database stores timestamptz)."""
    return datetime.now(UTC)
