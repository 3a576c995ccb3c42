"""meterlocal: a local, embeddable scraping engine that speaks Meter's Jobs API.

`JobManager` runs strategies as jobs over a SQLite store inside your event loop; `extract` applies a strategy to
one document with no store and no network; `compare` tells how two result sets differ.
"""

from meterlocal.clock import ManualClock
from meterlocal.crawl import DiscoveredUrl, Discovery, DiscoveryMethod, DiscoveryStatus
from meterlocal.detect import compare, content_hash, structural_signature
from meterlocal.errors import (
    AmbiguousIdError,
    BatchNotFoundError,
    BatchTimeoutError,
    BlockedURLError,
    DiscoveryNotFoundError,
    EventLoopError,
    ExtractionError,
    FetchError,
    FetchTimeoutError,
    GeneratorMissingError,
    HTTPStatusError,
    JobNotFoundError,
    JobStateError,
    JobTimeoutError,
    MeterlocalError,
    MissingDependencyError,
    NotFoundError,
    ResponseTooLargeError,
    RobotsDisallowedError,
    ScheduleNotFoundError,
    SitemapError,
    StrategyError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from meterlocal.extract import compile_strategy, extract, strategy_json_schema
from meterlocal.extract.infer import StrategyProposal, infer_strategy
from meterlocal.extract.repair import RepairProposal, suggest_repair
from meterlocal.manager import JobManager
from meterlocal.models import (
    Batch,
    BatchProgress,
    ChangedItem,
    Changelog,
    ChangelogEntry,
    Comparison,
    History,
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
from meterlocal.tabular import export, to_dataframe

__version__ = "0.1.0"

__all__ = [
    "AmbiguousIdError",
    "Batch",
    "BatchNotFoundError",
    "BatchProgress",
    "BatchTimeoutError",
    "BlockedURLError",
    "ChangedItem",
    "Changelog",
    "ChangelogEntry",
    "Comparison",
    "DiscoveredUrl",
    "Discovery",
    "DiscoveryMethod",
    "DiscoveryNotFoundError",
    "DiscoveryStatus",
    "EventLoopError",
    "ExtractionError",
    "FetchError",
    "FetchTimeoutError",
    "GeneratorMissingError",
    "HTTPStatusError",
    "History",
    "HistoryEntry",
    "Job",
    "JobManager",
    "JobNotFoundError",
    "JobStateError",
    "JobStatus",
    "JobTimeoutError",
    "ManualClock",
    "MeterlocalError",
    "MissingDependencyError",
    "NotFoundError",
    "RepairProposal",
    "ResponseTooLargeError",
    "RobotsDisallowedError",
    "Schedule",
    "ScheduleChanges",
    "ScheduleNotFoundError",
    "Settings",
    "SitemapError",
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
    "__version__",
    "compare",
    "compile_strategy",
    "content_hash",
    "export",
    "extract",
    "infer_strategy",
    "strategy_json_schema",
    "structural_signature",
    "suggest_repair",
    "to_dataframe",
]
