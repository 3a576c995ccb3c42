"""Every route the server answers, in one table: it builds both aiohttp's router and the OpenAPI document.

To add a route:
1. Write its models in `meterlocal/contract.py`: a body (`_Body`: strict, rules across fields as model
   validators), a query (`_Query`, bounds as `IntRange`), and a response (`XOut`: the record with Meter's extra
   keys as computed fields, `XOut.of(record)` to wrap one).
2. Write its handler next to its siblings (`server/jobs.py`, `server/strategies.py`, a new module per resource):
   `async def get_thing(call: Call[Body | None, Query | None]) -> ThingOut`, reading `call.body`, `call.query`,
   `call.path("thing_id")` and `call.manager`. Raise meterlocal's errors (or `ApiError`); never build an error here.
3. Add one `Route(...)` below, and a description of any new `{name}` path segment in `PATH_PARAMETERS`.
Order does not matter (literal segments are matched before parameters). Routes under /api need the key when one
is set, and may answer 500 and 503 besides their own `errors`; a route with a body may answer 413. tests/server
checks that the router and the OpenAPI document hold exactly this table.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from meterlocal.contract import (
    BatchOut,
    BatchProgressOut,
    ChangelogOut,
    ChangelogQuery,
    ChangesQuery,
    CompareJobsBody,
    ComparisonOut,
    CreateDiscoveryBody,
    CreateJobBody,
    CreateScheduleBody,
    CreateStrategyBody,
    DeletedOut,
    DeliveriesQuery,
    DiscoveryCreatedOut,
    DiscoveryOut,
    DiscoveryUrlsOut,
    DiscoveryUrlsQuery,
    ExecuteDiscoveryBody,
    ExecuteJobBody,
    GenerateStrategyBody,
    HistoryEntryOut,
    HistoryQuery,
    JobOut,
    JobsQuery,
    PageQuery,
    RefineStrategyBody,
    ScheduleChangesOut,
    ScheduleDeletedOut,
    ScheduleOut,
    SchedulesQuery,
    StrategyOut,
    UpdateScheduleBody,
    UpdateStrategyBody,
    WebhookDeliveryOut,
    WebhookSecretOut,
    WebhookTestBody,
    WebhookTestOut,
)
from meterlocal.server import discovery, jobs, schedules, strategies
from meterlocal.server.routing import OPENAPI_KEY, Call, Route

__all__ = ["PATH_PARAMETERS", "ROUTES", "get_openapi"]


async def get_openapi(call: Call[None, None]) -> web.Response:
    """The document `create_app` built for this app (it depends on the key and the body limit)."""
    return web.Response(body=call.request.app[OPENAPI_KEY], content_type="application/json")


PATH_PARAMETERS: dict[str, str] = {
    "batch_id": "Batch UUID",
    "discovery_id": "Discovery UUID",
    "job_id": "Job UUID",
    "other_job_id": "The job to compare with",
    "schedule_id": "Schedule UUID",
    "strategy_id": "Strategy UUID",
}
"""What each `{name}` in a route's path is (every name used below has an entry)."""


def _history(path: str, operation_id: str) -> Route[None, HistoryQuery]:
    # Meter serves a strategy's history at two paths; each is its own operation.
    return Route(
        "GET",
        path,
        jobs.get_strategy_history,
        operation_id,
        "A strategy's jobs, newest first, with has_changes",
        query=HistoryQuery,
        response=list[HistoryEntryOut],
        errors=(400, 404),
    )


ROUTES: tuple[Route[Any, Any], ...] = (
    # Jobs
    Route(
        "POST",
        "/api/jobs",
        jobs.create_job,
        "createJob",
        "Create a job (url) or a batch (urls); answer at once",
        description="A `url` answers with the pending job; `urls` with the batch (`batch_id`, `job_ids`).",
        body=CreateJobBody,
        response=JobOut | BatchOut,
        status=201,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/jobs",
        jobs.list_jobs,
        "listJobs",
        "List jobs, newest first",
        query=JobsQuery,
        response=list[JobOut],
        errors=(400,),
    ),
    Route(
        "POST",
        "/api/jobs/execute",
        jobs.execute_job,
        "executeJob",
        "Create a job and answer when it has finished",
        description="A failed job is a 200 with `status: failed` and `error`. meter-sdk gives up after 60 s: for "
        "long scrapes create the job and poll it.",
        body=ExecuteJobBody,
        response=JobOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/jobs/compare",
        jobs.compare_jobs,
        "compareJobs",
        "Compare two completed jobs",
        body=CompareJobsBody,
        response=ComparisonOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/jobs/batch/{batch_id}",
        jobs.get_batch_progress,
        "getBatchProgress",
        "Progress of a batch",
        response=BatchProgressOut,
        errors=(400, 404),
    ),
    _history("/api/jobs/strategies/{strategy_id}/history", "getStrategyHistoryUnderJobs"),
    Route(
        "GET",
        "/api/jobs/{job_id}/compare/{other_job_id}",
        jobs.compare_jobs_by_path,
        "compareJobsByPath",
        "Compare two completed jobs (meter-sdk's form)",
        response=ComparisonOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/jobs/{job_id}",
        jobs.get_job,
        "getJob",
        "A job with its results",
        response=JobOut,
        errors=(400, 404),
    ),
    # Strategies
    Route(
        "GET",
        "/api/strategies",
        strategies.list_strategies,
        "listStrategies",
        "List strategies, newest first",
        query=PageQuery,
        response=list[StrategyOut],
        errors=(400,),
    ),
    Route(
        "POST",
        "/api/strategies",
        strategies.create_strategy,
        "createStrategy",
        "Save an explicit strategy document",
        body=CreateStrategyBody,
        response=StrategyOut,
        status=201,
        errors=(400,),
    ),
    Route(
        "POST",
        "/api/strategies/generate",
        strategies.generate_strategy,
        "generateStrategy",
        "Write and save a strategy from examples of the wanted items (a description alone answers 501)",
        body=GenerateStrategyBody,
        response=dict[str, Any],  # a strategy (StrategyOut's keys) with preview_data, confidence and fill_rate
        status=201,
        errors=(400, 501),
    ),
    Route(
        "POST",
        "/api/strategies/{strategy_id}/refine",
        strategies.refine_strategy,
        "refineStrategy",
        "Write the strategy again from its examples plus the feedback, on the page it was generated from (same id)",
        body=RefineStrategyBody,
        response=dict[str, Any],  # as generate: the strategy's keys with preview_data, confidence and fill_rate
        errors=(400, 404, 501),
    ),
    _history("/api/strategies/{strategy_id}/history", "getStrategyHistory"),
    Route(
        "GET",
        "/api/strategies/{strategy_id}",
        strategies.get_strategy,
        "getStrategy",
        "A strategy",
        response=StrategyOut,
        errors=(400, 404),
    ),
    Route(
        "PATCH",
        "/api/strategies/{strategy_id}",
        strategies.update_strategy,
        "updateStrategy",
        "Change a strategy's fields",
        description="Fields left out keep their value; null removes url, output_schema or filter_config.",
        body=UpdateStrategyBody,
        response=StrategyOut,
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/api/strategies/{strategy_id}",
        strategies.delete_strategy,
        "deleteStrategy",
        "Delete a strategy (its jobs stay readable)",
        response=DeletedOut,
        errors=(400, 404),
    ),
    # Schedules and webhooks
    Route(
        "POST",
        "/api/schedules",
        schedules.create_schedule,
        "createSchedule",
        "Re-run a strategy on an interval (at least 60 s) or a cron expression",
        description="The answer shows the webhook secret; lists do not. The first run is one interval (or the "
        "next cron time) from now.",
        body=CreateScheduleBody,
        response=ScheduleOut,
        status=201,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/schedules",
        schedules.list_schedules,
        "listSchedules",
        "List schedules, newest first",
        query=SchedulesQuery,
        response=list[ScheduleOut],
        errors=(400,),
    ),
    Route(
        "GET",
        "/api/schedules/{schedule_id}",
        schedules.get_schedule,
        "getSchedule",
        "A schedule (a meterlocal addition)",
        response=ScheduleOut,
        errors=(400, 404),
    ),
    Route(
        "PATCH",
        "/api/schedules/{schedule_id}",
        schedules.update_schedule,
        "updateSchedule",
        "Change a schedule",
        description="Fields left out keep their value. url clears urls and vice versa; interval_seconds clears "
        'cron_expression and vice versa; webhook_secret "" makes a new secret.',
        body=UpdateScheduleBody,
        response=ScheduleOut,
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/api/schedules/{schedule_id}",
        schedules.delete_schedule,
        "deleteSchedule",
        "Delete a schedule (its jobs stay)",
        response=ScheduleDeletedOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/schedules/{schedule_id}/webhook-secret/regenerate",
        schedules.regenerate_webhook_secret,
        "regenerateWebhookSecret",
        "Give the schedule's webhook a new secret",
        response=WebhookSecretOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/schedules/{schedule_id}/changes",
        schedules.get_schedule_changes,
        "getScheduleChanges",
        "Runs whose content changed and that nobody marked seen; marks them seen unless mark_seen=false",
        query=ChangesQuery,
        response=ScheduleChangesOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/schedules/{schedule_id}/changelog",
        schedules.get_schedule_changelog,
        "getScheduleChangelog",
        "Changed runs, newest first, with new, removed and changed items",
        query=ChangelogQuery,
        response=ChangelogOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/schedules/{schedule_id}/webhook-deliveries",
        schedules.list_webhook_deliveries,
        "listWebhookDeliveries",
        "The schedule's webhook deliveries with every attempt (a meterlocal addition)",
        query=DeliveriesQuery,
        response=list[WebhookDeliveryOut],
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/webhooks/test",
        schedules.test_webhook,
        "testWebhook",
        "Send one test payload to a webhook URL now",
        body=WebhookTestBody,
        response=WebhookTestOut,
        errors=(400,),
    ),
    # Discovery: Meter serves these without the /api prefix (they need the key all the same)
    Route(
        "POST",
        "/discover",
        discovery.create_discovery,
        "createDiscovery",
        "Start discovering URLs: a sitemap, a URL template, or links from a seed page",
        description="Answers at once with the pending discovery; poll GET /discover/{discovery_id}.",
        body=CreateDiscoveryBody,
        response=DiscoveryCreatedOut,
        status=201,
        errors=(400,),
    ),
    Route(
        "GET",
        "/discover/{discovery_id}",
        discovery.get_discovery,
        "getDiscovery",
        "A discovery: pending, running, completed (with its URLs) or failed (with its error)",
        response=DiscoveryOut,
        errors=(404,),
    ),
    Route(
        "GET",
        "/discover/{discovery_id}/urls",
        discovery.list_discovery_urls,
        "listDiscoveryUrls",
        "One page of the URLs a discovery found",
        query=DiscoveryUrlsQuery,
        response=DiscoveryUrlsOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/discover/{discovery_id}/execute",
        discovery.execute_discovery,
        "executeDiscovery",
        "Scrape every URL a completed discovery found, as one batch",
        body=ExecuteDiscoveryBody,
        response=BatchOut,
        status=201,
        errors=(400, 404),
    ),
    # Meta
    Route("GET", "/openapi.json", get_openapi, "getOpenAPI", "This document", response=dict[str, Any]),
)
