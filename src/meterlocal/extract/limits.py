"""How far one extraction may go: a deadline, a cap on the values it produces, and the size of a strategy.

`Run` is one extraction of one document. `HtmlStrategy.run` and `ApiStrategy.run` make it from their
`deadline` / `max_result_bytes` arguments and make it current in their thread while they work, so that the loops
that can run long check it without being handed it: the C walks call `checkpoint()` every few thousand elements
(where they also let other threads take the GIL), the Python matchers on every `:has()` test, and the record loop
once per item. A run also holds the memo of sibling positions that structural pseudo-classes share (`memo`), so an
element's position among thousands of siblings is counted once per document, not once per test.

`check_strategy_size` bounds a strategy document before anything compiles it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from time import monotonic
from typing import Any

from meterlocal.errors import ExtractionError, StrategyError

__all__ = [
    "MAX_STRATEGY_BYTES",
    "MAX_STRATEGY_DEPTH",
    "MAX_STRATEGY_FIELDS",
    "Run",
    "check_strategy_size",
    "checkpoint",
    "current",
    "memo",
    "quoted",
]

# A legal 858 KB strategy of 40,000 fields took 23 s to compile; real strategies have tens of fields.
MAX_STRATEGY_BYTES = 256 * 1024  # the JSON of the document, output_schema and filter_config together
MAX_STRATEGY_FIELDS = 1_000  # fields at every level of nesting, added up
MAX_STRATEGY_DEPTH = 32  # nested objects and arrays in any of the three documents

_local = threading.local()


class Run:
    """One extraction: its deadline (a `time.monotonic()` value), what its values may add up to, its memo."""

    __slots__ = ("deadline", "max_result_bytes", "memo", "remaining")

    def __init__(self, *, deadline: float | None = None, max_result_bytes: int | None = None) -> None:
        self.deadline = deadline
        self.max_result_bytes = max_result_bytes
        self.remaining: float = float("inf") if max_result_bytes is None else max_result_bytes
        self.memo: dict[Any, Any] = {}

    def charge(self, size: int) -> None:
        """Count `size` characters of extracted values; raise `ExtractionError` past `max_result_bytes`."""
        self.remaining -= size
        if self.remaining < 0:
            raise ExtractionError(
                f"The extracted values passed max_result_bytes ({self.max_result_bytes:,} bytes) before the "
                "extraction finished; narrow the selectors (a field matching nested elements repeats their text) "
                "or raise the limit"
            )

    def check_time(self) -> None:
        """Raise `ExtractionError` if the deadline has passed."""
        if self.deadline is not None and monotonic() > self.deadline:
            raise _late()

    @contextmanager
    def active(self) -> Iterator[Run]:
        """Make this run the current one in this thread (what `checkpoint()` and `memo()` find)."""
        before = getattr(_local, "run", None)
        _local.run = self
        _local.deadline = self.deadline
        try:
            yield self
        finally:
            _local.run = before
            _local.deadline = None if before is None else before.deadline


def _late() -> ExtractionError:
    return ExtractionError(
        "The extraction was stopped at its deadline: the job exceeded job_timeout "
        "(a selector or a page too costly to finish in time)"
    )


def current() -> Run | None:
    """The run in progress in this thread, if any."""
    return getattr(_local, "run", None)


def checkpoint() -> None:
    """Raise `ExtractionError` if the run in progress in this thread is past its deadline (cheap otherwise)."""
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and monotonic() > deadline:
        raise _late()


def memo() -> dict[Any, Any] | None:
    """The current run's memo (sibling positions), or None outside a run."""
    run = getattr(_local, "run", None)
    return None if run is None else run.memo


def quoted(text: str, limit: int = 200) -> str:
    """`text` as messages quote it (repr), cut short: a 20 KB selector must not make a 20 KB error message."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r} (and {len(text) - limit:,} more characters)"


def check_strategy_size(size: int, *documents: Any) -> None:
    """Refuse a strategy whose JSON is `size` bytes or more than the bounds above allow, with a `StrategyError`.

    `documents` are the strategy document, its output_schema and its filter_config (None where absent). The walk
    is iterative, so a document nested far too deep is measured, not recursed into.
    """
    if size > MAX_STRATEGY_BYTES:
        raise StrategyError(
            f"the strategy is {size:,} bytes of JSON; at most {MAX_STRATEGY_BYTES:,} are accepted "
            "(split it into several strategies)"
        )
    fields = 0
    stack: list[tuple[Any, int, bool]] = [(document, 1, False) for document in documents if document is not None]
    while stack:
        value, depth, is_fields = stack.pop()
        if depth > MAX_STRATEGY_DEPTH:
            raise StrategyError(f"the strategy nests objects and lists more than {MAX_STRATEGY_DEPTH} levels deep")
        if isinstance(value, Mapping):
            if is_fields:
                fields += len(value)
                if fields > MAX_STRATEGY_FIELDS:
                    raise StrategyError(
                        f"the strategy has more than {MAX_STRATEGY_FIELDS:,} fields (nested fields included)"
                    )
            stack.extend((item, depth + 1, key == "fields") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, depth + 1, False) for item in value)
