"""`meterlocal schedule add|list|show|pause|resume|delete`, `changes`, `changelog` and `scheduler`.

`scheduler` is the one command that runs schedules: it keeps a manager open in the foreground, firing due
schedules, running their jobs and delivering webhooks, until Ctrl-C or SIGTERM. `serve` does the same behind the
REST API. The other commands only read or change the store.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from meterlocal.cli.jobs import parse_parameters
from meterlocal.cli.output import (
    changelog_table,
    console,
    item_lines,
    jobs_table,
    print_json,
    schedules_table,
)
from meterlocal.cli.root import (
    cli,
    database,
    db_option,
    describe_store,
    fetch_options,
    fetch_sources,
    isolation_option,
    json_option,
    resolve_id,
    resolve_strategy,
    run_async,
    run_with_manager,
    stop_on_signals,
)
from meterlocal.contract import ChangelogOut, ScheduleChangesOut, ScheduleOut
from meterlocal.manager import JobManager
from meterlocal.models import Changelog, Schedule, ScheduleChanges
from meterlocal.settings import Settings

__all__ = ["changelog", "changes", "parse_every", "schedule_group", "scheduler"]

T = TypeVar("T")

_SPAN = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_every(text: str) -> int:
    """`90`, `90s`, `15m`, `2h`, `1d`, `1w` -> seconds."""
    match = _SPAN.match(text)
    if match is None:
        raise click.BadParameter(f"{text!r} is not a duration such as 90s, 15m, 2h or 1d", param_hint="--every")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@cli.group("schedule")
def schedule_group() -> None:
    """Re-run a strategy on a schedule: add, list, show, pause, resume, delete."""


@schedule_group.command("add")
@click.argument("strategy")
@click.argument("urls", nargs=-1, required=True)
@click.option("--every", help="Interval: 90s, 15m, 2h, 1d (at least 1 s; the REST API asks for 60).")
@click.option("--cron", help="Five-field cron expression, e.g. '0 9 * * 1-5'.")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="IANA time zone of --cron.")
@click.option("--webhook", "webhook_url", help="POST every finished run here (Meter's payload).")
@click.option(
    "--webhook-on",
    type=click.Choice(["always", "changes"]),
    default="always",
    show_default=True,
    help="Tell the webhook about every run, or only runs whose content changed.",
)
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="API parameter override (repeatable).")
@db_option
@json_option
def add(
    strategy: str,
    urls: tuple[str, ...],
    every: str | None,
    cron: str | None,
    timezone: str,
    webhook_url: str | None,
    webhook_on: str,
    params: tuple[str, ...],
    db: Path | None,
    as_json: bool,
) -> None:
    """Re-run STRATEGY (an id or a name) on URLS (several make one batch per run)."""
    if (every is None) == (cron is None):
        raise click.UsageError("give --every or --cron (exactly one)")
    interval = parse_every(every) if every is not None else None

    async def work(jm: JobManager) -> Schedule:
        found = await resolve_strategy(jm, strategy)
        return await jm.create_schedule(
            found.strategy_id,
            url=urls[0] if len(urls) == 1 else None,
            urls=list(urls) if len(urls) > 1 else None,
            interval_seconds=interval,
            cron_expression=cron,
            timezone=timezone,
            parameters=parse_parameters(params),
            webhook_url=webhook_url,
            webhook_on=webhook_on,
        )

    created = run_with_manager(db, work)
    if as_json:
        print_json(ScheduleOut.of(created))
        return
    console().print(schedules_table([created]))
    if created.webhook_secret:
        click.echo(f"webhook secret (shown once): {created.webhook_secret}")
    click.echo("runs while `meterlocal scheduler` or `meterlocal serve` is running on this database")


@schedule_group.command("list")
@db_option
@json_option
def list_(db: Path | None, as_json: bool) -> None:
    """Every schedule, newest first."""
    schedules = run_with_manager(db, lambda jm: jm.list_schedules(limit=1000))
    if as_json:
        print_json([ScheduleOut.listed(s) for s in schedules])
    else:
        console().print(schedules_table(schedules))


@schedule_group.command("show")
@click.argument("schedule_id")
@db_option
@json_option
def show(schedule_id: str, db: Path | None, as_json: bool) -> None:
    """One schedule and its latest runs."""

    async def work(jm: JobManager) -> tuple[Schedule, list[Any]]:
        full = await resolve_id(jm, "schedule", schedule_id)
        return await jm.get_schedule(full), await jm.list_jobs(schedule_id=full, limit=10)

    schedule, jobs = run_with_manager(db, work)
    if as_json:
        print_json(ScheduleOut.listed(schedule))
        return
    console().print(schedules_table([schedule]))
    console().print(jobs_table(jobs, title=f"latest {len(jobs)} runs"))


def on_schedule(db: Path | None, ref: str, call: Callable[[JobManager, str], Awaitable[T]]) -> T:
    """`call(jm, schedule_id)` with the full id `ref` (an id or a prefix of one) names."""

    async def work(jm: JobManager) -> T:
        return await call(jm, await resolve_id(jm, "schedule", ref))

    return run_with_manager(db, work)


async def _deleted(jm: JobManager, schedule_id: str) -> str:
    await jm.delete_schedule(schedule_id)
    return schedule_id


def _set_enabled(schedule_id: str, db: Path | None, as_json: bool, *, enabled: bool) -> None:
    updated = on_schedule(db, schedule_id, lambda jm, full: jm.update_schedule(full, enabled=enabled))
    if as_json:
        print_json(ScheduleOut.listed(updated))
    else:
        click.echo(f"schedule {updated.schedule_id} {'resumed' if enabled else 'paused'}")


@schedule_group.command("pause")
@click.argument("schedule_id")
@db_option
@json_option
def pause(schedule_id: str, db: Path | None, as_json: bool) -> None:
    """Stop a schedule from running until `resume`."""
    _set_enabled(schedule_id, db, as_json, enabled=False)


@schedule_group.command("resume")
@click.argument("schedule_id")
@db_option
@json_option
def resume(schedule_id: str, db: Path | None, as_json: bool) -> None:
    """Run a paused schedule again (its next run is computed from now)."""
    _set_enabled(schedule_id, db, as_json, enabled=True)


@schedule_group.command("delete")
@click.argument("schedule_id")
@db_option
def delete(schedule_id: str, db: Path | None) -> None:
    """Delete a schedule; its past jobs stay."""
    full = on_schedule(db, schedule_id, lambda jm, full: _deleted(jm, full))
    click.echo(f"schedule {full} deleted (its jobs stay)")


@cli.command()
@click.argument("schedule_id")
@click.option("--filter", "keywords", help='Keywords: "+a +b" all, "a b" any, "-a" none, \'"a phrase"\'.')
@click.option("--peek", is_flag=True, help="Do not mark the changes seen.")
@db_option
@json_option
def changes(schedule_id: str, keywords: str | None, peek: bool, db: Path | None, as_json: bool) -> None:
    """The runs of SCHEDULE_ID whose content changed since you last looked (then marked seen, unless --peek)."""
    found: ScheduleChanges = on_schedule(
        db, schedule_id, lambda jm, full: jm.get_schedule_changes(full, mark_seen=not peek, filter=keywords)
    )
    if as_json:
        print_json(ScheduleChangesOut.from_changes(found))
        return
    if not found.changes:
        click.echo("no unseen changes")
        return
    console().print(jobs_table(found.changes, title=f"{found.count} unseen changed runs"))
    if not peek:
        click.echo("marked seen (use --peek to look without marking)")


@cli.command()
@click.argument("schedule_id")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="Changed runs to show.")
@click.option("--filter", "keywords", help="Keywords, as for `changes`.")
@db_option
@json_option
def changelog(schedule_id: str, limit: int, keywords: str | None, db: Path | None, as_json: bool) -> None:
    """The changed runs of SCHEDULE_ID, newest first, with their new, removed and changed items."""
    log: Changelog = on_schedule(
        db, schedule_id, lambda jm, full: jm.get_schedule_changelog(full, limit=limit, filter=keywords)
    )
    if as_json:
        print_json(ChangelogOut.of(log))
        return
    out = console()
    out.print(changelog_table(log))
    for entry in log.entries:
        lines = item_lines(entry)
        if lines:
            out.print(f"\n{entry.job_id}  {entry.url}")
            for line in lines:
                out.print(line)


@cli.command()
@db_option
@fetch_options
@click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds per look.")
@isolation_option
def scheduler(db: Path | None, poll: float, isolation: str) -> None:
    """Run schedules in the foreground until Ctrl-C: fire due schedules, run their jobs, deliver webhooks.

    For a machine with no server: `meterlocal serve` runs schedules too. Several schedulers (or servers) on one
    database are fine: each due time fires once.
    """
    path = database(db)
    sources = fetch_sources()

    async def main() -> None:
        with stop_on_signals() as stop:
            settings = Settings(schedule_poll_seconds=poll, isolation=isolation)
            async with JobManager(path, settings, **sources) as jm:
                schedules = await jm.list_schedules(limit=1000)
                enabled = sum(1 for s in schedules if s.enabled)
                click.echo(
                    f"meterlocal: scheduler on {describe_store(path)}: {enabled} enabled schedule(s); Ctrl-C stops",
                    err=True,
                )
                await stop.wait()
        click.echo("meterlocal: scheduler stopped", err=True)

    try:
        run_async(main())
    except KeyboardInterrupt:  # Windows: no signal handlers
        click.echo("meterlocal: scheduler stopped", err=True)
