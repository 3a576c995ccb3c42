"""The work one job's extraction does, wherever it runs: parse, extract, hash and fingerprint one response, and find
the request for the next page when the strategy paginates (`crawl.pagination`), which needs the parsed page.

Pure and synchronous. `ExtractionTask` carries everything the work needs as plain values, so it crosses into a
worker process by pickling (the strategy as its stored documents, compiled again there, once per process).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from meterlocal.crawl.pagination import next_request
from meterlocal.detect import content_hash, structural_signature
from meterlocal.extract import CompiledStrategy, compile_strategy
from meterlocal.fetch import FetchRequest
from meterlocal.models import Strategy

__all__ = ["ExtractionTask", "Processed", "process"]


@dataclass(frozen=True, slots=True)
class ExtractionTask:
    """One response to extract with one stored strategy.

    `deadline` is a `time.monotonic()` value (the clock is system-wide on Linux, macOS and Windows, so a worker
    process reads the same one); past it, or past `max_result_bytes` of values, the work raises `ExtractionError`.
    """

    strategy: Strategy
    body: bytes
    url: str
    charset: str | None
    content_type: str
    deadline: float
    max_result_bytes: int
    request: FetchRequest | None = None  # what fetched the page: given, the next page's request is looked for
    number: int = 1  # the page's number in its job's walk


class Processed(NamedTuple):
    """What a job stores from its extraction."""

    items: list[dict[str, Any]]
    content_hash: str
    structural_signature: dict[str, Any]
    warnings: list[str]
    next: FetchRequest | None = None  # the request for the page after this one, None when there is none


def process(task: ExtractionTask, compiled: CompiledStrategy | None = None) -> Processed:
    """Parse, extract, hash and fingerprint `task`'s response. The parsed tree is freed here, with the work.

    `compiled` is the task's strategy already compiled (in this process); without it the strategy is compiled
    here, from the compile cache after the first time.
    """
    if compiled is None:
        compiled = compile_strategy(task.strategy)
    extraction = compiled.run(
        task.body,
        url=task.url,
        charset=task.charset,
        content_type=task.content_type,
        deadline=task.deadline,
        max_result_bytes=task.max_result_bytes,
    )
    items = extraction.items
    signature = structural_signature(items, root=extraction.root, containers=extraction.containers)
    following = None
    if task.request is not None:
        following = next_request(compiled, extraction, task.request, task.url, task.number)
    return Processed(items, content_hash(items), signature, extraction.warnings, following)
