import base64
import json
from datetime import UTC, datetime

import pytest

from xinren_shared.pagination import (
    InvalidCursor,
    cursor_key_for,
    decode_cursor,
    encode_cursor,
    reset_cursor_key,
    use_cursor_key,
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_cursor_round_trips():
    at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert decode_cursor(encode_cursor("2026-11-20T08:00:00+00:00", "ord_1"), 2) == [
        "2026-11-20T08:00:00+00:00",
        "ord_1",
    ]
    assert decode_cursor(encode_cursor(at, 7), 2) == [{"t": at.isoformat()}, 7]


def _forged(values) -> str:
    """Well-formed: the shape the API gives out, with a made-up signature."""
    return f"{_b64(json.dumps(values).encode())}.{_b64(b'0' * 12)}"


def _edited() -> str:
    body, _, mac = encode_cursor("ord_1").partition(".")
    return f"{_b64(json.dumps(['ord_2']).encode())}.{mac}"


@pytest.mark.parametrize(
    "bad",
    ["!!!", "bm90IGpzb24", encode_cursor("only-one"), _forged(["2026-11-20T08:00:00+00:00", "ord_1"]), ""],
)
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(InvalidCursor):
        decode_cursor(bad, 2)


def test_an_edited_cursor_is_refused():
    with pytest.raises(InvalidCursor):
        decode_cursor(_edited(), 1)


def test_a_cursor_of_another_service_key_is_refused():
    token = use_cursor_key(cursor_key_for("one secret of thirty-two characters!"))
    try:
        cursor = encode_cursor("ord_1")
    finally:
        reset_cursor_key(token)
    token = use_cursor_key(cursor_key_for("another secret of thirty-two chars!!"))
    try:
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, 1)
    finally:
        reset_cursor_key(token)
