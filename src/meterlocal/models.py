"""The records meterlocal stores and returns. Their `model_dump(mode="json")` is Meter's JSON shape.

Timestamps are timezone-aware UTC datetimes and serialise as ISO-8601 with a `Z` suffix
(`2025-01-15T10:30:00.123456Z`); microseconds are kept so `since=` filters round-trip exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema, computed_field

from meterlocal.display import (
    clip,
    html_bar,
    html_list,
    html_pairs,
    html_rows,
    html_timeline,
    seconds_between,
    short_id,
    when,
)

__all__ = [
    "Batch",
    "BatchProgress",
    "ChangedItem",
    "Changelog",
    "ChangelogEntry",
    "Clock",
    "Comparison",
    "DeliveryStatus",
    "History",
    "HistoryEntry",
    "Job",
    "JobStatus",
    "Schedule",
    "ScheduleChanges",
    "Strategy",
    "Timestamp",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTestResult",
    "format_timestamp",
    "utcnow",
]


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """Return `value` as `2025-01-15T10:30:00.123456Z`, in UTC (naive means UTC).

    The one text form of a time, in JSON and in the store: always 27 characters wide (the year too is four
    digits), so text order is time order and `datetime.fromisoformat` reads it back exactly.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


Clock = Callable[[], datetime]
"""What a manager and its collaborators read the time from: returns an aware UTC datetime (`utcnow` by default)."""


Timestamp = Annotated[
    datetime,
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    # Both ways it is an RFC 3339 string; without this the serialization schema would say only "string".
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
"""A UTC datetime that serialises to JSON as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (JSON Schema: `date-time`)."""


class JobStatus(enum.StrEnum):
    """Where a job is in its life. Only `completed` and `failed` are final."""

    PENDING = "pending"  # accepted and stored, waiting for a concurrency slot
    RUNNING = "running"  # claimed by a manager, being fetched and extracted
    COMPLETED = "completed"  # finished; `results`, `content_hash` and `structural_signature` are set
    FAILED = "failed"  # finished; `error` says why, `results` is None

    @property
    def is_final(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", use_enum_values=False, validate_assignment=False)


class _Shown(_Record):
    """A record a person looks at: `repr` and `str` are one short line (ids shortened, never the results); the
    whole record is `model_dump()`."""

    def __str__(self) -> str:
        return repr(self)


def _line(kind: str, *parts: str | None) -> str:
    return f"<{kind} " + " ".join(p for p in parts if p) + ">"


class Strategy(_Shown):
    """A saved, reusable extraction plan (`css` for HTML pages, `api` for JSON endpoints)."""

    strategy_id: str
    name: str
    url: str | None = None
    description: str = ""
    strategy: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    filter_config: dict[str, Any] | None = None
    created_at: Timestamp
    updated_at: Timestamp

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scraper_type(self) -> Literal["css", "api"]:
        """Meter's name for the strategy kind: `css` (HTML) or `api` (JSON endpoint)."""
        return "api" if self.strategy.get("type") == "api" else "css"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def api_parameters(self) -> dict[str, Any]:
        """Default request parameters of an API strategy (query for GET, body keys for POST); `{}` for CSS."""
        if self.scraper_type != "api":
            return {}
        request = self.strategy.get("request") or {}
        params: dict[str, Any] = dict(request.get("params") or {})
        body = request.get("json")
        if isinstance(body, dict):
            params.update(body)
        return params

    def __repr__(self) -> str:
        fields = self.strategy.get("fields")
        count = f"{len(fields)} fields" if isinstance(fields, dict) else None
        url = f"url={clip(self.url, 60)!r}" if self.url else None
        return _line("Strategy", short_id(self.strategy_id), repr(clip(self.name, 40)), self.scraper_type, count, url)

    def _repr_html_(self) -> str:
        """Name, kind, url and times, then each field and what it selects (for Jupyter)."""
        summary = html_pairs(
            [
                ("strategy", self.strategy_id),
                ("name", self.name),
                ("type", self.scraper_type),
                ("url", self.url),
                ("description", self.description or None),
                ("container", self.strategy.get("container") or self.strategy.get("items")),
                ("output_schema", self.output_schema),
                ("filter_config", self.filter_config),
                ("created", when(self.created_at)),
                ("updated", when(self.updated_at)),
            ]
        )
        fields = self.strategy.get("fields")
        table = (
            html_rows([{"field": k, "selects": v} for k, v in fields.items()], limit=50)
            if isinstance(fields, dict)
            else ""
        )
        return f"<div>{summary}{table}</div>"


class Job(_Shown):
    """One run of a strategy on one URL."""

    job_id: str
    strategy_id: str
    url: str
    status: JobStatus
    batch_id: str | None = None
    schedule_id: str | None = Field(default=None, description="The schedule that created the job, if any")
    parameters: dict[str, Any] | None = None
    results: list[dict[str, Any]] | None = None
    item_count: int | None = None
    error: str | None = None
    content_hash: str | None = None
    structural_signature: dict[str, Any] | None = None
    has_changes: bool | None = Field(
        default=None,
        description="Completed jobs: content differs from the previous completed job of the same strategy and URL "
        "(decided when the job finished; False for the first one)",
    )
    final_url: str | None = Field(
        default=None, description="URL the content came from, after redirects and with API parameters applied"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Sentences about values dropped or nulled, e.g. failed output_schema coercions",
    )
    page_urls: list[str] = Field(
        default_factory=list,
        description="A job of a paginating strategy (next_page, paginate): each page's URL, in page order",
    )
    created_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    # Not in the API's JSON (Meter's jobs have no such key): which worker ran the job, for people running several.
    worker: str | None = Field(
        default=None, exclude=True, description="The worker (host:pid) that claimed the job last, if any"
    )

    def __repr__(self) -> str:
        took = seconds_between(self.started_at, self.completed_at)
        return _line(
            "Job",
            short_id(self.job_id),
            self.status.value,
            None if self.item_count is None else f"{self.item_count} items",
            None if took is None else f"in {took:.2f}s",
            f"{len(self.warnings)} warnings" if self.warnings else None,
            f"error={clip(self.error, 60)!r}" if self.error else None,
            f"url={clip(self.url, 60)!r}",
        )

    def _repr_html_(self) -> str:
        """Status, timings, error and warnings, then the first rows of the results (for Jupyter)."""
        took = seconds_between(self.started_at, self.completed_at)
        summary = html_pairs(
            [
                ("job", self.job_id),
                ("status", self.status.value),
                ("url", self.url),
                ("items", self.item_count),
                ("created", when(self.created_at)),
                ("started", when(self.started_at)),
                ("completed", when(self.completed_at)),
                ("took", None if took is None else f"{took:.2f} s"),
                ("error", self.error),
            ]
        )
        rows = html_rows(self.results) if self.results else ""
        return f"<div>{summary}{html_list(f'warning: {w}' for w in self.warnings)}{rows}</div>"

    def to_dataframe(self) -> Any:
        """The results as a `pandas.DataFrame`, nested records flattened into `a.b` columns (as
        `pandas.json_normalize` does). Needs pandas (`pip install 'meterlocal[pandas]'`); raises `JobStateError`
        when the job has no results."""
        from meterlocal.tabular import to_dataframe  # tabular reads these models: imported when used

        return to_dataframe(self)


class Batch(_Shown):
    """The jobs made by one `create_job(urls=[...])` call."""

    batch_id: str
    strategy_id: str
    job_count: int
    job_ids: list[str]
    status: JobStatus = JobStatus.PENDING
    created_at: Timestamp

    def __repr__(self) -> str:
        return _line(
            "Batch",
            short_id(self.batch_id),
            self.status.value,
            f"{self.job_count} jobs",
            f"strategy {short_id(self.strategy_id)}",
        )

    def _repr_html_(self) -> str:
        """The batch, its strategy and its jobs (for Jupyter); `get_batch_progress` shows how far it got."""
        summary = html_pairs(
            [
                ("batch", self.batch_id),
                ("strategy", self.strategy_id),
                ("jobs", self.job_count),
                ("created", when(self.created_at)),
            ]
        )
        ids = html_list(short_id(i) for i in self.job_ids[:HTML_JOB_IDS])
        more = f"<p>… {len(self.job_ids) - HTML_JOB_IDS} more jobs</p>" if len(self.job_ids) > HTML_JOB_IDS else ""
        return f"<div>{summary}{ids}{more}</div>"


HTML_JOB_IDS = 10


class BatchProgress(_Shown):
    """How far a batch has got."""

    batch_id: str
    strategy_id: str
    total: int
    pending: int
    running: int
    completed: int
    failed: int
    progress_percent: float = Field(ge=0.0, le=100.0, description="Finished jobs (completed or failed) per 100")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> JobStatus:
        """`completed` once every job has finished, `running` once any has started, else `pending`."""
        if self.pending == 0 and self.running == 0:
            return JobStatus.COMPLETED
        if self.running or self.completed or self.failed:
            return JobStatus.RUNNING
        return JobStatus.PENDING

    def __repr__(self) -> str:
        return _line(
            "BatchProgress",
            short_id(self.batch_id),
            f"{self.completed + self.failed}/{self.total} finished ({self.progress_percent:.0f}%):",
            f"{self.completed} completed, {self.failed} failed, {self.running} running, {self.pending} pending",
        )

    def _repr_html_(self) -> str:
        """A bar of the finished jobs (the failed part faint) and the counts (for Jupyter)."""
        finished = self.completed + self.failed
        bar = html_bar(finished, self.total, failed=self.failed)
        counts = html_pairs(
            [
                ("batch", self.batch_id),
                ("status", self.status.value),
                ("completed", self.completed),
                ("failed", self.failed),
                ("running", self.running),
                ("pending", self.pending),
            ]
        )
        return f"<div><p>{bar} ({self.progress_percent:.0f}%)</p>{counts}</div>"


class Comparison(_Shown):
    """How job `other_job_id` differs from job `job_id` (a is the first, b the second)."""

    job_id: str | None = None
    other_job_id: str | None = None
    content_hash_match: bool
    structural_match: bool
    semantic_similarity: float = Field(ge=0.0, le=1.0)
    item_count_diff: int
    changes: list[str]
    structural_changes: list[str]
    template_similarity: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Similarity of the two pages' tag-tree fingerprints"
    )

    def __repr__(self) -> str:
        same = self.content_hash_match
        return _line(
            "Comparison",
            f"{short_id(self.job_id)} -> {short_id(self.other_job_id)}",
            "same content" if same else f"changed: similarity {self.semantic_similarity:.2f}",
            None if same else f"items {self.item_count_diff:+d}",
            None if same else f"{len(self.changes)} changes",
            None if self.structural_match else "structure changed",
        )

    def _repr_html_(self) -> str:
        """The signals, then the changes and the structural changes as lists (for Jupyter)."""
        signals = html_pairs(
            [
                ("jobs", f"{self.job_id} -> {self.other_job_id}"),
                ("content_hash_match", self.content_hash_match),
                ("structural_match", self.structural_match),
                ("semantic_similarity", f"{self.semantic_similarity:.3f}"),
                ("item_count_diff", f"{self.item_count_diff:+d}"),
                ("template_similarity", self.template_similarity),
            ]
        )
        structural = html_list(self.structural_changes)
        return (
            f"<div>{signals}<p>changes</p>{html_list(self.changes) or '<p>none</p>'}"
            + (f"<p>structural changes</p>{structural}" if structural else "")
            + "</div>"
        )


class HistoryEntry(_Record):
    """One job in a strategy's history."""

    job_id: str
    status: JobStatus
    url: str
    item_count: int | None = None
    content_hash: str | None = None
    has_changes: bool = Field(
        description="Content differs from the previous completed job of the same strategy and URL"
    )
    error: str | None = None
    created_at: Timestamp
    completed_at: Timestamp | None = None


class History(list[HistoryEntry]):
    """`get_strategy_history`: a list of `HistoryEntry`, newest first, that Jupyter shows as a timeline of item
    counts with the changed runs marked."""

    def _repr_html_(self) -> str:
        return html_timeline(
            [
                (when(e.completed_at or e.created_at), e.status.value, e.item_count, e.has_changes, e.job_id)
                for e in self
            ]
        )


class Schedule(_Shown):
    """A strategy re-run on one URL (`url`) or a batch (`urls`) every `interval_seconds` or at cron times."""

    schedule_id: str
    strategy_id: str
    url: str | None = None
    urls: list[str] | None = None
    schedule_type: Literal["interval", "cron"]
    interval_seconds: int | None = None
    cron_expression: str | None = None
    timezone: str = Field("UTC", description="IANA time zone the cron expression is read in")
    enabled: bool = True
    parameters: dict[str, Any] | None = Field(default=None, description="API parameter overrides for every run")
    webhook_url: str | None = None
    webhook_metadata: dict[str, Any] | None = Field(default=None, description="Sent back as `metadata`")
    webhook_secret: str | None = Field(default=None, description="Sent as X-Webhook-Secret; the HMAC key")
    webhook_type: str | None = Field(default=None, description="standard, slack, slack_workflow or discord")
    webhook_on: Literal["always", "changes"] = Field(
        "always", description="Deliver every finished run (Meter's behaviour) or only runs whose content changed"
    )
    next_run_at: Timestamp | None = None
    last_run_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Meter's older name for `schedule_id`."""
        return self.schedule_id

    @property
    def targets(self) -> list[str]:
        """The URLs one run scrapes."""
        return list(self.urls) if self.urls is not None else [self.url] if self.url is not None else []

    def __repr__(self) -> str:
        timing = (
            f"every {self.interval_seconds}s"
            if self.schedule_type == "interval"
            else f"cron {self.cron_expression!r} ({self.timezone})"
        )
        targets = self.targets
        return _line(
            "Schedule",
            short_id(self.schedule_id),
            timing,
            "enabled" if self.enabled else "disabled",
            f"{len(targets)} urls" if len(targets) != 1 else f"url={clip(targets[0], 60)!r}",
            None if self.next_run_at is None else f"next {when(self.next_run_at)}",
            f"strategy {short_id(self.strategy_id)}",
        )


class ScheduleChanges(_Record):
    """`get_schedule_changes`: the schedule's runs whose content changed and that nobody had marked seen."""

    schedule_id: str
    changes: list[Job]
    count: int
    marked_seen: bool
    filter: str | None = None


class ChangedItem(_Record):
    """An item present in both runs whose values changed."""

    before: dict[str, Any]
    after: dict[str, Any]


class ChangelogEntry(_Record):
    """One run whose content changed, with what changed since the previous completed run of the same URL."""

    job_id: str
    url: str
    completed_at: Timestamp | None = None
    item_count: int | None = None
    content_hash: str | None = None
    previous_job_id: str | None = None
    new_items_count: int
    removed_items_count: int
    changed_items_count: int
    new_items: list[dict[str, Any]] | None = None
    removed_items: list[dict[str, Any]] | None = None
    changed_items: list[ChangedItem] | None = None


class Changelog(_Record):
    """`get_schedule_changelog`: a page of changed runs, newest first."""

    schedule_id: str
    entries: list[ChangelogEntry]
    total: int
    limit: int
    offset: int
    filter: str | None = None


class WebhookAttempt(_Record):
    """One try at delivering a webhook."""

    attempt: int
    attempted_at: Timestamp
    status_code: int | None = Field(description="The receiver's HTTP status; None when no answer came")
    error: str | None = None
    duration_ms: float


DeliveryStatus = Literal["pending", "delivered", "failed"]
"""Where a webhook delivery is: waiting for (another) attempt, delivered, or failed after its last attempt."""


class WebhookDelivery(_Record):
    """A webhook in the outbox: a finished scheduled job to tell a receiver about."""

    delivery_id: str
    schedule_id: str
    job_id: str
    webhook_url: str
    webhook_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: Timestamp | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: Timestamp
    delivered_at: Timestamp | None = None
    attempts: list[WebhookAttempt] = Field(default_factory=list)


class WebhookTestResult(_Record):
    """`test_webhook`: Meter's `/api/webhooks/test` answer."""

    success: bool
    status_code: int = Field(description="The receiver's HTTP status; 0 when the request failed")
    message: str
