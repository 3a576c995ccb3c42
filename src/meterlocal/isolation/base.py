"""`Isolation`: where job extractions run. Two implementations: `threads.ThreadIsolation` (the default in the
library: cheap, but an extraction that cannot be interrupted keeps its thread until it ends) and
`processes.ProcessIsolation` (worker processes, one killed and replaced when its job times out)."""

from __future__ import annotations

from typing import Protocol

from meterlocal.extract import CompiledStrategy
from meterlocal.isolation.work import ExtractionTask, Processed

__all__ = ["Isolation"]


class Isolation(Protocol):
    """Runs `ExtractionTask`s off the event loop, at most a fixed number at once."""

    async def run(self, task: ExtractionTask, compiled: CompiledStrategy) -> Processed:
        """Extract `task` (`compiled` is its strategy compiled in this process). Raise `ExtractionError` when
        the document cannot be extracted. Cancelling the caller frees the capacity the task took, as far as the
        implementation can (a process is killed; a thread runs on until the extraction's own deadline)."""

    async def start(self) -> None:
        """Start the workers (the manager's open() calls this before any job runs)."""

    async def stop(self, timeout: float) -> None:
        """Stop every worker within about `timeout` seconds; later `run` calls raise `UnavailableError`."""

    def abandon(self) -> None:
        """Stop every worker at once, without an event loop (the loop the manager ran in has ended)."""
