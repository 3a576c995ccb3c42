"""`ProcessIsolation`: extractions in a few worker processes; a job that is cancelled (past `job_timeout`, or
at shutdown) has its process killed, so no extraction outlives its job, whatever it is doing.

    run(task) -> an idle worker (or a new one) -> pickle the task down its pipe -> the worker compiles the
              strategy (cached per process), extracts, hashes -> pickles the outcome back
    cancelled while waiting -> SIGKILL the worker (its slot is free at once; a new worker starts on next use)

Each call's blocking pipe I/O runs in a daemon thread of its own, which ends when the worker answers or dies, so
neither a stuck worker nor its thread can keep the process from exiting. Workers start with `forkserver` where
it exists (a fork of a server process that imported meterlocal once: a few ms each) and `spawn` elsewhere; they
are daemonic and ignore SIGINT (a Ctrl-C in a terminal reaches the whole process group: the parent decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from meterlocal.errors import ExtractionError, MeterlocalError, UnavailableError
from meterlocal.extract import CompiledStrategy
from meterlocal.isolation.work import ExtractionTask, Processed, process

__all__ = ["ProcessIsolation", "start_method"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a worker answers: ("done", Processed), ("refused", message) for a MeterlocalError (the job fails with
# it), ("crashed", "TypeName: message") for anything else (a bug: the job fails as an internal error).
_Reply = tuple[str, Any]


def start_method() -> str:
    """`forkserver` where the platform has it (Linux, macOS), else `spawn`; never `fork` (this process has
    threads: the event loop's, SQLite's)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _context() -> BaseContext:
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        # Import the work (meterlocal, lxml, the C extension) once in the fork server, not in every worker;
        # `__main__` is left out of the list on purpose: the caller's script is not re-run there.
        context.set_forkserver_preload(["meterlocal.isolation.work"])
    return context


class ProcessIsolation:
    """At most `workers` extractions at once, each in a worker process of its own; workers start on first use."""

    def __init__(self, workers: int) -> None:
        self._size = workers
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self._context: BaseContext | None = None
        self.started = 0  # workers started so far (a test and the benchmark read it)
        self.killed = 0  # workers killed because their job was cancelled

    async def run(self, task: ExtractionTask, compiled: CompiledStrategy) -> Processed:
        async with self._slots:
            if self._closed:
                raise UnavailableError("The extraction processes are closed")
            worker = self._idle.pop() if self._idle else await _in_thread(self._start)
            self._busy.add(worker)
            healthy = False
            try:
                kind, value = await _in_thread(worker.call, task)
                healthy = True
            except asyncio.CancelledError:
                self.killed += 1
                logger.warning("killing extraction process %s: its job was cancelled", worker.pid)
                raise
            except (EOFError, OSError) as exc:
                code = worker.exitcode()
                raise ExtractionError(
                    f"The extraction process for {task.url} died (exit code {code}); the page or the strategy "
                    "may need more memory than the machine has"
                ) from exc
            finally:
                self._busy.discard(worker)
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    worker.kill()  # its call's thread sees the pipe close, reaps it and ends
        if kind == "done":
            return Processed(*value)
        if kind == "refused":
            raise ExtractionError(value)
        raise RuntimeError(value)

    def _start(self) -> _Worker:
        if self._context is None:
            self._context = _context()
        worker = _Worker(self._context)
        self.started += 1
        return worker

    def pids(self) -> list[int]:
        """The process ids of the workers alive now, idle and busy."""
        return [pid for worker in [*self._idle, *self._busy] if (pid := worker.pid) is not None]

    async def start(self) -> None:
        """Start every worker now (the first start also starts the fork server, which imports meterlocal: about
        a second), so no job's `job_timeout` pays for it."""
        if self._closed:
            raise UnavailableError("The extraction processes are closed")
        missing = self._size - len(self._idle) - len(self._busy)
        self._idle += await _in_thread(lambda: [self._start() for _ in range(missing)])

    async def stop(self, timeout: float) -> None:
        """Let idle workers exit (their pipe closes), kill busy ones and those still alive after `timeout`."""
        self._closed = True
        workers, self._idle = self._idle, []
        for worker in self._busy:
            worker.kill()
        for worker in workers:
            worker.hang_up()
        deadline = time.monotonic() + max(timeout, 0.0)
        await _in_thread(_reap, workers, deadline)

    def abandon(self) -> None:
        self._closed = True
        for worker in [*self._idle, *self._busy]:
            worker.kill()
        self._idle = []


class _Worker:
    """One worker process and the parent's end of its pipe. `call` blocks: run it in a thread."""

    def __init__(self, context: BaseContext) -> None:
        parent, child = context.Pipe()
        self._process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=serve, args=(child,), name="meterlocal-extract", daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def call(self, task: ExtractionTask) -> _Reply:
        try:
            self._conn.send(task)
            reply: _Reply = self._conn.recv()
            return reply
        except (EOFError, OSError):
            self._process.join(5)  # killed (or died): reap it here, where waiting is free
            self._conn.close()
            raise

    def exitcode(self) -> int | None:
        self._process.join(1)
        return self._process.exitcode

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # already reaped, or closed
            self._process.kill()

    def hang_up(self) -> None:
        """Close the pipe: an idle worker reads end-of-file and exits."""
        self._conn.close()

    def reap(self, deadline: float) -> None:
        self._process.join(max(0.0, deadline - time.monotonic()))
        if self._process.is_alive():
            self.kill()
            self._process.join(1)


def _reap(workers: list[_Worker], deadline: float) -> None:
    for worker in workers:
        worker.reap(deadline)


def _in_thread(call: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run `call(*args)` in a new daemon thread; the future settles in the running loop when it returns.

    Not the loop's default executor: its threads are joined when the interpreter exits, and a call blocked on a
    worker that is never killed would keep the process alive.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(failure: BaseException | None, result: Any) -> None:
        if future.done():  # cancelled meanwhile: the outcome has nobody to go to
            return
        if failure is not None:
            future.set_exception(failure)
        else:
            future.set_result(result)

    def target() -> None:
        failure: BaseException | None = None
        result: Any = None
        try:
            result = call(*args)
        except BaseException as exc:
            failure = exc
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(settle, failure, result)

    threading.Thread(target=target, name="meterlocal-isolation", daemon=True).start()
    return future


# The worker process --------------------------------------------------------------------------------------------
def serve(conn: Connection) -> None:
    """A worker's life: extract each task that arrives on `conn` and answer it, until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        reply: _Reply
        try:
            reply = ("done", tuple(process(task)))
        except MeterlocalError as exc:
            reply = ("refused", str(exc))
        except Exception as exc:  # a bug: the job fails as an internal error, the worker lives on
            reply = ("crashed", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as exc:  # a value that does not pickle
            conn.send(("crashed", f"{type(exc).__name__}: {exc}"))
