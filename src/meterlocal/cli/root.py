"""The `meterlocal` click group, the options every command shares, and the one place errors become exit codes.

Exit codes: 0 success; 1 a job failed (or the operation failed while running: store unavailable, timeout);
2 a usage error (bad option, unknown id or name, invalid strategy file). Only the CLI configures logging.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import click

from meterlocal import __version__
from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.errors import MeterlocalError, NotFoundError, StrategyNotFoundError, ValidationError
from meterlocal.manager import JobManager
from meterlocal.models import Strategy
from meterlocal.settings import Settings
from meterlocal.store import IdKind, is_postgres_url
from meterlocal.store.postgres.store import redacted

__all__ = [
    "DEFAULT_DB",
    "CommandFailed",
    "FetchSources",
    "Location",
    "StoreLocation",
    "UsageFailure",
    "cli",
    "database",
    "db_option",
    "describe_store",
    "fetch_options",
    "fetch_sources",
    "invocation",
    "isolation_option",
    "json_option",
    "resolve_id",
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


Location = Path | str
"""Where a command's store is: a SQLite file, or a PostgreSQL URL (kept as text: a Path would fold its `//`)."""


class StoreLocation(click.ParamType):  # type: ignore[type-arg]
    """`--db`: a `postgresql://` URL as it is, anything else a SQLite file path."""

    name = "path-or-url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Location:
        if isinstance(value, Path) or is_postgres_url(value):
            return value  # type: ignore[no-any-return]
        return Path(value)


DB_HELP = "SQLite file or postgresql:// URL (env METERLOCAL_DB; default ./meterlocal.db)"


def describe_store(location: Location) -> str:
    """The store for a person to read: a file's absolute path, or a URL without its password."""
    return redacted(location) if isinstance(location, str) else str(location.resolve())


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="meterlocal")
@click.option(
    "--db",
    "root_db",
    envvar="METERLOCAL_DB",
    type=StoreLocation(),
    default=None,
    help=f"{DB_HELP}. Also accepted after the command.",
)
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug) on stderr.")
@click.pass_context
def cli(ctx: click.Context, root_db: Location | None, verbose: int) -> None:
    """meterlocal: Meter's Jobs API on your machine. Strategies, jobs, batches and change detection over SQLite
    (or a shared PostgreSQL)."""
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
        type=StoreLocation(),
        default=None,
        help=f"{DB_HELP}.",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of tables.")(func)


def database(db: Location | None) -> Location:
    """The database a command uses: its own --db, the group's --db, METERLOCAL_DB, or ./meterlocal.db."""
    if db is not None:
        return db
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    if isinstance(root, dict) and root.get("db") is not None:
        given: Location = root["db"]
        return given
    return Path(DEFAULT_DB)


def _remember(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.meta[f"meterlocal.{param.name}"] = value


_FETCH_OPTIONS = (
    ("--fixtures", "Replay the pages saved in DIR (its manifest.json) instead of fetching: offline."),
    ("--record", "Fetch live and save every page (and a manifest.json) into DIR, for --fixtures DIR later."),
)


def fetch_options(func: F) -> F:
    """`--fixtures DIR` (replay saved pages, offline) and `--record DIR` (fetch live and save every page), on each
    command that runs jobs; `fetch_sources()` reads them back."""
    for flag, text in reversed(_FETCH_OPTIONS):
        path = click.Path(file_okay=False, path_type=Path)
        func = click.option(flag, type=path, expose_value=False, callback=_remember, help=text)(func)
    return func


class FetchSources(TypedDict):
    """`JobManager`'s `fixtures=` and `record=`."""

    fixtures: Path | None
    record: Path | None


def fetch_sources() -> FetchSources:
    """The `fixtures=` and `record=` a command's manager gets from `--fixtures` and `--record`."""
    ctx = click.get_current_context(silent=True)
    meta = ctx.meta if ctx is not None else {}
    return {"fixtures": meta.get("meterlocal.fixtures"), "record": meta.get("meterlocal.record")}


def invocation() -> str:
    """How to run meterlocal again from a shell: `meterlocal` when that is this installation's script on PATH,
    else `python -m meterlocal` with this interpreter (a virtualenv that is not activated)."""
    found = shutil.which("meterlocal")
    here = Path(sys.executable).absolute().parent
    if found is not None and Path(found).absolute().parent == here:
        return "meterlocal"
    return f"{shlex.quote(sys.executable)} -m meterlocal"


def run_with_manager(
    db: Location | None,
    work: Callable[[JobManager], Awaitable[T]],
    *,
    settings: Settings = READ_SETTINGS,
    run_schedules: bool = False,
) -> T:
    """Open a `JobManager` on the database, run `work`, close it; turn meterlocal errors into exit codes.

    Only `meterlocal scheduler` and `serve` fire schedules: a short command would start runs it cannot finish.
    The manager replays or records pages as the command's `--fixtures`/`--record` say."""
    sources = fetch_sources()

    async def go() -> T:
        # Commands that only read leave other processes' unfinished jobs alone; commands that run jobs resume them.
        resume = settings is not READ_SETTINGS
        async with JobManager(database(db), settings, resume=resume, run_schedules=run_schedules, **sources) as jm:
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


async def resolve_id(jm: JobManager, kind: IdKind, ref: str) -> str:
    """The full id `ref` names: itself, or the one id that starts with it (git-like short ids)."""
    return await jm.resolve_id(kind, ref)


async def resolve_strategy(jm: JobManager, ref: str) -> Strategy:
    """A strategy by id, else by its exact name (which must be unique), else by id prefix (git-like)."""
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
    try:
        return await jm.get_strategy(await jm.resolve_id("strategy", ref))
    except StrategyNotFoundError:
        raise UsageFailure(
            f"Strategy not found: {ref} (give an id, an id prefix or an exact name; see `meterlocal strategy list`)"
        ) from None


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
