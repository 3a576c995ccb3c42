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
    CreateJobBody,
    CreateScheduleBody,
    CreateStrategyBody,
    CreateWorkflowBody,
    DeletedOut,
    DeliveriesQuery,
    ExecuteJobBody,
    GenerateStrategyBody,
    HistoryEntryOut,
    HistoryQuery,
    JobOut,
    JobsQuery,
    PageQuery,
    RunWorkflowBody,
    ScheduleChangesOut,
    ScheduleDeletedOut,
    ScheduleOut,
    SchedulesQuery,
    StrategyOut,
    UpdateScheduleBody,
    UpdateStrategyBody,
    UpdateWorkflowBody,
    WebhookDeliveryOut,
    WebhookSecretOut,
    WebhookTestBody,
    WebhookTestOut,
    WorkflowDeletedOut,
    WorkflowOut,
    WorkflowOutputOut,
    WorkflowOutputQuery,
    WorkflowRunOut,
    WorkflowsQuery,
)
from meterlocal.server import jobs, schedules, strategies, workflows
from meterlocal.server.routing import OPENAPI_KEY, Call, Route

__all__ = ["PATH_PARAMETERS", "ROUTES", "get_openapi"]


async def get_openapi(call: Call[None, None]) -> web.Response:
    """The document `create_app` built for this app (it depends on the key and the body limit)."""
    return web.Response(body=call.request.app[OPENAPI_KEY], content_type="application/json")


PATH_PARAMETERS: dict[str, str] = {
    "batch_id": "Batch UUID",
    "job_id": "Job UUID",
    "other_job_id": "The job to compare with",
    "schedule_id": "Schedule UUID",
    "strategy_id": "Strategy UUID",
    "workflow_id": "Workflow UUID",
    "run_id": "Workflow run UUID",
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
    # Workflows
    Route(
        "POST",
        "/api/workflows",
        workflows.create_workflow,
        "createWorkflow",
        "Save a workflow: a DAG of strategies (nodes) and edges",
        description="A cycle, an edge naming an unknown node, or a url_field the upstream strategy does not "
        "extract is a 400 naming it.",
        body=CreateWorkflowBody,
        response=WorkflowOut,
        status=201,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/workflows",
        workflows.list_workflows,
        "listWorkflows",
        "List workflows, newest first",
        query=WorkflowsQuery,
        response=list[WorkflowOut],
        errors=(400,),
    ),
    Route(
        "GET",
        "/api/workflows/{workflow_id}",
        workflows.get_workflow,
        "getWorkflow",
        "A workflow with its nodes and edges",
        response=WorkflowOut,
        errors=(404,),
    ),
    Route(
        "PUT",
        "/api/workflows/{workflow_id}",
        workflows.update_workflow,
        "updateWorkflow",
        "Change a workflow's name, description, enabled or max_urls_per_node",
        body=UpdateWorkflowBody,
        response=WorkflowOut,
        errors=(400, 404),
    ),
    Route(
        "DELETE",
        "/api/workflows/{workflow_id}",
        workflows.delete_workflow,
        "deleteWorkflow",
        "Delete a workflow (its unfinished runs are cancelled; runs and jobs stay)",
        response=WorkflowDeletedOut,
        errors=(404,),
    ),
    Route(
        "POST",
        "/api/workflows/{workflow_id}/run",
        workflows.run_workflow,
        "runWorkflow",
        "Start a run; answer at once with the pending run",
        description="Poll GET /api/workflows/{workflow_id}/runs/{run_id} until its status is completed, failed "
        "or cancelled. With force=false, nodes whose upstream results did not change since the last completed "
        "run are skipped.",
        body=RunWorkflowBody,
        response=WorkflowRunOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/workflows/{workflow_id}/runs",
        workflows.list_workflow_runs,
        "listWorkflowRuns",
        "The workflow's runs, newest first (without results)",
        query=PageQuery,
        response=list[WorkflowRunOut],
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/workflows/{workflow_id}/runs/latest/output",
        workflows.get_workflow_output,
        "getWorkflowOutput",
        "The latest completed run's results by URL (grouped by strategy, or flat)",
        query=WorkflowOutputQuery,
        response=WorkflowOutputOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/workflows/{workflow_id}/runs/{run_id}",
        workflows.get_workflow_run,
        "getWorkflowRun",
        "A run: status, each node's progress and results, final_results",
        response=WorkflowRunOut,
        errors=(404,),
    ),
    Route(
        "POST",
        "/api/workflows/{workflow_id}/runs/{run_id}/cancel",
        workflows.cancel_workflow_run,
        "cancelWorkflowRun",
        "Stop an unfinished run (jobs already created still run)",
        response=WorkflowRunOut,
        errors=(400, 404),
    ),
    # Meta
    Route("GET", "/openapi.json", get_openapi, "getOpenAPI", "This document", response=dict[str, Any]),
)
