"""Times in requests are ISO 8601 with a time zone, never Unix numbers."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from xinren_shared.fields import IsoDatetime

ADAPTER = TypeAdapter(IsoDatetime)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-11-30T08:00:00Z", datetime(2026, 11, 30, 8, tzinfo=UTC)),
        ("2026-11-30T16:00:00+08:00", datetime(2026, 11, 30, 16, tzinfo=timezone(timedelta(hours=8)))),
    ],
)
def test_iso_times_with_a_zone_are_read(text, expected):
    assert ADAPTER.validate_python(text) == expected


@pytest.mark.parametrize("value", ["0.5", "1700000000", 1700000000, 0.5, "2026-11-30T08:00:00", "yesterday", ""])
def test_numbers_naive_times_and_words_are_refused(value):
    with pytest.raises(ValidationError):
        ADAPTER.validate_python(value)
