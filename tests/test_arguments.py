"""arguments: the one layer that checks what callers pass; its annotated types state each bound once.

Caller input the store would choke on is refused with a `ValidationError` naming it (issue 13, item 4): `since` a
few hours from the ends of the calendar overflowed when the store converted it to UTC, and a lone surrogate
(`"\\ud800"`, legal in JSON) could not be encoded for SQLite: both reached the server as 500s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from meterlocal import JobManager, ValidationError, arguments
from meterlocal.arguments import MAX_LIST_LIMIT, MAX_OFFSET, Count, Limit, Offset, Seconds

_NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


class Page(BaseModel):
    """A query model as a server or a CLI would declare it, from the same types."""

    limit: Limit = 20
    offset: Offset = 0
    history: Count | None = None
    timeout: Seconds | None = None


def test_the_bounds_reach_a_models_json_schema() -> None:
    properties = Page.model_json_schema()["properties"]
    assert (properties["limit"]["minimum"], properties["limit"]["maximum"]) == (1, MAX_LIST_LIMIT)
    assert (properties["offset"]["minimum"], properties["offset"]["maximum"]) == (0, MAX_OFFSET)
    assert properties["history"]["anyOf"][0]["minimum"] == 0


def test_a_model_parses_text_while_the_python_api_is_strict() -> None:
    assert Page.model_validate({"limit": "50", "offset": "3"}).limit == 50  # query strings are text
    with pytest.raises(ValidationError, match=r"^limit must be an integer from 1 to 1000, not '50'$"):
        arguments.check_page("50", 0)


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [
        (0, 0, "limit must be an integer from 1 to 1000, not 0"),
        (1001, 0, "limit must be an integer from 1 to 1000, not 1001"),
        (True, 0, "limit must be an integer from 1 to 1000, not True"),
        (2.0, 0, "limit must be an integer from 1 to 1000, not 2.0"),
        (20, -1, f"offset must be a non-negative integer up to {MAX_OFFSET}, not -1"),
        (20, MAX_OFFSET + 1, f"offset must be a non-negative integer up to {MAX_OFFSET}, not {MAX_OFFSET + 1}"),
        (20, None, f"offset must be a non-negative integer up to {MAX_OFFSET}, not None"),
    ],
)
def test_check_page_names_the_argument_and_its_bounds(limit: Any, offset: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        arguments.check_page(limit, offset)
    assert str(info.value) == message


def test_check_page_returns_what_it_accepts() -> None:
    assert arguments.check_page(1, 0) == (1, 0)
    assert arguments.check_page(MAX_LIST_LIMIT, MAX_OFFSET) == (MAX_LIST_LIMIT, MAX_OFFSET)


def test_check_count_takes_none_or_a_non_negative_integer() -> None:
    assert arguments.check_count(None, "limit") is None
    assert arguments.check_count(0, "limit") == 0
    with pytest.raises(ValidationError, match=r"^limit must be a non-negative integer up to \d+ or None, not '5'$"):
        arguments.check_count("5", "limit")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "5", True, [1]], ids=repr)
def test_check_timeout_refuses_what_is_not_a_finite_number_of_seconds(bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        arguments.check_timeout(bad)
    assert str(info.value) == f"timeout must be a number of seconds or None, not {bad!r}"


def test_check_timeout_accepts_numbers_and_none() -> None:
    assert arguments.check_timeout(None) is None
    assert arguments.check_timeout(5) == 5
    assert arguments.check_timeout(0.25) == 0.25


@pytest.mark.parametrize(
    ("url", "urls", "message"),
    [
        (None, None, "give exactly one of url (one page) or urls (a batch); neither was given"),
        ("http://a.test/", ["http://b.test/"], "give exactly one of url (one page) or urls (a batch); both were given"),
        (None, ["http://a.test/", 7], "urls[1] must be a non-empty URL string, not 7"),
    ],
)
def test_check_targets_wants_one_url_or_a_list_of_them(url: Any, urls: Any, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        arguments.check_targets(url, urls)
    assert str(info.value) == message


def test_check_targets_returns_the_checked_urls() -> None:
    assert arguments.check_targets(" http://a.test/ ", None) == ["http://a.test/"]
    assert arguments.check_targets(None, ["http://a.test/", "http://b.test/"]) == ["http://a.test/", "http://b.test/"]


def test_a_relative_since_counts_back_from_the_given_now() -> None:
    now = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert arguments.parse_since("24h", now=now) == now - timedelta(hours=24)
    assert arguments.parse_since("2025-01-01T00:00:00Z", now=now) == datetime(2025, 1, 1, tzinfo=UTC)


def test_names_and_documents() -> None:
    assert arguments.check_name("  Books ") == "Books"
    with pytest.raises(ValidationError, match="name must be a non-empty string"):
        arguments.check_name(" ")
    assert arguments.check_document({"fields": {"t": "title"}}) == {"fields": {"t": "title"}}
    with pytest.raises(ValidationError, match=r"strategy must be a JSON object \(a strategy document\), not list"):
        arguments.check_document([])


@pytest.mark.parametrize(
    "since",
    [
        "9999-12-31T23:00:00-14:00",
        "0001-01-01T00:00:00+14:00",
        datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-14))),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    ],
)
def test_since_beyond_the_calendar_in_utc_is_refused(since: str | datetime) -> None:
    with pytest.raises(ValidationError, match=r"^since .* is outside the years 1 to 9999 once converted to UTC"):
        arguments.parse_since(since, now=_NOW)


def test_since_is_given_in_utc() -> None:
    assert arguments.parse_since("2024-01-01T02:00:00+02:00", now=_NOW) == datetime(2024, 1, 1, tzinfo=UTC)
    assert arguments.parse_since("9999-12-31T09:00:00-14:00", now=_NOW) == datetime(9999, 12, 31, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (
            lambda: arguments.check_url("http://example.com/\ud800", "url"),
            r"^url 'http://example.com/\\ud800' contains",
        ),
        (lambda: arguments.check_urls(["http://example.com/", "http://\udfff.com/"]), r"^urls\[1\] 'http://"),
        (lambda: arguments.check_strategy_url("http://example.com/\ud800"), "^strategy url contains"),
        (
            lambda: arguments.check_id("abc\ud800", "job_id"),
            r"^job_id contains a lone surrogate \('\\ud800' at position 3\)",
        ),
        (lambda: arguments.check_name("Books \udc00"), "^name contains a lone surrogate"),
        (lambda: arguments.check_description("\udfff"), "^description contains a lone surrogate"),
    ],
    ids=["url", "urls", "strategy-url", "id", "name", "description"],
)
def test_lone_surrogates_are_refused(check: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check()  # type: ignore[operator]


async def test_the_manager_refuses_them_before_the_store_sees_them(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "store.db") as jm:
        with pytest.raises(ValidationError, match="lone surrogate"):
            await jm.get_job("\ud800")
        with pytest.raises(ValidationError, match="lone surrogate"):
            await jm.create_strategy("Books", {"fields": {"t": "p"}}, description="\ud800")
        strategy = await jm.create_strategy("Books", {"fields": {"t": "p"}})
        with pytest.raises(ValidationError, match="lone surrogate"):
            await jm.create_job(strategy.strategy_id, url="http://example.com/\ud800")
        with pytest.raises(ValidationError, match="outside the years 1 to 9999"):
            await jm.list_jobs(since="9999-12-31T23:00:00-14:00")
        assert await jm.list_jobs() == []
