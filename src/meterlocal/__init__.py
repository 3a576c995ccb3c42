"""meterlocal: a local, embeddable scraping engine that speaks Meter's Jobs API.

`JobManager` runs strategies as jobs over a SQLite store inside your event loop; `extract` applies a strategy to
one document with no store and no network; `compare` tells how two result sets differ.
"""

from meterlocal.clock import ManualClock
from meterlocal.detect import compare, content_hash, structural_signature
from meterlocal.errors import (
    BatchNotFoundError,
    BatchTimeoutError,
    BlockedURLError,
    EventLoopError,
    ExtractionError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    JobNotFoundError,
    JobStateError,
    JobTimeoutError,
    MeterlocalError,
    NotFoundError,
    ResponseTooLargeError,
    ScheduleNotFoundError,
    StrategyError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
    WorkflowNotFoundError,
    WorkflowRunNotFoundError,
    WorkflowTimeoutError,
)
from meterlocal.extract import compile_strategy, extract, strategy_json_schema
from meterlocal.extract.infer import StrategyProposal, infer_strategy
from meterlocal.manager import JobManager
from meterlocal.models import (
    Batch,
    BatchProgress,
    ChangedItem,
    Changelog,
    ChangelogEntry,
    Comparison,
    HistoryEntry,
    Job,
    JobStatus,
    Schedule,
    ScheduleChanges,
    Strategy,
    WebhookAttempt,
    WebhookDelivery,
    WebhookTestResult,
)
from meterlocal.settings import Settings
from meterlocal.sync import SyncJobManager
from meterlocal.workflows import NodeExecution, Workflow, WorkflowOutput, WorkflowRun

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "BatchNotFoundError",
    "BatchProgress",
    "BatchTimeoutError",
    "BlockedURLError",
    "ChangedItem",
    "Changelog",
    "ChangelogEntry",
    "Comparison",
    "EventLoopError",
    "ExtractionError",
    "FetchError",
    "FetchTimeoutError",
    "HTTPStatusError",
    "HistoryEntry",
    "Job",
    "JobManager",
    "JobNotFoundError",
    "JobStateError",
    "JobStatus",
    "JobTimeoutError",
    "ManualClock",
    "MeterlocalError",
    "NodeExecution",
    "NotFoundError",
    "ResponseTooLargeError",
    "Schedule",
    "ScheduleChanges",
    "ScheduleNotFoundError",
    "Settings",
    "Strategy",
    "StrategyError",
    "StrategyNotFoundError",
    "StrategyProposal",
    "SyncJobManager",
    "UnavailableError",
    "ValidationError",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTestResult",
    "Workflow",
    "WorkflowNotFoundError",
    "WorkflowOutput",
    "WorkflowRun",
    "WorkflowRunNotFoundError",
    "WorkflowTimeoutError",
    "__version__",
    "compare",
    "compile_strategy",
    "content_hash",
    "extract",
    "infer_strategy",
    "strategy_json_schema",
    "structural_signature",
]
