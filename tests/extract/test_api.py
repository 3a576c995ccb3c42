"""JSON-API strategies on real saved API responses: items, fields, parameters, and the errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from meterlocal.errors import ExtractionError, StrategyError, ValidationError
from meterlocal.extract import ApiStrategy, compile_strategy, extract

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "pages"
CORPUS = Path("/work/shared/corpus")


def saved(relative: str) -> bytes:
    path = PAGES / relative
    return path.read_bytes()


REDDIT = {
    "type": "api",
    "request": {"url": "https://oauth.reddit.com/hot", "params": {"limit": 100, "raw_json": 1}},
    "items": "data.children[].data",
    "fields": {"title": "title", "score": "score", "author": "author", "comments": "num_comments"},
}
GITHUB = {
    "type": "api",
    "request": {
        "url": "https://api.github.com/search/repositories",
        "headers": {"Accept": "application/vnd.github+json"},
        "params": {"q": "github language:Python", "sort": "stars", "order": "desc", "page": 1},
    },
    "items": "items",
    "fields": {"name": "full_name", "stars": "stargazers_count", "owner": "owner.login", "lang": "language"},
}


def test_reddit_listing_items_and_fields() -> None:
    items = extract(REDDIT, saved("reddit_api/front_hot_2016-03-01.json"))
    assert len(items) == 100
    assert items[0] == {
        "title": "My game cam finally caught something cool.",
        "score": 6710,
        "author": "elfmachine100",
        "comments": 1022,
    }


def test_github_search_nested_field_paths() -> None:
    items = extract(GITHUB, saved("github_api/search_repositories_p1_2014-03-03.json"))
    assert len(items) == 30
    assert items[0] == {
        "name": "kennethreitz/legit",
        "stars": 3036,
        "owner": "kennethreitz",
        "lang": "Python",
    }


def test_without_fields_each_item_is_kept_whole() -> None:
    items = extract(
        {"type": "api", "request": {"url": "https://x.test/a"}, "items": "items"}, b'{"items": [{"a": 1}, 2]}'
    )
    assert items == [{"a": 1}, {"value": 2}]


def test_without_items_the_response_must_be_the_list() -> None:
    strategy = {"type": "api", "request": {"url": "https://x.test/a"}, "fields": {"a": "a"}}
    assert extract(strategy, b'[{"a": 1}, {"a": 2}, {}]') == [{"a": 1}, {"a": 2}, {"a": None}]
    with pytest.raises(ExtractionError, match="is an object, not a list; set 'items'"):
        extract(strategy, b'{"a": 1}')


@pytest.mark.parametrize(
    ("body", "content_type", "needle"),
    [
        (
            b"<html><body>blocked</body></html>",
            "text/html",
            "Expected JSON from https://x.test/a, got text/html",
        ),
        (b'{"items": [1, 2', "application/json", "Invalid JSON from https://x.test/a"),
        (b"", "application/json", "got an empty body"),
        (b'{"items": {"a": 1}}', "application/json", "selected an object, not a list"),
        (b'{"other": []}', "application/json", "matched nothing"),
    ],
)
def test_responses_that_are_not_usable_json(body: bytes, content_type: str, needle: str) -> None:
    strategy = {"type": "api", "request": {"url": "https://x.test/a"}, "items": "items"}
    with pytest.raises(ExtractionError) as info:
        extract(strategy, body, "https://x.test/a", content_type=content_type)
    assert needle in str(info.value)


def test_request_merges_parameters_into_the_final_url() -> None:
    compiled = compile_strategy(GITHUB)
    assert isinstance(compiled, ApiStrategy)
    assert compiled.parameters == {"q": "github language:Python", "sort": "stars", "order": "desc", "page": 1}
    request = compiled.request_for(None, {"page": 2})
    # yarl's query encoding (the one the fetchers use too): ':' is legal in a query and stays as it is.
    assert request.url == (
        "https://api.github.com/search/repositories?q=github+language:Python&sort=stars&order=desc&page=2"
    )
    assert request.parameters["page"] == 2
    assert request.headers == {"Accept": "application/vnd.github+json"}
    # The job's url replaces request.url; its own query keys survive unless a parameter overrides them.
    other = compiled.request_for("https://mirror.test/search?page=9&extra=1", None)
    assert other.url == ("https://mirror.test/search?extra=1&q=github+language:Python&sort=stars&order=desc&page=1")


def test_post_body_parameters() -> None:
    compiled = compile_strategy(
        {
            "type": "api",
            "request": {"url": "https://x.test/q", "method": "POST", "json": {"page": 1, "size": 20}},
        }
    )
    assert isinstance(compiled, ApiStrategy)
    request = compiled.request_for(None, {"size": 50})
    assert (request.method, request.json, request.url) == (
        "POST",
        {"page": 1, "size": 50},
        "https://x.test/q",
    )


def test_unknown_parameter_is_refused_naming_it_and_the_declared_ones() -> None:
    compiled = compile_strategy(GITHUB)
    assert isinstance(compiled, ApiStrategy)
    with pytest.raises(ValidationError) as info:
        compiled.request_for(None, {"pagee": 2})
    assert "'pagee'" in str(info.value)
    assert "declared parameters: order, page, q, sort" in str(info.value)


@pytest.mark.parametrize(
    ("strategy", "needle"),
    [
        ({"type": "api"}, "needs a 'request' object"),
        ({"type": "api", "request": {"url": "ftp://x"}}, "absolute http(s) URL"),
        ({"type": "api", "request": {"url": "https://x.test", "method": "PUT"}}, "GET or POST"),
        ({"type": "api", "request": {"url": "https://x.test", "json": {"a": 1}}}, "needs method POST"),
        ({"type": "api", "request": {"url": "https://x.test", "body": {}}}, "unknown request key(s) 'body'"),
        ({"type": "api", "request": {"url": "https://x.test"}, "items": "data.["}, "not valid JMESPath"),
        ({"type": "api", "request": {"url": "https://x.test"}, "fields": {"a": "b[?"}}, "field 'a'"),
        ({"type": "api", "request": {"url": "https://x.test"}, "fields": {}}, "non-empty object"),
        (
            {"type": "api", "request": {"url": "https://x.test"}, "container": "div"},
            "unknown strategy key(s)",
        ),
        ({"type": "api", "request": {"url": "https://x.test", "params": {"a": [1]}}}, "request.params['a']"),
    ],
)
def test_invalid_api_strategies(strategy: dict[str, Any], needle: str) -> None:
    with pytest.raises(StrategyError) as info:
        compile_strategy(strategy)
    assert needle in str(info.value)
