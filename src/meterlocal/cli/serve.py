"""`meterlocal serve`: Meter's Jobs API over HTTP. Signals and messages live here, never in the server package."""

from __future__ import annotations

import errno
import ipaddress
from pathlib import Path

import click

from meterlocal.cli.root import (
    CommandFailed,
    UsageFailure,
    cli,
    database,
    db_option,
    describe_store,
    fetch_options,
    fetch_sources,
    isolation_option,
    run_async,
    stop_on_signals,
)
from meterlocal.manager import JobManager
from meterlocal.server import DEFAULT_MAX_BODY_BYTES, run_server
from meterlocal.settings import Settings

__all__ = ["is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether binding `host` only accepts connections from this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@cli.command()
@db_option
@fetch_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="0 picks a free port.")
@click.option(
    "--api-key",
    envvar="METERLOCAL_API_KEY",
    help="Require 'Authorization: Bearer KEY' on every /api route (env METERLOCAL_API_KEY).",
)
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without an API key.")
@click.option(
    "--allow-private-addresses",
    is_flag=True,
    help="Turn the SSRF guard off: let jobs fetch private, loopback and link-local addresses.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="A host jobs may fetch even though it is private (repeatable), e.g. an internal API.",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(1),
    default=DEFAULT_MAX_BODY_BYTES,
    show_default=True,
    help="Largest request body accepted; larger ones get 413.",
)
@click.option(
    "--execute-timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds POST /api/jobs/execute waits before answering 503 (the job keeps running). Default 3600.",
)
@click.option(
    "--job-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=Settings.model_fields["job_timeout"].default,
    show_default=True,
    help="Seconds one job may take; past it the job fails and its extraction process is killed.",
)
@isolation_option
def serve(
    db: Path | None,
    host: str,
    port: int,
    api_key: str | None,
    insecure: bool,
    allow_private_addresses: bool,
    allow_hosts: tuple[str, ...],
    max_body_bytes: int,
    execute_timeout: float | None,
    job_timeout: float,
    isolation: str,
) -> None:
    """Serve Meter's Jobs API (POST /api/jobs, /api/jobs/execute, ...) for curl and meter-sdk's MeterClient.

    Stops cleanly on Ctrl-C or SIGTERM: in-flight requests get a few seconds, unfinished jobs stay in the
    database and resume on the next start.
    """
    if api_key is not None and not api_key.strip():
        raise UsageFailure("--api-key must not be empty")
    if not is_loopback(host) and api_key is None and not insecure:
        raise UsageFailure(
            f"refusing to listen on {host} without an API key: anyone who can reach it could run scrapes. "
            "Set --api-key (or METERLOCAL_API_KEY), or pass --insecure if you mean it."
        )
    settings = Settings(
        block_private_addresses=not allow_private_addresses,
        allowed_private_hosts=allow_hosts,
        isolation=isolation,
        job_timeout=job_timeout,
    )
    path = database(db)
    sources = fetch_sources()

    def ready(addresses: list[tuple[str, int]]) -> None:
        for bound_host, bound_port in addresses:
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            click.echo(f"meterlocal: listening on http://{shown}:{bound_port}", err=True)
        click.echo(f"meterlocal: database {describe_store(path)}", err=True)
        if api_key is None:
            scope = "this machine only" if is_loopback(host) else "ANYONE WHO CAN REACH THIS ADDRESS"
            click.echo(f"meterlocal: auth off: no API key, any client on {scope} can use the API", err=True)
        else:
            click.echo("meterlocal: auth on: every /api route needs 'Authorization: Bearer <key>'", err=True)
        if allow_private_addresses:
            click.echo("meterlocal: SSRF guard off: jobs may fetch private and loopback addresses", err=True)
        else:
            extra = f" except {', '.join(allow_hosts)}" if allow_hosts else ""
            click.echo(f"meterlocal: SSRF guard on: jobs may not fetch private or loopback addresses{extra}", err=True)
        if isolation == "process":
            click.echo(f"meterlocal: extractions in {settings.extract_processes} worker processes", err=True)
        click.echo(f"meterlocal: request bodies up to {max_body_bytes} bytes; Ctrl-C stops", err=True)

    async def main() -> None:
        with stop_on_signals() as stop:
            try:
                await run_server(
                    JobManager(path, settings, **sources),
                    host=host,
                    port=port,
                    api_key=api_key,
                    max_body_bytes=max_body_bytes,
                    execute_timeout=execute_timeout,
                    stop=stop,
                    ready=ready,
                )
            except OSError as exc:
                if exc.errno in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
                    raise CommandFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
                raise CommandFailed(f"the server stopped: {exc}") from exc
        click.echo("meterlocal: stopped", err=True)

    run_async(main())
