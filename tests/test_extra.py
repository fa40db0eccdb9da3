from __future__ import annotations

import pytest

from tickwork._extra import parse_extra


@pytest.mark.parametrize(
    ("extra", "payload"),
    [
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("42", 42),
        ("key=value", {"key": "value"}),
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ("a=1\nb=2;c=3\n\n", {"a": "1", "b": "2", "c": "3"}),
        ("url=http://x/?q=1", {"url": "http://x/?q=1"}),  # the first '=' separates
        ("  spaced  =  out  ", {"spaced": "out"}),
        ("a=", {"a": ""}),
        ("just text", "just text"),
        ("a=1; junk", "a=1; junk"),
        ("=nokey", "=nokey"),
        ("{not json", "{not json"),
        ("", ""),
        (None, None),
        ({"already": "parsed"}, {"already": "parsed"}),
    ],
)
def test_parse_extra(extra: object, payload: object) -> None:
    assert parse_extra(extra) == payload
