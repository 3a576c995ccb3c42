"""Handlers of the job routes: each calls the manager with what its `Call` parsed and returns a response model."""

from __future__ import annotations

from meterlocal.contract import (
    BatchOut,
    BatchProgressOut,
    CompareJobsBody,
    ComparisonOut,
    CreateJobBody,
    ExecuteJobBody,
    HistoryEntryOut,
    HistoryQuery,
    JobOut,
    JobsQuery,
)
from meterlocal.server.routing import EXECUTE_TIMEOUT_KEY, Call

__all__ = [
    "compare_jobs",
    "compare_jobs_by_path",
    "create_job",
    "execute_job",
    "get_batch_progress",
    "get_job",
    "get_strategy_history",
    "list_jobs",
]


async def create_job(call: Call[CreateJobBody, None]) -> JobOut | BatchOut:
    body = call.body
    if body.urls is None:
        assert body.url is not None  # CreateJobBody requires one of them
        return JobOut.of(await call.manager.create_job(body.strategy_id, body.url, parameters=body.parameters))
    return BatchOut.of(await call.manager.create_job(body.strategy_id, urls=body.urls, parameters=body.parameters))


async def execute_job(call: Call[ExecuteJobBody, None]) -> JobOut:
    body = call.body
    timeout = call.request.app[EXECUTE_TIMEOUT_KEY]
    return JobOut.of(await call.manager.execute_job(body.strategy_id, body.url, body.parameters, timeout=timeout))


async def get_job(call: Call[None, None]) -> JobOut:
    return JobOut.of(await call.manager.get_job(call.path("job_id")))


async def list_jobs(call: Call[None, JobsQuery]) -> list[JobOut]:
    query = call.query
    jobs = await call.manager.list_jobs(
        strategy_id=query.strategy_id,
        status=query.status,
        since=query.since,
        limit=query.limit,
        offset=query.offset,
        batch_id=query.batch_id,
        schedule_id=query.schedule_id,
    )
    return [JobOut.of(job) for job in jobs]


async def get_batch_progress(call: Call[None, None]) -> BatchProgressOut:
    return BatchProgressOut.of(await call.manager.get_batch_progress(call.path("batch_id")))


async def compare_jobs(call: Call[CompareJobsBody, None]) -> ComparisonOut:
    return ComparisonOut.of(await call.manager.compare_jobs(call.body.job_id, call.body.other_job_id))


async def compare_jobs_by_path(call: Call[None, None]) -> ComparisonOut:
    return ComparisonOut.of(await call.manager.compare_jobs(call.path("job_id"), call.path("other_job_id")))


async def get_strategy_history(call: Call[None, HistoryQuery]) -> list[HistoryEntryOut]:
    entries = await call.manager.get_strategy_history(call.path("strategy_id"), limit=call.query.limit)
    return [HistoryEntryOut.of(entry) for entry in entries]
