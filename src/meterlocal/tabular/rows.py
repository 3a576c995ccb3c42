"""Jobs to rows: pure functions, no pandas. Nested records flatten the way `pandas.json_normalize` does."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from meterlocal.errors import JobStateError
from meterlocal.models import Job, JobStatus

__all__ = ["JOB_COLUMNS", "JobsArgument", "flatten", "job_rows", "jobs_of"]

JOB_COLUMNS = ("job_id", "job_url")
"""The columns that say which job a row came from, when rows of several jobs are put together."""

JobsArgument = Job | Iterable[Job]
"""One job (its rows are its items) or several (each row also says its `job_id` and `job_url`)."""


def flatten(item: Mapping[str, Any], sep: str = ".") -> dict[str, Any]:
    """`item` with nested records spread into `parent.child` keys; lists stay values, empty records go
    (what `pandas.json_normalize` does with one record)."""
    flat: dict[str, Any] = {}
    for key, value in item.items():
        if isinstance(value, Mapping):
            for inner, inner_value in flatten(value, sep).items():
                flat[f"{key}{sep}{inner}"] = inner_value
        else:
            flat[str(key)] = value
    return flat


def jobs_of(jobs: JobsArgument) -> tuple[bool, Iterator[Job]]:
    """Whether `jobs` is one job, and an iterator over the jobs (lazy: a generator is read as it is written)."""
    if isinstance(jobs, Job):
        return True, iter((jobs,))
    return False, iter(jobs)


def job_rows(jobs: JobsArgument, *, nested: bool = False) -> Iterator[dict[str, Any]]:
    """The rows of `jobs`: for one job its items; for several, every completed job's items, each after the
    `job_id` and `job_url` it came from (jobs without results are skipped). Flattened unless `nested`.

    Raise `JobStateError` when one job was given and it has no results (not completed).
    """
    single, stream = jobs_of(jobs)
    for job in stream:
        if job.status is not JobStatus.COMPLETED or job.results is None:
            if single:
                reason = f": {job.error}" if job.error else "; wait for it to finish (wait_for_job)"
                raise JobStateError(
                    f"Job {job.job_id} is {job.status.value}, it has no results{reason}", job_id=job.job_id
                )
            continue
        for item in job.results:
            row = dict(item) if nested else flatten(item)
            if not single:
                # The job's columns come first and win: a field called `job_id` must not hide which job it was.
                row = {
                    "job_id": job.job_id,
                    "job_url": job.url,
                    **{k: v for k, v in row.items() if k not in JOB_COLUMNS},
                }
            yield row
