"""`meterlocal worker`: a foreground process that runs the pending jobs and schedules of a store until stopped.

Any number of workers, on any number of hosts, pull from one PostgreSQL store (or, on one machine, one SQLite
file); each job runs once. Workers of one store must be configured alike (options, settings, reachable sites):
a job runs with whichever worker claims it, and each job records which one did (`Job.worker`).
"""

from __future__ import annotations

import click

from meterlocal.cli.root import Location, cli, database, db_option, describe_store, run_async, stop_on_signals
from meterlocal.manager import JobManager
from meterlocal.settings import Settings

__all__ = ["worker"]


@cli.command()
@db_option
@click.option("--concurrency", type=click.IntRange(1, 1024), default=16, show_default=True, help="Jobs at once.")
@click.option(
    "--per-host-limit",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Jobs at once against one host, counted over every worker of the store.",
)
@click.option(
    "--shutdown-timeout",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Seconds a stopping worker lets running jobs finish; the rest go back to the store for another worker.",
)
@click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True, help="Seconds per look.")
def worker(db: Location | None, concurrency: int, per_host_limit: int, shutdown_timeout: float, poll: float) -> None:
    """Run any pending job of the store (oldest first) and its due schedules until Ctrl-C or SIGTERM.

    On PostgreSQL a new job wakes an idle worker at once (LISTEN/NOTIFY), else within --poll seconds. Stopping
    finishes running jobs for up to --shutdown-timeout seconds and hands the rest back; a worker killed outright
    (SIGKILL, power loss) loses nothing either: another worker adopts its jobs once its lease runs out.
    """
    path = database(db)
    settings = Settings(
        concurrency=concurrency,
        per_host_limit=per_host_limit,
        shutdown_timeout=shutdown_timeout,
        schedule_poll_seconds=poll,
    )

    async def main() -> None:
        with stop_on_signals() as stop:
            async with JobManager(path, settings, claim="any") as jm:
                click.echo(
                    f"meterlocal: worker {jm.worker} on {describe_store(path)}: {concurrency} job(s) at once, "
                    f"{per_host_limit} per host; Ctrl-C or SIGTERM stops",
                    err=True,
                )
                await stop.wait()
                running = jm.pulled[1]
                click.echo(
                    f"meterlocal: stopping: {running} running job(s) get {shutdown_timeout:g} s to finish, "
                    "the rest go back to the store",
                    err=True,
                )
            click.echo(f"meterlocal: worker stopped after claiming {jm.pulled[0]} job(s)", err=True)

    try:
        run_async(main())
    except KeyboardInterrupt:  # Windows: no signal handlers
        click.echo("meterlocal: worker stopped", err=True)
