"""Caller input the store would choke on is refused with a `ValidationError` naming it (issue 13, item 4).

`since` a few hours from the ends of the calendar overflowed when the store converted it to UTC, and a lone
surrogate (`"\\ud800"`, legal in JSON) could not be encoded for SQLite: both reached the server as 500s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from meterlocal import JobManager, ValidationError, arguments


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
        arguments.parse_since(since)


def test_since_is_given_in_utc() -> None:
    assert arguments.parse_since("2024-01-01T02:00:00+02:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert arguments.parse_since("9999-12-31T09:00:00-14:00") == datetime(9999, 12, 31, 23, tzinfo=UTC)


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


def test_names_are_stripped_and_must_not_be_blank() -> None:
    assert arguments.check_name("  Books ") == "Books"
    with pytest.raises(ValidationError, match="name must be a non-empty string"):
        arguments.check_name("   ")


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
