"""`meterlocal strategy add|update|list|show|delete`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.json import JSON

from meterlocal.arguments import MAX_LIST_LIMIT
from meterlocal.cli.output import console, print_json, strategies_table
from meterlocal.cli.root import UsageFailure, cli, db_option, json_option, resolve_strategy, run_with_manager
from meterlocal.contract import MAX_OFFSET, CreateStrategyBody, DeletedOut, StrategyOut
from meterlocal.manager import JobManager
from meterlocal.models import Strategy

__all__ = ["load_strategy_file", "strategy_group"]

_RECORD_KEYS = frozenset(CreateStrategyBody.model_fields)  # a strategy file holds what POST /api/strategies takes


def load_strategy_file(path: str) -> dict[str, Any]:
    """Read a strategy file (JSON, or YAML for .yaml/.yml; `-` is stdin) into a mapping, or fail with exit 2."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"cannot read {path}: {exc.strerror}") from exc
    yaml_file = path.lower().endswith((".yaml", ".yml"))
    try:
        data = yaml.safe_load(text) if yaml_file else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "YAML" if yaml_file else "JSON"
        raise UsageFailure(f"{path} is not valid {kind}: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageFailure(f"{path} must hold a mapping (a strategy document or a strategy record)")
    return data


def _record(data: dict[str, Any], path: str) -> dict[str, Any]:
    """Split a file into create_strategy's arguments: a full record has a `strategy` mapping; else the file is
    the strategy document itself."""
    if not isinstance(data.get("strategy"), dict):
        return {"strategy": data}
    unknown = sorted(set(data) - _RECORD_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_RECORD_KEYS))
        raise UsageFailure(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; a record has {allowed}")
    return dict(data)


@cli.group("strategy")
def strategy_group() -> None:
    """Add, list, show and delete strategies (saved extraction plans)."""


@strategy_group.command("add")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--name", help="Name to save it under (default: the file's `name`, or the file name).")
@click.option("--url", help="The page the strategy was written for (informative).")
@click.option("--description", help="What the strategy extracts.")
@click.option(
    "--replace", is_flag=True, help="Update the strategy of that name in place (same id) instead of adding another."
)
@db_option
@json_option
def add(
    file: str,
    name: str | None,
    url: str | None,
    description: str | None,
    replace: bool,
    db: Path | None,
    as_json: bool,
) -> None:
    """Save the strategy in FILE (.json or .yaml).

    FILE holds either a bare strategy document ({"container": ..., "fields": {...}}) or a record
    {"name", "url", "description", "strategy", "output_schema", "filter_config"}.
    """
    record = _record(load_strategy_file(file), file)
    record["name"] = name or record.get("name") or (Path(file).stem if file != "-" else "")
    if not record["name"]:
        raise UsageFailure("give the strategy a name with --name")
    if url is not None:
        record["url"] = url
    if description is not None:
        record["description"] = description

    async def work(jm: JobManager) -> Strategy:
        return await jm.create_strategy(
            record["name"],
            record["strategy"],
            url=record.get("url"),
            description=record.get("description") or "",
            output_schema=record.get("output_schema"),
            filter_config=record.get("filter_config"),
            if_exists="update" if replace else None,
        )

    strategy = run_with_manager(db, work)
    if as_json:
        print_json(StrategyOut.of(strategy))
    else:
        verb = "Saved" if replace else "Added"
        console().print(f"{verb} strategy {strategy.strategy_id}  {strategy.name} ({strategy.scraper_type})")


@strategy_group.command("update")
@click.argument("strategy")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--name", help="A new name.")
@click.option("--url", help="A new saved url (the default URL of its jobs).")
@click.option("--clear-url", is_flag=True, help="Remove the saved url.")
@click.option("--description", help="A new description.")
@db_option
@json_option
def update(
    strategy: str,
    file: str | None,
    name: str | None,
    url: str | None,
    clear_url: bool,
    description: str | None,
    db: Path | None,
    as_json: bool,
) -> None:
    """Change STRATEGY (an id, id prefix or name) in place: same id, so its history continues.

    FILE (optional, as for `add`) replaces its document; a record file also sets what it holds (name, url,
    description, output_schema, filter_config). Options override the file.
    """
    if url is not None and clear_url:
        raise click.UsageError("--url and --clear-url contradict each other")
    changes: dict[str, Any] = {}
    if file is not None:
        record = _record(load_strategy_file(file), file)
        changes = {
            k: v
            for k, v in record.items()
            if k in ("name", "url", "description", "output_schema", "filter_config", "strategy")
        }
    for key, value in (("name", name), ("url", url), ("description", description)):
        if value is not None:
            changes[key] = value
    if clear_url:
        changes["url"] = None
    if not changes:
        raise click.UsageError("nothing to change: give FILE or --name/--url/--clear-url/--description")

    async def work(jm: JobManager) -> Strategy:
        found = await resolve_strategy(jm, strategy)
        return await jm.update_strategy(found.strategy_id, **changes)

    updated = run_with_manager(db, work)
    if as_json:
        print_json(StrategyOut.of(updated))
    else:
        console().print(f"Updated strategy {updated.strategy_id}  {updated.name} ({updated.scraper_type})")


@strategy_group.command("list")
@click.option("--limit", type=click.IntRange(1, MAX_LIST_LIMIT), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0, MAX_OFFSET), default=0, show_default=True)
@db_option
@json_option
def list_(limit: int, offset: int, db: Path | None, as_json: bool) -> None:
    """List strategies, newest first."""

    async def work(jm: JobManager) -> list[Strategy]:
        return await jm.list_strategies(limit=limit, offset=offset)

    strategies = run_with_manager(db, work)
    if as_json:
        print_json([StrategyOut.of(s) for s in strategies])
    else:
        console().print(strategies_table(strategies))


@strategy_group.command("show")
@click.argument("strategy")
@db_option
@json_option
def show(strategy: str, db: Path | None, as_json: bool) -> None:
    """Show STRATEGY (an id or a name) and its document."""

    async def work(jm: JobManager) -> Strategy:
        return await resolve_strategy(jm, strategy)

    found = run_with_manager(db, work)
    if as_json:
        print_json(StrategyOut.of(found))
        return
    con = console()
    con.print(f"[bold]{found.name}[/bold]  {found.strategy_id}  ({found.scraper_type})")
    for label, value in (("url", found.url), ("description", found.description)):
        if value:
            con.print(f"{label}: {value}")
    con.print(f"created {found.created_at:%Y-%m-%d %H:%M:%S}Z, updated {found.updated_at:%Y-%m-%d %H:%M:%S}Z")
    con.print(JSON.from_data(found.strategy))
    for label, extra in (("output_schema", found.output_schema), ("filter_config", found.filter_config)):
        if extra:
            con.print(f"{label}:")
            con.print(JSON.from_data(extra))


@strategy_group.command("delete")
@click.argument("strategies", nargs=-1, required=True)
@db_option
@json_option
def delete(strategies: tuple[str, ...], db: Path | None, as_json: bool) -> None:
    """Delete STRATEGIES (ids or names). Their jobs stay readable."""

    async def work(jm: JobManager) -> list[Strategy]:
        found = [await resolve_strategy(jm, ref) for ref in strategies]
        for s in found:
            await jm.delete_strategy(s.strategy_id)
        return found

    deleted = run_with_manager(db, work)
    if as_json:
        print_json([DeletedOut(strategy_id=s.strategy_id) for s in deleted])
    else:
        for s in deleted:
            console().print(f"Deleted strategy {s.strategy_id}  {s.name}")
