"""Meter's HTTP contract as models: the request bodies and query parameters the REST server reads, and the JSON it
and the CLI's `--json` write. The server's OpenAPI document is generated from these models, so each shape, bound
and alias is written here once.

Bodies are strict and refuse unknown fields, so a typo (`"url s"`) is an error naming the field instead of a silently
ignored key; rules across fields ("url or urls") are model validators. Query models read the raw strings of a query
string. Responses extend the library's records (a `JobOut` is a `Job`) with the keys Meter adds, such as `id`
beside `job_id`, as computed fields; `JobOut.of(job)` wraps a record without validating it again.

Nothing here imports aiohttp (the CLI uses the response models without the server), and `import meterlocal` does
not import this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NotRequired, Self, cast

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, computed_field, model_validator
from pydantic.json_schema import WithJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError, core_schema
from typing_extensions import TypedDict

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.crawl import DiscoveredUrl, Discovery, DiscoveryMethod, DiscoveryStatus
from meterlocal.models import (
    Batch,
    BatchProgress,
    Changelog,
    Comparison,
    DeliveryStatus,
    HistoryEntry,
    Job,
    JobStatus,
    Schedule,
    ScheduleChanges,
    Strategy,
    WebhookDelivery,
    WebhookTestResult,
)
from meterlocal.schedules.keywords import MAX_FILTER_LENGTH
from meterlocal.schedules.timing import MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS
from meterlocal.webhooks import WebhookType
from meterlocal.workflows.records import MAX_MAX_URLS_PER_NODE, Workflow, WorkflowOutput, WorkflowRun

__all__ = [
    "MAX_DISCOVERY_LIST",
    "MAX_OFFSET",
    "BatchOut",
    "BatchProgressOut",
    "ChangelogOut",
    "ChangelogQuery",
    "ChangesQuery",
    "CompareJobsBody",
    "ComparisonOut",
    "CreateDiscoveryBody",
    "CreateJobBody",
    "CreateScheduleBody",
    "CreateStrategyBody",
    "CreateWorkflowBody",
    "DeletedOut",
    "DeliveriesQuery",
    "DiscoveryCreatedOut",
    "DiscoveryOut",
    "DiscoveryUrlsOut",
    "DiscoveryUrlsQuery",
    "ErrorOut",
    "ExecuteDiscoveryBody",
    "ExecuteJobBody",
    "GenerateStrategyBody",
    "HistoryEntryOut",
    "HistoryQuery",
    "IntRange",
    "JobOut",
    "JobsQuery",
    "Limit",
    "Offset",
    "PageQuery",
    "RefineStrategyBody",
    "RunWorkflowBody",
    "ScheduleChangesOut",
    "ScheduleDeletedOut",
    "ScheduleOut",
    "SchedulesQuery",
    "StrategyOut",
    "UpdateScheduleBody",
    "UpdateStrategyBody",
    "UpdateWorkflowBody",
    "WebhookDeliveryOut",
    "WebhookSecretOut",
    "WebhookTestBody",
    "WebhookTestOut",
    "WorkflowDeletedOut",
    "WorkflowOut",
    "WorkflowOutputOut",
    "WorkflowOutputQuery",
    "WorkflowRunOut",
    "WorkflowsQuery",
]

MAX_OFFSET = 2**63 - 1
"""The largest `offset` a list accepts: SQLite's OFFSET is a signed 64-bit integer."""

_DIGITS = re.compile(r"[-+]?[0-9]{1,40}")


# Query parameters -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IntRange:
    """An integer from `low` to `high`, written in digits: `Annotated[int, IntRange(1, 1000)]`.

    The two bounds give the check, its message ("Input should be an integer from 1 to 1000") and the JSON Schema.
    """

    low: int
    high: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._parse, json_schema_input_schema=core_schema.int_schema(ge=self.low, le=self.high)
        )

    def _parse(self, value: Any) -> int:
        # Digits only: pydantic's lax int would also read " 5", "1_000" and "5.0" from a query string.
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high:
            return value
        raise PydanticCustomError(
            "int_range", "Input should be an integer from {low} to {high}", {"low": self.low, "high": self.high}
        )


Limit = Annotated[int, IntRange(1, MAX_LIST_LIMIT)]
Offset = Annotated[int, IntRange(0, MAX_OFFSET)]


class _Query(BaseModel):
    # Parameters nobody declared are ignored, as web APIs do (cache busters, tracking tags).
    model_config = ConfigDict(extra="ignore", frozen=True)


class PageQuery(_Query):
    """`GET /api/strategies`: one page of a list, newest first."""

    limit: Limit = Field(20, description="Max results")
    offset: Offset = Field(0, description="Results to skip")


class JobsQuery(PageQuery):
    """`GET /api/jobs`: filters, then one page, newest first. An empty value is a value (`?strategy_id=` matches
    no job)."""

    strategy_id: str | None = Field(None, description="Only jobs of this strategy")
    status: JobStatus | None = Field(None, description="Only jobs in this status")
    since: str | None = Field(
        None,
        description='Only jobs created at or after this time: ISO-8601 ("2025-01-15T10:30:00Z") or a span back from '
        'now ("90s", "15m", "24h", "7d", "2w")',
    )
    batch_id: str | None = Field(None, description="Only jobs of this batch (a meterlocal addition)")
    schedule_id: str | None = Field(None, description="Only jobs a schedule created")


class HistoryQuery(_Query):
    """`GET /api/strategies/{strategy_id}/history`."""

    limit: Limit | None = Field(None, description="Newest N entries")


class SchedulesQuery(_Query):
    """`GET /api/schedules`: meter-sdk asks for the whole list; a page of up to `limit`, newest first."""

    strategy_id: str | None = Field(None, description="Only schedules of this strategy (a meterlocal addition)")
    limit: Limit = Field(100, description="Max results")
    offset: Offset = Field(0, description="Results to skip")


_Filter = Annotated[str, Field(max_length=MAX_FILTER_LENGTH)]
_FILTER_TEXT = 'Keywords: "+a +b" (all), "a b" (any), "-a" (none), \'"a phrase"\' (exact); case-insensitive'


class ChangesQuery(_Query):
    """`GET /api/schedules/{schedule_id}/changes`."""

    mark_seen: bool = Field(True, description="Mark the returned changes seen (like reading an email)")
    filter: _Filter | None = Field(None, description=_FILTER_TEXT)


class ChangelogQuery(_Query):
    """`GET /api/schedules/{schedule_id}/changelog`: changed runs newest first (at most 100 a page, as Meter)."""

    limit: Annotated[int, IntRange(1, 100)] = Field(20, description="Max entries")
    offset: Offset = Field(0, description="Entries to skip")
    include_items: bool = Field(True, description="Include new_items, removed_items and changed_items")
    filter: _Filter | None = Field(None, description=_FILTER_TEXT)


class DeliveriesQuery(PageQuery):
    """`GET /api/schedules/{schedule_id}/webhook-deliveries`: the outbox, newest first (a meterlocal addition)."""

    status: DeliveryStatus | None = Field(None, description="Only deliveries in this state")


class WorkflowsQuery(_Query):
    """`GET /api/workflows`: one page, newest first (meter-sdk asks for 50)."""

    limit: Limit = Field(50, description="Max results")
    offset: Offset = Field(0, description="Results to skip")


class WorkflowOutputQuery(_Query):
    """`GET /api/workflows/{workflow_id}/runs/latest/output`."""

    flat: bool = Field(False, description="Results by URL (final_results_by_url) instead of grouped by strategy")


# Request bodies ---------------------------------------------------------------------------------------------
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

    @model_validator(mode="after")
    def _one_page_or_a_batch(self) -> Self:
        if self.url is None and self.urls is None:
            raise PydanticCustomError("url_or_urls", "url is required (or urls, a list, for a batch)")
        if self.url is not None and self.urls is not None:
            raise PydanticCustomError("url_or_urls", "give url (one page) or urls (a batch), not both")
        return self


class ExecuteJobBody(_Body):
    """`POST /api/jobs/execute`: create a job and answer when it has finished."""

    strategy_id: str = Field(description="Strategy UUID")
    url: str = Field(description="URL to scrape")
    parameters: dict[str, Any] | None = Field(None, description="Override API parameters (API strategies only)")


class CompareJobsBody(_Body):
    """`POST /api/jobs/compare`: how `other_job_id` differs from `job_id`."""

    job_id: str = Field(description="The first (older) job")
    other_job_id: str = Field(description="The second (newer) job")


# Bodies carry documents as plain objects (the manager validates them, with its own messages); their schema is the
# strategy document's (`meterlocal.strategy_json_schema`, whose definitions the OpenAPI document includes).
def _refers_to(name: str) -> WithJsonSchema:
    return WithJsonSchema({"allOf": [{"$ref": f"#/components/schemas/{name}"}]})


_Document = Annotated[dict[str, Any], _refers_to("StrategyDocument")]
_OutputSchema = Annotated[dict[str, Any], _refers_to("OutputSchemaDocument")]
_FilterConfig = Annotated[dict[str, Any], _refers_to("FilterConfigDocument")]


class CreateStrategyBody(_Body):
    """`POST /api/strategies`: save an explicit strategy document (meterlocal has no LLM to generate one)."""

    name: str = Field(
        description="A name people recognise; need not be unique", json_schema_extra={"minLength": 1, "pattern": r"\S"}
    )
    url: str | None = Field(None, description="The page the strategy was written for (informative)")
    description: str = Field("", description="What the strategy extracts")
    strategy: _Document = Field(description="The strategy document: CSS/XPath (`container`, `fields`) or API")
    output_schema: _OutputSchema | None = Field(None, description="Field -> type coercions applied to each item")
    filter_config: _FilterConfig | None = Field(None, description="Post-extraction filter (`mode`, `conditions`)")


class GenerateStrategyBody(_Body):
    """`POST /api/strategies/generate`: Meter's body, plus `examples` (meterlocal writes strategies from examples)."""

    url: str = Field(description="The page to write the strategy for")
    description: str = Field("", description="What to extract (kept as the strategy's description)")
    name: str | None = Field(None, description="The name to save it under (default: 'Strategy for URL')")
    examples: list[dict[str, Any]] | None = Field(
        None, description="meterlocal extension: one or two {field: value as seen on the page} objects"
    )
    output_schema: _OutputSchema | None = Field(None, description="Field -> type coercions applied to each item")
    filter_config: _FilterConfig | None = Field(None, description="Post-extraction filter (`mode`, `conditions`)")
    # Sent by meter-sdk; accepted and unused (inference writes CSS strategies, grouping is Meter's).
    force_api: bool = Field(False, description="Meter's: prefer an API scraper (ignored)")
    scraper_type: str | None = Field(None, description="Meter's scraper choice (ignored: css)")
    strategy_group_id: str | None = Field(None, description="Meter's strategy group (ignored)")


class RefineStrategyBody(_Body):
    """`POST /api/strategies/{id}/refine`: Meter's `{"feedback": ...}`; meterlocal reads examples from it."""

    feedback: str | list[dict[str, Any]] | dict[str, Any] = Field(
        description=(
            'More examples ([{field: value}]), {"exclude": [values]}, both ({"examples": [...], "exclude": [...]}), '
            "or the same as JSON text (meter-sdk sends a string); other text needs Settings(strategy_generator=...)"
        )
    )


_KEPT_UNLESS_GIVEN = ("name", "description", "strategy")


class UpdateStrategyBody(_Body):
    """`PATCH /api/strategies/{id}`: fields left out keep their value; `null` removes url, schema or filter."""

    # name, description and strategy cannot be removed: their schemas leave out null, and the validator refuses it.
    name: Annotated[str | None, WithJsonSchema({"type": "string", "minLength": 1, "pattern": r"\S"})] = None
    url: str | None = None
    description: Annotated[str | None, WithJsonSchema({"type": "string"})] = None
    strategy: Annotated[dict[str, Any] | None, WithJsonSchema({"type": "object"})] = None
    output_schema: dict[str, Any] | None = None
    filter_config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _kept_fields_are_not_null(self) -> Self:
        for name in _KEPT_UNLESS_GIVEN:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("not_null", "{name} cannot be null (leave it out to keep it)", {"name": name})
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the request gave, for `JobManager.update_strategy(**changes)`."""
        return {name: getattr(self, name) for name in self.model_fields_set}


_Interval = Annotated[int, Field(ge=MIN_INTERVAL_SECONDS, le=MAX_INTERVAL_SECONDS)]
_Urls = Annotated[list[str], Field(min_length=1)]


class _ScheduleFields(_Body):
    """What both creating and changing a schedule may give (Meter's fields, then meterlocal's)."""

    url: str | None = Field(None, description="One page to re-scrape (use url OR urls)")
    urls: _Urls | None = Field(None, description="Pages to re-scrape as one batch per run")
    interval_seconds: _Interval | None = Field(None, description="Seconds between runs (at least 60)")
    cron_expression: str | None = Field(None, description="Five-field cron expression, e.g. '0 9 * * 1-5'")
    webhook_url: str | None = Field(None, description="Told about every finished run (http or https)")
    webhook_metadata: dict[str, Any] | None = Field(None, description="Sent back as `metadata` in webhooks")
    webhook_secret: str | None = Field(None, description="Sent as X-Webhook-Secret; made for you when left out")
    webhook_type: WebhookType | None = Field(
        None, strict=False, description="Payload format; detected from the URL if left out"
    )
    parameters: dict[str, Any] | None = Field(None, description="API parameter overrides for every run")
    webhook_on: Literal["always", "changes"] | None = Field(
        None, description="Deliver every run (default, Meter's behaviour) or only runs whose content changed"
    )
    timezone: str | None = Field(None, description="IANA time zone of the cron expression (default UTC)")
    enabled: bool | None = Field(None, description="Paused schedules do not run")

    def given(self) -> dict[str, Any]:
        """The fields the request gave with a value (meter-sdk leaves out what it does not set)."""
        values = {name: getattr(self, name) for name in self.model_fields_set if getattr(self, name) is not None}
        if isinstance(values.get("webhook_type"), WebhookType):
            values["webhook_type"] = values["webhook_type"].value
        return values


class CreateScheduleBody(_ScheduleFields):
    """`POST /api/schedules`: a strategy re-run on `url` or `urls`, by `interval_seconds` or `cron_expression`."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {"oneOf": [{"required": ["url"]}, {"required": ["urls"]}]},
                {"oneOf": [{"required": ["interval_seconds"]}, {"required": ["cron_expression"]}]},
            ]
        }
    )

    strategy_id: str = Field(description="Strategy UUID")

    @model_validator(mode="after")
    def _one_target_and_one_timing(self) -> Self:
        if (self.url is None) == (self.urls is None):
            raise PydanticCustomError("url_or_urls", "give url (one page) or urls (a batch), exactly one of them")
        if (self.interval_seconds is None) == (self.cron_expression is None):
            raise PydanticCustomError(
                "interval_or_cron", "give interval_seconds or cron_expression, exactly one of them"
            )
        return self


class UpdateScheduleBody(_ScheduleFields):
    """`PATCH /api/schedules/{id}`: fields left out keep their value. `url` clears `urls` and vice versa;
    `interval_seconds` clears `cron_expression` and vice versa; `webhook_secret: ""` makes a new secret."""


class WebhookTestBody(_Body):
    """`POST /api/webhooks/test`: send one test payload now."""

    webhook_url: str = Field(description="Where to send it")
    webhook_secret: str | None = Field(None, description="Sent as X-Webhook-Secret and used to sign")
    webhook_type: WebhookType | None = Field(
        None, strict=False, description="Payload format; detected from the URL if left out"
    )
    webhook_metadata: dict[str, Any] | None = Field(None, description="Sent back as `metadata`")


_FanOut = Annotated[int, Field(ge=1, le=MAX_MAX_URLS_PER_NODE)]


class CreateWorkflowBody(_Body):
    """`POST /api/workflows`: meter-sdk's `Workflow.to_dict()`. Nodes and edges are checked as a whole (a cycle,
    an unknown node key, a url_field the upstream strategy lacks: 400 naming it)."""

    name: str = Field(description="Workflow name")
    description: str | None = Field(None, description="What it does")
    nodes: list[dict[str, Any]] = Field(
        min_length=1,
        description="Each: node_key, strategy_id, input_type (static_urls | upstream_urls | upstream_data), "
        "static_urls, url_field, static_parameters, parameter_config",
    )
    edges: list[dict[str, Any]] = Field(
        default_factory=list, description="Each: source_node_key, target_node_key, optional filter_config"
    )
    max_urls_per_node: _FanOut | None = Field(None, description="Jobs one node of a run may create (default 1000)")


class UpdateWorkflowBody(_Body):
    """`PUT /api/workflows/{workflow_id}`: fields left out keep their value."""

    name: str | None = Field(None, description="New name")
    description: str | None = Field(None, description="New description")
    enabled: bool | None = Field(None, description="A disabled workflow does not run")
    max_urls_per_node: _FanOut | None = Field(None, description="Jobs one node of a run may create")


class RunWorkflowBody(_Body):
    """`POST /api/workflows/{workflow_id}/run`."""

    force: bool = Field(False, description="Run every node; else nodes whose upstream results did not change skip")


# Responses --------------------------------------------------------------------------------------------------
class _Out(BaseModel):
    # model_dump writes every key, defaults included: the schema says so, and clients may rely on it.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    @classmethod
    def of(cls, record: BaseModel) -> Self:
        """`record` (an instance of the record this response extends) as this response; its values were
        validated when it was made, so they are shared, not validated again."""
        parent = cls.__base__
        if parent is None or parent is _Out or not isinstance(record, parent):
            raise TypeError(f"{cls.__name__}.of() takes a {getattr(parent, '__name__', parent)}, not {record!r}")
        # cast: pydantic's mypy plugin types model_construct as returning _Out, whichever subclass calls it.
        return cast(Self, cls.model_construct(record.model_fields_set, **dict(record)))


class JobOut(Job, _Out):
    """A job as Meter sends it: every field of `Job`, and `id` beside `job_id`."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as job_id (Meter's responses use both keys)."""
        return self.job_id


class BatchOut(Batch, _Out):
    """The answer to `POST /api/jobs` with `urls`: the batch and its job ids."""


class BatchProgressOut(BatchProgress, _Out):
    """How far a batch has got."""


class ComparisonOut(Comparison, _Out):
    """How job `other_job_id` differs from job `job_id`."""


class HistoryEntryOut(HistoryEntry, _Out):
    """One job in a strategy's history."""


class StrategyOut(Strategy, _Out):
    """A strategy as Meter sends it: every field of `Strategy`, `id` beside `strategy_id`, and `preview_data`."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as strategy_id."""
        return self.strategy_id

    @computed_field  # type: ignore[prop-decorator]
    @property
    def preview_data(self) -> list[dict[str, Any]]:
        """Always empty: Meter fills it at generation; meterlocal does not fetch when a strategy is saved."""
        return []


class DeletedOut(_Out):
    """The answer to deleting a strategy."""

    strategy_id: str
    deleted: Literal[True] = True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as strategy_id."""
        return self.strategy_id


class ErrorOut(TypedDict):
    """Every error: a sentence in `detail`. A timed-out execute also gives the running job's `job_id`."""

    detail: str
    job_id: NotRequired[str]


class ScheduleOut(Schedule, _Out):
    """A schedule as Meter sends it: `schedule_id` and `id`, its timing, its webhook and its next run. The
    `webhook_secret` is shown when it is made (create, regenerate, a PATCH that changes it) and null in lists."""

    @classmethod
    def listed(cls, schedule: Schedule) -> Self:
        """The schedule as lists and reads show it: without its webhook secret (Meter shows a secret once)."""
        return cls.of(schedule.model_copy(update={"webhook_secret": None}))


class ScheduleDeletedOut(_Out):
    """The answer to deleting a schedule (its jobs stay)."""

    schedule_id: str
    deleted: Literal[True] = True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as schedule_id."""
        return self.schedule_id


class WebhookSecretOut(_Out):
    """The answer to regenerating a schedule's webhook secret."""

    schedule_id: str
    webhook_secret: str


class ScheduleChangesOut(_Out):
    """`GET /api/schedules/{id}/changes`: the unseen changed runs (full jobs), how many, and whether they were
    marked seen."""

    schedule_id: str
    changes: list[JobOut]
    count: int
    marked_seen: bool
    filter: str | None = None

    @classmethod
    def from_changes(cls, changes: ScheduleChanges) -> Self:
        return cast(
            Self,
            cls.model_construct(
                schedule_id=changes.schedule_id,
                changes=[JobOut.of(job) for job in changes.changes],
                count=changes.count,
                marked_seen=changes.marked_seen,
                filter=changes.filter,
            ),
        )


class ChangelogOut(Changelog, _Out):
    """`GET /api/schedules/{id}/changelog`: changed runs, newest first, with new, removed and changed items."""


class WebhookDeliveryOut(WebhookDelivery, _Out):
    """One webhook of the outbox, with every attempt."""


class WebhookTestOut(WebhookTestResult, _Out):
    """Meter's `/api/webhooks/test` answer: `success`, `status_code` (0 when no answer came) and `message`."""


# Discovery (Meter's /discover, served without the /api prefix as Meter does) -----------------------------------
MAX_DISCOVERY_LIST = 10_000


class CreateDiscoveryBody(_Body):
    """`POST /discover`: `{"discovery": {"method": "sitemap" | "pagination" | "link_pattern", ...}}`."""

    discovery: dict[str, Any] = Field(
        description="The method and its parameters: sitemap (sitemap_url, url_pattern, max_urls), pagination "
        "(url_template with {n}, start_index, step, max_pages), link_pattern (seed_url, link_pattern, "
        "navigation_pattern, max_depth, max_urls)"
    )


class DiscoveryUrlsQuery(_Query):
    """`GET /discover/{discovery_id}/urls`: one page of the URLs found, in the order found."""

    limit: Annotated[int, IntRange(1, MAX_DISCOVERY_LIST)] = Field(1000, description="Max URLs")
    offset: Annotated[int, IntRange(0, MAX_OFFSET)] = Field(0, description="URLs to skip")


class ExecuteDiscoveryBody(_Body):
    """`POST /discover/{discovery_id}/execute`: scrape every URL found with a strategy, as one batch."""

    strategy_id: str = Field(description="Strategy UUID")
    parameters: dict[str, Any] | None = Field(None, description="API parameters for every job (API strategies)")


class DiscoveryCreatedOut(_Out):
    """The answer to `POST /discover`: the discovery, pending."""

    discovery_id: str
    status: DiscoveryStatus
    discovery_method: DiscoveryMethod
    root_url: str

    @classmethod
    def created(cls, discovery: Discovery) -> DiscoveryCreatedOut:
        """The four keys Meter answers with."""
        return cls(
            discovery_id=discovery.discovery_id,
            status=discovery.status,
            discovery_method=discovery.discovery_method,
            root_url=discovery.root_url,
        )


class DiscoveryOut(Discovery, _Out):
    """A discovery: its status, and its URLs once completed."""


class DiscoveryUrlsOut(_Out):
    """One page of a discovery's URLs."""

    discovery_id: str
    status: DiscoveryStatus
    total: int = Field(description="URLs found in all")
    limit: int
    offset: int
    urls: list[DiscoveredUrl]


class WorkflowOut(Workflow, _Out):
    """A workflow as meter-sdk reads it: `id`, `node_count`, `nodes` (`node_key`, `node_id`, `input_type`, ...)
    and `edges`."""


class WorkflowDeletedOut(_Out):
    """The answer to deleting a workflow (its runs and jobs stay)."""

    workflow_id: str
    deleted: Literal[True] = True

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """Same as workflow_id."""
        return self.workflow_id


class WorkflowRunOut(WorkflowRun, _Out):
    """A run: `id`, `status`, `node_executions` (each node's status, counts and `results`), `final_results`."""


class WorkflowOutputOut(WorkflowOutput, _Out):
    """The latest completed run's leaf results: `final_results_by_url_grouped` (default) or
    `final_results_by_url` (`?flat=true`)."""
