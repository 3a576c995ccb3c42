"""What callers pass to a `JobManager`: checked and normalised, or refused with a `ValidationError` naming it.

This is the one layer that checks arguments; the store trusts what reaches it. Every check here guards something
the store or the fetcher would otherwise meet in a worse form: a URL that yarl would quietly rewrite, an id SQLite
cannot bind, a `since` span that overflows, settings that bypassed pydantic, text with a lone surrogate
(`"\\ud800"`, which JSON allows and UTF-8 cannot encode).

Numeric rules are annotated types (`Limit`, `Offset`, `Count`, `Seconds`): their bounds are stated once, checked
here (strictly: `"10"` is not a limit in Python) and reusable by any pydantic model, whose JSON Schema then carries
the same bounds. An error message says what the rule asks for, in words derived from its bounds (or description).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, TypeVar
from urllib.parse import urlsplit

import pydantic
from pydantic import ConfigDict, Field, TypeAdapter

from meterlocal.errors import StrategyError, ValidationError
from meterlocal.models import JobStatus
from meterlocal.settings import Settings

__all__ = [
    "MAX_BATCH_URLS",
    "MAX_LIST_LIMIT",
    "MAX_OFFSET",
    "UNSET",
    "Count",
    "Limit",
    "Offset",
    "Seconds",
    "Unset",
    "check_count",
    "check_description",
    "check_document",
    "check_id",
    "check_name",
    "check_page",
    "check_parameters",
    "check_settings",
    "check_strategy_url",
    "check_targets",
    "check_timeout",
    "check_url",
    "check_urls",
    "optional_object",
    "parse_since",
    "parse_status",
]

_T = TypeVar("_T")

MAX_BATCH_URLS = 100_000
MAX_LIST_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # SQLite binds an integer as a signed 64-bit value

Limit = Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT)]
"""How many records one list call returns."""
Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
"""How many records a list call skips."""
Count = Annotated[int, Field(ge=0, le=MAX_OFFSET)]
"""How many records at most, or none at all (`0`)."""
Seconds = Annotated[float, Field(allow_inf_nan=False, description="a number of seconds")]
"""A span of time; an infinite or NaN span would overflow later (`timedelta`, asyncio), far from its cause."""


class Unset(enum.Enum):
    """The default of an argument that may also be set to None: "leave it as it is"."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET

_RELATIVE_SINCE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_SINCE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _refuse_surrogates(text: str, where: str) -> None:
    """Refuse text SQLite, JSON and HTTP cannot carry: a lone surrogate code point has no UTF-8 encoding."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{where} contains a lone surrogate ({text[exc.start]!r} at position {exc.start}), which is not text"
        ) from None


def _rule(annotation: Any) -> TypeAdapter[Any]:
    # Strict: the Python API takes an int where it says int (not "10", not True); parsing text is the server's job.
    return TypeAdapter(annotation, config=ConfigDict(strict=True))


_LIMIT: TypeAdapter[int] = _rule(Limit)
_OFFSET: TypeAdapter[int] = _rule(Offset)
_COUNT: TypeAdapter[int | None] = _rule(Count | None)
_TIMEOUT: TypeAdapter[float | None] = _rule(Seconds | None)


def _checked(rule: TypeAdapter[_T], value: object, name: str) -> _T:
    try:
        return rule.validate_python(value)
    except pydantic.ValidationError:
        raise ValidationError(f"{name} must be {_described(rule.json_schema())}, not {value!r}") from None


def _described(schema: dict[str, Any]) -> str:
    """A JSON Schema in words: `an integer from 1 to 1000`, `a non-negative integer`, `... or None`."""
    if "anyOf" in schema:
        return " or ".join("None" if s.get("type") == "null" else _described(s) for s in schema["anyOf"])
    if "description" in schema:
        return str(schema["description"])
    kind = "integer" if schema.get("type") == "integer" else "number"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low == 0:
        return f"a non-negative {kind}" + ("" if high is None else f" up to {high}")
    article = "an" if kind == "integer" else "a"
    return f"{article} {kind}" + ("" if low is None or high is None else f" from {low} to {high}")


def check_url(url: Any, where: str, *, allow_file_urls: bool = False) -> str:
    """The URL a job will fetch, stripped; refuse what is not an absolute http(s) URL (file:// when allowed)."""
    if not isinstance(url, str) or not url.strip():
        raise ValidationError(f"{where} must be a non-empty URL string, not {url!r}")
    url = url.strip()
    _refuse_surrogates(url, f"{where} {url!r}")
    # yarl drops a newline or tab from the host ('http://exa\nmple.com/' fetched example.com) and percent-encodes
    # other control characters: refuse them rather than fetch something other than what the job says.
    control = next((c for c in url if c < " " or c == "\x7f"), None)
    if control is not None:
        raise ValidationError(f"{where} {url!r} contains the control character {control!r}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError as exc:  # urllib's bare ValueError: an unclosed IPv6 bracket, a bad IP literal or port
        raise ValidationError(f"{where} {url!r} is not a valid URL: {exc}") from None
    schemes = ("http", "https", "file") if allow_file_urls else ("http", "https")
    if not parts.scheme:
        raise ValidationError(f"{where} {url!r} is not an absolute URL; give it with http:// or https://")
    if parts.scheme.lower() not in schemes:
        allowed = " and ".join(schemes)
        hint = "" if allow_file_urls or parts.scheme != "file" else " (set allow_file_urls=True)"
        raise ValidationError(f"{where} {url!r} has scheme {parts.scheme!r}; only {allowed} URLs can be scraped{hint}")
    if parts.scheme.lower() != "file":
        if not host:
            raise ValidationError(f"{where} {url!r} has no host")
        if any(c.isspace() for c in host):
            raise ValidationError(f"{where} {url!r} has a space in its host name")
        try:  # what the resolver will do with the name: an empty, over-long or bad punycode label fails here
            host.encode("idna").decode("idna")
        except UnicodeError as exc:
            raise ValidationError(f"{where} {url!r}: {host!r} is not a valid host name ({exc})") from None
    return str(url)


def check_urls(urls: Any, *, allow_file_urls: bool = False) -> list[str]:
    """The URLs of a batch, each checked like `check_url`."""
    if isinstance(urls, str) or not isinstance(urls, Sequence):
        raise ValidationError("urls must be a list of URL strings")
    if not urls:
        raise ValidationError("urls must not be empty")
    if len(urls) > MAX_BATCH_URLS:
        raise ValidationError(f"a batch holds at most {MAX_BATCH_URLS} URLs, got {len(urls)}")
    return [check_url(u, f"urls[{i}]", allow_file_urls=allow_file_urls) for i, u in enumerate(urls)]


def check_targets(url: Any, urls: Any, *, allow_file_urls: bool = False) -> list[str]:
    """The URLs a `create_job` call queues: exactly one of `url` (one job) or `urls` (a batch), each checked."""
    if (url is None) == (urls is None):
        raise ValidationError(
            "give exactly one of url (one page) or urls (a batch)"
            + ("; both were given" if url is not None else "; neither was given")
        )
    if url is not None:
        return [check_url(url, "url", allow_file_urls=allow_file_urls)]
    return check_urls(urls, allow_file_urls=allow_file_urls)


def check_name(name: Any) -> str:
    """A strategy's name, stripped; it must say something (in text UTF-8 can encode)."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name must be a non-empty string")
    _refuse_surrogates(name, "name")
    return name.strip()


def check_document(document: Any) -> dict[str, Any]:
    """A strategy document: an object (what it says is checked when the strategy compiles)."""
    if not isinstance(document, Mapping):
        raise ValidationError(f"strategy must be a JSON object (a strategy document), not {type(document).__name__}")
    return dict(document)


def check_strategy_url(url: Any) -> str | None:
    if url is None or url == "":
        return None
    if isinstance(url, str):
        _refuse_surrogates(url, "strategy url")
    try:
        valid = isinstance(url, str) and urlsplit(url).scheme in ("http", "https", "file")
    except ValueError:  # an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise ValidationError(f"strategy url must be an absolute http(s) URL, not {url!r}")
    return str(url)


def check_settings(settings: Any) -> Settings:
    if settings is None:
        return Settings()
    if not isinstance(settings, Settings):
        raise ValidationError(
            f"settings must be a meterlocal.Settings, not {type(settings).__name__}; write Settings(**values)"
        )
    # model_copy(update=...) does not validate, so Settings(concurrency=0) made that way would start no job ever.
    return type(settings)(**settings.model_dump())


def check_id(value: Any, name: str) -> str:
    # An id is text; anything else would reach SQLite as a parameter it cannot bind (a list) or match (a number).
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, not {type(value).__name__}")
    _refuse_surrogates(value, name)
    return value


def check_description(description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise ValidationError(f"description must be a string, not {type(description).__name__}")
    _refuse_surrogates(description, "description")
    return description


def optional_object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise StrategyError(f"{name} must be an object (a JSON document), not {type(value).__name__}")
    return dict(value)


def check_parameters(parameters: Any) -> Mapping[str, Any] | None:
    """A job's API parameters: an object, or None."""
    if parameters is not None and not isinstance(parameters, Mapping):
        raise ValidationError(f"parameters must be an object, not {type(parameters).__name__}")
    return parameters


def check_timeout(timeout: Any) -> float | None:
    """A wait's `timeout`: `Seconds` or None (wait for ever)."""
    return _checked(_TIMEOUT, timeout, "timeout")


def check_page(limit: Any, offset: Any) -> tuple[int, int]:
    """A list call's `limit` and `offset`."""
    return _checked(_LIMIT, limit, "limit"), _checked(_OFFSET, offset, "offset")


def check_count(count: Any, name: str) -> int | None:
    """A `Count` or None (no bound)."""
    return _checked(_COUNT, count, name)


def parse_status(status: JobStatus | str | None) -> JobStatus | None:
    if status is None or isinstance(status, JobStatus):
        return status
    try:
        return JobStatus(str(status).lower())
    except ValueError:
        allowed = ", ".join(s.value for s in JobStatus)
        raise ValidationError(f"status must be one of {allowed}, not {status!r}") from None


def parse_since(since: datetime | str | None, *, now: datetime) -> datetime | None:
    """`since` as an aware datetime: a datetime, an ISO-8601 time, or a span back from `now` ("24h", "7d")."""
    if since is None:
        return None
    if isinstance(since, datetime):
        if since.tzinfo is None:
            raise ValidationError("since must be timezone-aware (for instance datetime.now(UTC))")
        return _in_utc(since, repr(since))
    if not isinstance(since, str) or not since.strip():
        raise ValidationError(f"since must be an ISO-8601 time or a span like '24h' or '7d', not {since!r}")
    relative = _RELATIVE_SINCE.match(since)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        try:
            return now - timedelta(**{_SINCE_UNITS[unit]: amount})
        except OverflowError:  # "99999999d" reaches before year 1
            raise ValidationError(f"since {since!r} reaches too far back; give a smaller span") from None
    try:
        parsed = datetime.fromisoformat(since.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"since must be an ISO-8601 time or a span like '24h' or '7d', not {since!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _in_utc(parsed, repr(since))


def _in_utc(moment: datetime, shown: str) -> datetime:
    # The store compares in UTC: 9999-12-31T23:00-14:00 is past year 9999 there, 0001-01-01T00:00+14:00 before 1.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValidationError(f"since {shown} is outside the years 1 to 9999 once converted to UTC") from None
