"""The records meterlocal stores and returns. Their `model_dump(mode="json")` is Meter's JSON shape.

Timestamps are timezone-aware UTC datetimes and serialise as ISO-8601 with a `Z` suffix
(`2025-01-15T10:30:00.123456Z`); microseconds are kept so `since=` filters round-trip exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, computed_field

__all__ = [
    "Batch",
    "BatchProgress",
    "Clock",
    "Comparison",
    "HistoryEntry",
    "Job",
    "JobStatus",
    "Strategy",
    "Timestamp",
    "utcnow",
]


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


Clock = Callable[[], datetime]
"""What a manager and its collaborators read the time from: returns an aware UTC datetime (`utcnow` by default)."""


def _iso_z(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Timestamp = Annotated[datetime, PlainSerializer(_iso_z, return_type=str, when_used="json")]
"""A UTC datetime that serialises to JSON as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""


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


class Strategy(_Record):
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


class Job(_Record):
    """One run of a strategy on one URL."""

    job_id: str
    strategy_id: str
    url: str
    status: JobStatus
    batch_id: str | None = None
    parameters: dict[str, Any] | None = None
    results: list[dict[str, Any]] | None = None
    item_count: int | None = None
    error: str | None = None
    content_hash: str | None = None
    structural_signature: dict[str, Any] | None = None
    final_url: str | None = Field(
        default=None, description="URL the content came from, after redirects and with API parameters applied"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Sentences about values dropped or nulled, e.g. failed output_schema coercions",
    )
    created_at: Timestamp
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None


class Batch(_Record):
    """The jobs made by one `create_job(urls=[...])` call."""

    batch_id: str
    strategy_id: str
    job_count: int
    job_ids: list[str]
    status: JobStatus = JobStatus.PENDING
    created_at: Timestamp


class BatchProgress(_Record):
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


class Comparison(_Record):
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
