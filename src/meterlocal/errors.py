"""Every exception meterlocal raises, under one root.

    MeterlocalError
    ├── ValidationError (ValueError)          bad input from the caller; HTTP 400
    │   ├── StrategyError                     a strategy document that cannot be compiled (.field, .selector)
    │   ├── JobStateError                     an operation the job's status does not allow (compare a pending job)
    │   └── AmbiguousIdError                  an id prefix that several ids start with (.prefix, .matches)
    ├── NotFoundError (LookupError)           an id that is not in the store; HTTP 404
    │   ├── StrategyNotFoundError             (.strategy_id)
    │   ├── JobNotFoundError                  (.job_id)
    │   ├── BatchNotFoundError                (.batch_id)
    │   ├── ScheduleNotFoundError             (.schedule_id)
    │   ├── DiscoveryNotFoundError            (.discovery_id)
    │   ├── WorkflowNotFoundError             (.workflow_id)
    │   └── WorkflowRunNotFoundError          (.workflow_id, .run_id; also "no completed run yet")
    ├── JobTimeoutError (TimeoutError)        a wait for a job ran out of time; the job keeps running (.job_id)
    ├── WorkflowTimeoutError (TimeoutError)   a wait for a workflow run ran out of time; it keeps running (.run_id)
    ├── ExtractionError                       a document that cannot be parsed or extracted; the job fails
    ├── FetchError                            a page that cannot be fetched; the job fails (.url)
    │   ├── HTTPStatusError                   a non-2xx answer after retries (.status)
    │   ├── FetchTimeoutError (TimeoutError)  the site did not answer in time
    │   ├── ResponseTooLargeError             the body passed the size limit while streaming (.limit)
    │   ├── BlockedURLError                   the security policy refused the URL (scheme, private address)
    │   │   └── RobotsDisallowedError         the host's robots.txt disallows the URL for our user agent
    │   └── SitemapError                      a sitemap that is not XML, too big once decompressed, or nested too deep
    ├── UnavailableError                      the store or manager cannot serve now (closed, read-only); HTTP 503
    ├── GeneratorMissingError (NotImplementedError)  a description-only generate/refine and no
    │                                         Settings(strategy_generator=...); HTTP 501
    └── MissingDependencyError (ImportError)  an optional package is not installed (.package, .extra)

Job-level failures (fetch and extraction) never escape `JobManager`: they become a `failed` job whose `error`
is the exception's message, so every message here is a sentence a person can act on.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousIdError",
    "BatchNotFoundError",
    "BatchTimeoutError",
    "BlockedURLError",
    "DiscoveryNotFoundError",
    "EventLoopError",
    "ExtractionError",
    "FetchError",
    "FetchTimeoutError",
    "GeneratorMissingError",
    "HTTPStatusError",
    "JobNotFoundError",
    "JobStateError",
    "JobTimeoutError",
    "MeterlocalError",
    "MissingDependencyError",
    "NotFoundError",
    "ResponseTooLargeError",
    "RobotsDisallowedError",
    "ScheduleNotFoundError",
    "SitemapError",
    "StrategyError",
    "StrategyNotFoundError",
    "UnavailableError",
    "ValidationError",
    "WorkflowNotFoundError",
    "WorkflowRunNotFoundError",
    "WorkflowTimeoutError",
]


class MeterlocalError(Exception):
    """Root of every error meterlocal raises on purpose."""


class ValidationError(MeterlocalError, ValueError):
    """The caller passed something meterlocal cannot accept; the message names it."""


class StrategyError(ValidationError):
    """A strategy document that cannot be compiled: unknown key, invalid selector, bad regex."""

    def __init__(self, message: str, *, field: str | None = None, selector: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.selector = selector


class JobStateError(ValidationError):
    """The job is not in a status that allows the operation (for instance comparing an unfinished job)."""

    def __init__(self, message: str, *, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id


class AmbiguousIdError(ValidationError):
    """A short id (a prefix, as git takes) that more than one id starts with."""

    def __init__(self, kind: str, prefix: str, matches: list[str]) -> None:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        super().__init__(f"{kind} id {prefix!r} is ambiguous: it starts {shown}; give more characters")
        self.prefix = prefix
        self.matches = matches


class NotFoundError(MeterlocalError, LookupError):
    """An id that the store does not hold."""

    def __str__(self) -> str:
        # LookupError's str() would quote the message like a dict key.
        return str(self.args[0]) if self.args else ""


class StrategyNotFoundError(NotFoundError):
    def __init__(self, strategy_id: str) -> None:
        super().__init__(f"Strategy not found: {strategy_id}")
        self.strategy_id = strategy_id


class JobNotFoundError(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job not found: {job_id}")
        self.job_id = job_id


class BatchNotFoundError(NotFoundError):
    def __init__(self, batch_id: str) -> None:
        super().__init__(f"Batch not found: {batch_id}")
        self.batch_id = batch_id


class ScheduleNotFoundError(NotFoundError):
    def __init__(self, schedule_id: str) -> None:
        super().__init__(f"Schedule not found: {schedule_id}")
        self.schedule_id = schedule_id


class DiscoveryNotFoundError(NotFoundError):
    def __init__(self, discovery_id: str) -> None:
        super().__init__(f"Discovery not found: {discovery_id}")
        self.discovery_id = discovery_id


class WorkflowNotFoundError(NotFoundError):
    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"Workflow not found: {workflow_id}")
        self.workflow_id = workflow_id


class WorkflowRunNotFoundError(NotFoundError):
    def __init__(self, workflow_id: str, run_id: str | None, message: str | None = None) -> None:
        super().__init__(message or f"Workflow run not found: {run_id} (workflow {workflow_id})")
        self.workflow_id = workflow_id
        self.run_id = run_id


class WorkflowTimeoutError(MeterlocalError, TimeoutError):
    """A wait for a workflow run ran out of time. The run is not cancelled."""

    def __init__(self, run_id: str, timeout: float) -> None:
        super().__init__(
            f"Workflow run {run_id} did not finish within {timeout:g} s; it keeps running, poll it with "
            "get_workflow_run() or cancel it with cancel_workflow_run()"
        )
        self.run_id = run_id
        self.timeout = timeout


class JobTimeoutError(MeterlocalError, TimeoutError):
    """A wait for a job ran out of time. The job itself is not cancelled."""

    def __init__(self, job_id: str, timeout: float) -> None:
        super().__init__(
            f"Job {job_id} did not finish within {timeout:g} s; it keeps running, "
            f"poll it with get_job({job_id!r}) or wait_for_job()"
        )
        self.job_id = job_id
        self.timeout = timeout


class BatchTimeoutError(MeterlocalError, TimeoutError):
    """A wait for a batch ran out of time. Its jobs are not cancelled."""

    def __init__(self, batch_id: str, timeout: float, unfinished: int, total: int) -> None:
        super().__init__(
            f"Batch {batch_id}: {unfinished} of {total} jobs did not finish within {timeout:g} s; they keep "
            f"running, poll it with get_batch_progress({batch_id!r}) or wait_for_batch()"
        )
        self.batch_id = batch_id
        self.timeout = timeout
        self.unfinished = unfinished


class ExtractionError(MeterlocalError):
    """A document that cannot be parsed, or a strategy that cannot be applied to it."""


class FetchError(MeterlocalError):
    """A page that could not be fetched. The message is the failed job's `error`."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class FetchTimeoutError(FetchError, TimeoutError):
    pass


class ResponseTooLargeError(FetchError):
    def __init__(self, message: str, *, url: str, limit: int) -> None:
        super().__init__(message, url=url)
        self.limit = limit


class BlockedURLError(FetchError):
    pass


class RobotsDisallowedError(BlockedURLError):
    """robots.txt of the URL's host disallows it for the user agent (`Settings.obey_robots`, discovery)."""


class SitemapError(FetchError):
    """A sitemap that cannot be read: not XML, not a sitemap, past the decompressed size limit, nested too deep."""


class UnavailableError(MeterlocalError):
    """The store or the manager cannot serve the request now (closed, read-only file, disk full)."""


class GeneratorMissingError(MeterlocalError, NotImplementedError):
    """A strategy was asked for from a description only, and no `Settings(strategy_generator=...)` is set."""


class EventLoopError(MeterlocalError, RuntimeError):
    """A `JobManager` was used from an event loop other than the one it was opened in."""


class MissingDependencyError(MeterlocalError, ImportError):
    """An optional feature needs a package that is not installed; the message says which extra to install."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(f"{feature} needs {package}, which is not installed: pip install 'meterlocal[{extra}]'")
        self.package = package
        self.extra = extra
