"""The `meterlocal` click group, the options every command shares, and the one place errors become exit codes.

Exit codes: 0 success; 1 a job failed (or the operation failed while running: store unavailable, timeout);
2 a usage error (bad option, unknown id or name, invalid strategy file). Only the CLI configures logging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from meterlocal import __version__
from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.errors import MeterlocalError, NotFoundError, StrategyNotFoundError, ValidationError
from meterlocal.manager import JobManager
from meterlocal.models import Strategy
from meterlocal.settings import Settings

__all__ = [
    "DEFAULT_DB",
    "CommandFailed",
    "UsageFailure",
    "cli",
    "database",
    "db_option",
    "isolation_option",
    "json_option",
    "resolve_strategy",
    "run_async",
    "run_with_manager",
    "stop_on_signals",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "meterlocal.db"
READ_SETTINGS = Settings(shutdown_timeout=0)
"""For commands that only read: closing never waits for jobs adopted from a stopped process (they stay pending)."""


class UsageFailure(click.ClickException):
    """A bad argument the user can fix (unknown id, invalid strategy file): `Error: ...`, exit code 2."""

    exit_code = 2


class CommandFailed(click.ClickException):
    """A job failed, or the command failed while running (store unavailable, port in use): exit code 1."""

    exit_code = 1


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="meterlocal")
@click.option(
    "--db",
    "root_db",
    envvar="METERLOCAL_DB",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"SQLite file (env METERLOCAL_DB; default ./{DEFAULT_DB}). Also accepted after the command.",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) on stderr.")
@click.pass_context
def cli(ctx: click.Context, root_db: Path | None, verbose: int) -> None:
    """meterlocal: Meter's Jobs API on your machine. Strategies, jobs, batches and change detection over SQLite."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = root_db
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="meterlocal: %(levelname)s %(name)s: %(message)s")


def isolation_option(func: F) -> F:
    """`--isolation process|thread` on a command that runs other people's strategies unattended (serve,
    scheduler): worker processes by default, so a job past job_timeout has its extraction killed."""
    return click.option(
        "--isolation",
        type=click.Choice(["process", "thread"]),
        default="process",
        show_default=True,
        help="Run extractions in worker processes (killed when their job times out) or in threads (cheaper; an "
        "XPath evaluation cannot be stopped).",
    )(func)


def db_option(func: F) -> F:
    """`--db PATH` on a command; falls back to the group's `--db`, then METERLOCAL_DB, then ./meterlocal.db."""
    return click.option(
        "--db",
        envvar="METERLOCAL_DB",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help=f"SQLite file (env METERLOCAL_DB; default ./{DEFAULT_DB}).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")(func)


def database(db: Path | None) -> Path:
    """The database a command uses: its own --db, the group's --db, METERLOCAL_DB, or ./meterlocal.db."""
    if db is not None:
        return db
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    if isinstance(root, dict) and root.get("db") is not None:
        return Path(root["db"])
    return Path(DEFAULT_DB)


def run_with_manager(
    db: Path | None,
    work: Callable[[JobManager], Awaitable[T]],
    *,
    settings: Settings = READ_SETTINGS,
    run_schedules: bool = False,
) -> T:
    """Open a `JobManager` on the database, run `work`, close it; turn meterlocal errors into exit codes.

    Only `meterlocal scheduler` and `serve` fire schedules: a short command would start runs it cannot finish."""

    async def go() -> T:
        # Commands that only read leave other processes' unfinished jobs alone; commands that run jobs resume them.
        resume = settings is not READ_SETTINGS
        async with JobManager(database(db), settings, resume=resume, run_schedules=run_schedules) as jm:
            return await work(jm)

    return run_async(go())


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` in a new event loop (the CLI is the only place meterlocal calls asyncio.run)."""
    try:
        return asyncio.run(coro)
    except (NotFoundError, ValidationError) as exc:
        raise UsageFailure(str(exc)) from exc
    except MeterlocalError as exc:
        raise CommandFailed(str(exc)) from exc


async def resolve_strategy(jm: JobManager, ref: str) -> Strategy:
    """A strategy by id, or else by its exact name (which must be unique)."""
    try:
        return await jm.get_strategy(ref)
    except StrategyNotFoundError:
        pass
    named: list[Strategy] = []
    offset = 0
    while True:
        page = await jm.list_strategies(limit=MAX_LIST_LIMIT, offset=offset)
        named += [s for s in page if s.name == ref]
        if len(page) < MAX_LIST_LIMIT:
            break
        offset += MAX_LIST_LIMIT
    if len(named) == 1:
        return named[0]
    if named:
        ids = ", ".join(s.strategy_id for s in named)
        raise UsageFailure(f"{len(named)} strategies are named {ref!r} ({ids}); give the id")
    raise UsageFailure(f"Strategy not found: {ref} (give an id or an exact name; see `meterlocal strategy list`)")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[asyncio.Event]:
    """An event that Ctrl-C or SIGTERM sets, for a command that runs until stopped (inside its event loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler: Ctrl-C arrives as KeyboardInterrupt there instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
