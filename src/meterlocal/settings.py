"""Every limit and knob of a `JobManager`, with its default. Pass `Settings(...)` to change any of them.

The defaults are the documented resource limits (README, "Limits"): each bounds time, bytes, concurrency or retries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from meterlocal.errors import ValidationError

__all__ = ["DEFAULT_USER_AGENT", "Settings"]

DEFAULT_USER_AGENT = "meterlocal/0.1 (+https://pypi.org/project/meterlocal/)"


class Settings(BaseModel):
    """Limits and behaviour of one `JobManager` (frozen; make a new one with `model_copy(update=...)`).

    A bad value raises `meterlocal.ValidationError` naming the field; `model_copy` does not validate, so the
    manager validates the settings it is given again.
    """

    # allow_inf_nan: an infinite timeout or lease overflowed later (timedelta, aiohttp), far from its cause.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    if not TYPE_CHECKING:  # at run time only, so type checkers keep pydantic's typed __init__

        def __init__(self, **values: Any) -> None:
            # One error tree for callers: a bad limit is a meterlocal.ValidationError (a ValueError, like pydantic's).
            try:
                super().__init__(**values)
            except pydantic.ValidationError as exc:
                raise ValidationError(_describe(exc)) from exc

    # Concurrency
    concurrency: int = Field(16, ge=1, le=1024, description="Jobs running at once in one manager")
    per_host_limit: int = Field(4, ge=1, le=256, description="Jobs running at once against one host")
    extract_threads: int = Field(
        2,
        ge=1,
        le=64,
        description="Worker threads that parse and extract, so big pages never stall the event loop",
    )
    isolation: Literal["thread", "process"] = Field(
        "thread",
        description=(
            "Where job extractions run: 'thread' (extract_threads; cheap, but an lxml XPath evaluation cannot "
            "be interrupted and keeps its thread past job_timeout) or 'process' (extract_processes worker "
            "processes; a job past job_timeout has its process killed and replaced). meterlocal serve and "
            "meterlocal scheduler use 'process'"
        ),
    )
    extract_processes: int = Field(
        2, ge=1, le=64, description="Worker processes that parse and extract when isolation='process'"
    )

    # HTTP fetching
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to open a connection")
    read_timeout: float = Field(30.0, gt=0, description="Seconds of silence allowed while reading a response")
    total_timeout: float = Field(60.0, gt=0, description="Seconds for one request attempt, redirects included")
    max_redirects: int = Field(10, ge=0, le=50, description="Redirects followed before the job fails")
    retries: int = Field(2, ge=0, le=20, description="Extra attempts after connection errors, timeouts, 429 and 5xx")
    backoff_base: float = Field(
        0.5, ge=0, description="First retry delay in seconds; doubles each attempt, with jitter"
    )
    backoff_max: float = Field(30.0, ge=0, description="Longest delay between two attempts, Retry-After included")
    max_response_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1,
        description="Largest body accepted, counted while streaming, after decompression",
    )
    max_result_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description=(
            "Largest total size of the values one job extracts (characters of text, attributes and markup, "
            "counted while extracting); past it the job fails instead of filling memory"
        ),
    )
    user_agent: str = Field(DEFAULT_USER_AGENT, min_length=1, description="User-Agent header sent with every fetch")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers sent with every fetch")

    # Politeness (README, "Crawling"): robots.txt and per-host delays, applied by `fetch.polite.PoliteFetcher`
    obey_robots: bool = Field(
        False,
        description=(
            "Fetch only what each host's robots.txt allows for user_agent, for every job; discovery crawls obey "
            "robots.txt by default whatever this says (their own obey_robots)"
        ),
    )
    robots_ttl: float = Field(
        3600.0, gt=0, le=7 * 24 * 3600, description="Seconds a host's robots.txt is kept before it is fetched again"
    )
    min_host_delay: float = Field(
        0.0, ge=0, le=3600, description="Seconds between the starts of two requests to one host (0: no delay)"
    )
    autothrottle: bool = Field(
        False,
        description="Adapt each host's delay to its latency, and back off when it answers 429 or 503",
    )
    autothrottle_target_concurrency: float = Field(
        1.0, gt=0, le=256, description="Requests the adaptive delay aims to have in flight at one host on average"
    )
    autothrottle_max_delay: float = Field(
        60.0, gt=0, le=3600, description="Longest delay between two requests to one host the adaptive delay reaches"
    )

    # Security
    allow_file_urls: bool = Field(False, description="Let jobs read local files through file:// URLs")
    block_private_addresses: bool = Field(
        False,
        description="Refuse hosts that resolve to private, loopback, link-local or reserved addresses (SSRF guard)",
    )
    allowed_private_hosts: tuple[str, ...] = Field(
        (), description="Host names exempt from block_private_addresses (an internal API you mean to scrape)"
    )

    # Jobs and the store
    job_timeout: float = Field(
        300.0,
        gt=0,
        description="Seconds one job may take from start to finish, retries included, before it fails",
    )
    execute_timeout: float = Field(3600.0, gt=0, description="Default seconds execute_job waits for its job")
    shutdown_timeout: float = Field(
        10.0, ge=0, description="Seconds close() waits for running jobs; the rest stay resumable in the store"
    )
    lease_seconds: float = Field(
        30.0,
        gt=0,
        le=365 * 24 * 3600,
        description="A manager that has not been heard from for this long is presumed dead (at most a year)",
    )

    # Schedules and webhooks
    schedule_poll_seconds: float = Field(
        1.0, gt=0, le=3600, description="Seconds between two looks for due schedules and due webhook deliveries"
    )
    webhook_timeout: float = Field(10.0, gt=0, le=300, description="Seconds one webhook delivery attempt may take")
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Delivery attempts before a webhook is marked failed"
    )
    webhook_backoff_base: float = Field(
        5.0, ge=0, description="Seconds before the second delivery attempt; doubles each attempt, with jitter"
    )
    webhook_backoff_max: float = Field(3600.0, ge=0, description="Longest wait between two delivery attempts")
    webhook_concurrency: int = Field(4, ge=1, le=256, description="Webhook deliveries in flight at once")

    # Strategy generation
    strategy_generator: Callable[..., Any] | None = Field(
        None,
        description=(
            "Your own generator for description-only generate/refine requests (an LLM client, say): called with a "
            "GenerationRequest, returns a strategy document (sync or async). None: such requests answer 501"
        ),
    )

    @field_validator("user_agent")
    @classmethod
    def _one_header_line(cls, value: str) -> str:
        _refuse_line_breaks("user_agent", value)
        return value

    @field_validator("headers")
    @classmethod
    def _header_lines(cls, value: dict[str, str]) -> dict[str, str]:
        # aiohttp refuses these only when a request is sent, which would fail every job with an internal error.
        for name, text in value.items():
            if not name or any(c in name for c in " :\t"):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            _refuse_line_breaks(f"header {name!r}", name + text)
        return value


def _refuse_line_breaks(what: str, text: str) -> None:
    if any(c in text for c in "\r\n\x00"):
        raise ValueError(f"{what} must not contain line breaks or NUL characters")


def _describe(exc: pydantic.ValidationError) -> str:
    """`Invalid Settings: concurrency: Input should be greater than or equal to 1 (got 0)`, one clause per error."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        message = error["msg"].removeprefix("Value error, ")
        # Header values may be credentials (Authorization): name the header, never echo its value.
        shown = "input" in error and error["loc"][:1] != ("headers",)
        problems.append(f"{where}: {message} (got {error['input']!r})" if shown else f"{where}: {message}")
    return "Invalid Settings: " + "; ".join(problems)
