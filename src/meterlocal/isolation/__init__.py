"""Where job extractions run: threads (`Settings(isolation="thread")`, the library's default) or worker
processes that are killed when their job times out (`isolation="process"`, the default of `meterlocal serve` and
`meterlocal scheduler`). The manager builds one with `build_isolation` and the runner hands it each job's page."""

from __future__ import annotations

from concurrent.futures import Executor

from meterlocal.isolation.base import Isolation
from meterlocal.isolation.processes import ProcessIsolation
from meterlocal.isolation.threads import ThreadIsolation
from meterlocal.isolation.work import ExtractionTask, Processed, process
from meterlocal.settings import Settings

__all__ = [
    "ExtractionTask",
    "Isolation",
    "ProcessIsolation",
    "Processed",
    "ThreadIsolation",
    "build_isolation",
    "process",
]


def build_isolation(settings: Settings, pool: Executor) -> Isolation:
    """The isolation `settings.isolation` names: `pool` (the manager's threads) or `extract_processes` workers."""
    if settings.isolation == "process":
        return ProcessIsolation(settings.extract_processes)
    return ThreadIsolation(pool)
