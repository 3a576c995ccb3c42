"""Broken selectors are told at once: a container that matches nothing, a field that is null in every item."""

from __future__ import annotations

from meterlocal import compile_strategy
from support import BOOKS, BOOKS_PAGE, read_page


def run(document: dict[str, object]) -> list[str]:
    return compile_strategy(document).run(read_page(BOOKS_PAGE.lstrip("/"))).warnings


def test_a_working_strategy_has_no_warning() -> None:
    assert run(BOOKS) == []


def test_a_container_that_matches_nothing() -> None:
    warnings = run({**BOOKS, "container": "article.product-card"})
    assert warnings == [
        "The container selector 'article.product-card' matched nothing on the page, so there are no items; "
        "check it against the page (its markup may have changed)"
    ]


def test_a_field_that_is_null_in_every_item() -> None:
    fields = {**BOOKS["fields"], "rating": "span.stars", "tags": {"css": ".tag", "all": True}}  # type: ignore[dict-item]
    assert run({**BOOKS, "fields": fields}) == [
        "Field 'rating' is null in all 20 items; its selector may not match this page",
        "Field 'tags' is null in all 20 items; its selector may not match this page",
    ]


def test_a_default_or_a_value_in_some_items_is_not_a_warning() -> None:
    fields = {**BOOKS["fields"], "rating": {"css": "span.stars", "default": "none"}}  # type: ignore[dict-item]
    assert run({**BOOKS, "fields": fields}) == []


def test_an_api_field_that_is_null_in_every_item() -> None:
    strategy = compile_strategy(
        {"type": "api", "request": {"url": "https://x.test/api"}, "items": "data", "fields": {"a": "a", "b": "nope"}}
    )
    assert strategy.run('{"data": [{"a": 1}, {"a": 2}]}').warnings == [
        "Field 'b' is null in all 2 items; its selector may not match this page"
    ]


TABLE = """<table>
  <tr><th>Rank</th><th>Title</th><th>Directed by</th></tr>
  <tr><td>1</td><td>An Unearthly Child</td><td>Waris Hussein</td></tr>
  <tr><td>2</td><td>The Daleks</td><td>Christopher Barry</td></tr>
</table>"""


def test_a_column_header_that_is_not_in_the_table() -> None:
    strategy = {
        "container": "tr:has(> td)",
        "fields": {"rank": {"column": "rank"}, "title": {"column": "Name"}, "director": {"column": "directed"}},
    }
    warnings = compile_strategy(strategy).run(TABLE).warnings
    assert warnings == [
        "Field 'title' is null in all 2 items; its selector may not match this page",
        "Column 'name' is not a header of the table (its headers: 'rank', 'title', 'directed by'), so the fields "
        "that read it are null; check the `column` name against the table",
    ]
    found = {**strategy, "fields": {"rank": {"column": "rank"}, "director": {"column": "directed"}}}
    assert compile_strategy(found).run(TABLE).warnings == []  # a prefix of a header is a header
