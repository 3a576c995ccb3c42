"""merge_query: the one way parameters join a query, for API strategies and fetchers alike."""

from __future__ import annotations

import pytest

from meterlocal.urls import merge_query


@pytest.mark.parametrize(
    ("url", "params", "expected"),
    [
        ("https://x.test/a", {"page": 2, "q": "a b"}, "https://x.test/a?page=2&q=a+b"),
        # a parameter replaces every same-named one and goes last; the other keys keep their order
        ("https://x.test/a?page=9&extra=1&page=8", {"page": 1}, "https://x.test/a?extra=1&page=1"),
        ("https://x.test/a?on=1", {"on": True, "off": False}, "https://x.test/a?on=true&off=false"),
        ("https://x.test/a", {"tags": ["a", "b"], "t": ("c",)}, "https://x.test/a?tags=a&tags=b&t=c"),
        ("https://x.test/a?skip=1&keep=2", {"skip": None}, "https://x.test/a?keep=2"),
        ("https://x.test/a?q=%3A", {}, "https://x.test/a?q=%3A"),  # nothing to merge: the URL as it was
        ("https://x.test/a?q=%3A", None, "https://x.test/a?q=%3A"),
    ],
)
def test_merge_query(url: str, params: dict[str, object] | None, expected: str) -> None:
    assert merge_query(url, params) == expected


def test_a_url_that_cannot_take_a_query_raises_value_error() -> None:
    with pytest.raises((ValueError, TypeError)):
        merge_query("http://[::1", {"a": 1})
