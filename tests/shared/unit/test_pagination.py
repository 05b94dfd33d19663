import pytest

from xinren_shared.pagination import InvalidCursor, decode_cursor, encode_cursor


def test_cursor_round_trips():
    assert decode_cursor(encode_cursor("2026-11-20T08:00:00+00:00", "ord_1"), 2) == [
        "2026-11-20T08:00:00+00:00",
        "ord_1",
    ]


@pytest.mark.parametrize("bad", ["!!!", "bm90IGpzb24", encode_cursor("only-one"), encode_cursor({"a": 1})])
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(InvalidCursor):
        decode_cursor(bad, 2)
