"""Request bodies the server accepts and the JSON it answers with, beyond the library's own models.

Request models are strict and refuse unknown fields, so a typo (`"url s"`) is a 400 naming the field instead of a
silently ignored key. Response helpers add Meter's duplicate id keys to the library models' JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import WithJsonSchema

from meterlocal.models import Batch, BatchProgress, Comparison, HistoryEntry, Job, Strategy

__all__ = [
    "CompareJobsBody",
    "CreateJobBody",
    "CreateStrategyBody",
    "ExecuteJobBody",
    "UpdateStrategyBody",
    "batch_json",
    "comparison_json",
    "describe_validation_error",
    "history_json",
    "job_json",
    "progress_json",
    "strategy_json",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateJobBody(_Body):
    """`POST /api/jobs`: one page (`url`) or a batch (`urls`), never both."""

    # `null` is read as "left out", but the schema only describes the form meter-sdk sends: the key omitted.
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["url"]}, {"required": ["urls"]}]})

    strategy_id: str = Field(description="Strategy UUID")
    url: Annotated[str | None, WithJsonSchema({"type": "string"})] = Field(
        None, description="Single URL to scrape (use url OR urls, not both)"
    )
    urls: Annotated[list[str] | None, WithJsonSchema({"type": "array", "items": {"type": "string"}, "minItems": 1})] = (
        Field(None, description="List of URLs to scrape as a batch")
    )
    parameters: dict[str, Any] | None = Field(
        None, description="Override API parameters for this job (API strategies only)"
    )


class ExecuteJobBody(_Body):
    """`POST /api/jobs/execute`: create a job and answer when it has finished."""

    strategy_id: str = Field(description="Strategy UUID")
    url: str = Field(description="URL to scrape")
    parameters: dict[str, Any] | None = Field(None, description="Override API parameters (API strategies only)")


class CompareJobsBody(_Body):
    """`POST /api/jobs/compare`: how `other_job_id` differs from `job_id`."""

    job_id: str = Field(description="The first (older) job")
    other_job_id: str = Field(description="The second (newer) job")


class CreateStrategyBody(_Body):
    """`POST /api/strategies`: save an explicit strategy document (meterlocal has no LLM to generate one)."""

    name: str = Field(
        description="A name people recognise; need not be unique", json_schema_extra={"minLength": 1, "pattern": r"\S"}
    )
    url: str | None = Field(None, description="The page the strategy was written for (informative)")
    description: str = Field("", description="What the strategy extracts")
    strategy: dict[str, Any] = Field(description="The strategy document: CSS/XPath (`container`, `fields`) or API")
    output_schema: dict[str, Any] | None = Field(None, description="Field -> type coercions applied to each item")
    filter_config: dict[str, Any] | None = Field(None, description="Post-extraction filter (`mode`, `conditions`)")


class UpdateStrategyBody(_Body):
    """`PATCH /api/strategies/{id}`: fields left out keep their value; `null` removes url, schema or filter."""

    # name, description and strategy cannot be removed: `null` is refused (with a 400 saying so).
    name: Annotated[str | None, WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"})] = None
    url: str | None = None
    description: Annotated[str | None, WithJsonSchema({"type": "string"})] = None
    strategy: Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})] = None
    output_schema: dict[str, Any] | None = None
    filter_config: dict[str, Any] | None = None


def describe_validation_error(exc: PydanticValidationError) -> str:
    """One sentence naming every field at fault, e.g. `strategy_id is required; urls[1]: Input should be ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        where = _location(error["loc"])
        kind = error["type"]
        if kind == "missing":
            parts.append(f"{where} is required")
        elif kind == "extra_forbidden":
            parts.append(f"unknown field {where!r}")
        else:
            parts.append(f"{where}: {error['msg']}")
    return "Invalid request body: " + "; ".join(parts)


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def job_json(job: Job) -> dict[str, Any]:
    """A job as Meter sends it: `job_id` and `id` (Meter's responses use both) plus every field of `Job`."""
    data = job.model_dump(mode="json")
    return {"job_id": job.job_id, "id": job.job_id, **data}


def batch_json(batch: Batch) -> dict[str, Any]:
    """The `POST /api/jobs` answer for `urls`: `batch_id, job_count, job_ids, status, strategy_id, created_at`."""
    return batch.model_dump(mode="json")


def strategy_json(strategy: Strategy) -> dict[str, Any]:
    """A strategy with `strategy_id` and `id`, `scraper_type`, `api_parameters`, and an empty `preview_data`
    (Meter fills it at generation; meterlocal never fetches when a strategy is saved)."""
    data = strategy.model_dump(mode="json")
    return {"strategy_id": strategy.strategy_id, "id": strategy.strategy_id, **data, "preview_data": []}


def progress_json(progress: BatchProgress) -> dict[str, Any]:
    return progress.model_dump(mode="json")


def comparison_json(comparison: Comparison) -> dict[str, Any]:
    return comparison.model_dump(mode="json")


def history_json(entries: list[HistoryEntry]) -> list[dict[str, Any]]:
    return [entry.model_dump(mode="json") for entry in entries]
