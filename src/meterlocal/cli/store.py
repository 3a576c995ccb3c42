"""`meterlocal store copy SRC DST`: move a store to another engine (a SQLite file into PostgreSQL) with its history."""

from __future__ import annotations

import click

from meterlocal.cli.root import StoreLocation, cli, describe_store, run_async
from meterlocal.store import store_for
from meterlocal.store.copy import copy_store

__all__ = ["store"]


@cli.group()
def store() -> None:
    """Manage stores: copy one into another."""


@store.command("copy")
@click.argument("source", type=StoreLocation())
@click.argument("target", type=StoreLocation())
@click.option("--chunk", type=click.IntRange(1, 100_000), default=500, show_default=True, help="Rows per transaction.")
def copy(source: str, target: str, chunk: int) -> None:
    """Copy SOURCE's strategies, jobs and results, schedules and webhook deliveries into TARGET.

    Rows TARGET already has are skipped, so running it again copies only what is new, and an interrupted copy is
    finished by running it again. Stop the managers and workers of SOURCE first, so nothing changes meanwhile.
    Example: meterlocal store copy scrapes.db postgresql://me@db.internal/meterlocal
    """

    async def main() -> None:
        async with store_for(source) as src, store_for(target) as dst:
            report = await copy_store(src, dst, chunk=chunk)
        for table, read in report.read.items():
            click.echo(f"{table}: {report.copied[table]} copied, {read - report.copied[table]} already there")
        click.echo(
            f"meterlocal: copied {report.total_copied} rows from {describe_store(source)} to {describe_store(target)}",
            err=True,
        )

    run_async(main())
