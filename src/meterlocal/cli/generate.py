"""`meterlocal generate URL --example 'field=value' ...`: write a strategy from examples, print it and its items;
`meterlocal refine ID --example ... --exclude VALUE` writes it again; `meterlocal repair JOB_ID` proposes a fix."""

from __future__ import annotations

from typing import Any

import click
import yaml
from rich.table import Table

from meterlocal.cli.output import console, print_json
from meterlocal.cli.root import UsageFailure, cli, db_option, fetch_options, json_option, run_with_manager
from meterlocal.generation import GeneratedStrategy
from meterlocal.manager import JobManager
from meterlocal.settings import Settings

__all__ = ["generate_command", "parse_examples", "refine_command", "repair_command"]


def parse_examples(pairs: tuple[str, ...], second: tuple[str, ...]) -> list[dict[str, Any]]:
    """`field=value` pairs as one example (and `--example2` pairs as a second one)."""
    examples = []
    for group in (pairs, second):
        example: dict[str, Any] = {}
        for pair in group:
            field, sep, value = pair.partition("=")
            if not sep or not field.strip():
                raise UsageFailure(f"--example must be field=value, not {pair!r}")
            example[field.strip()] = value
        if example:
            examples.append(example)
    if not examples:
        raise UsageFailure("give at least one --example field=value")
    return examples


@cli.command("generate")
@click.argument("url")
@click.option("--example", "pairs", multiple=True, help="field=value as seen on the page (repeat per field)")
@click.option("--example2", "second", multiple=True, help="field=value of a second item (optional)")
@click.option("--save", "name", default=None, help="Save the strategy under this name")
@db_option
@fetch_options
@json_option
def generate_command(
    url: str, pairs: tuple[str, ...], second: tuple[str, ...], name: str | None, **options: Any
) -> None:
    """Write a strategy for URL from example values of one (or two) items, and show what it extracts."""
    examples = parse_examples(pairs, second)
    as_json = options.pop("as_json", False)

    async def run(jm: JobManager) -> Any:
        generated = await jm.generate_strategy(url, examples=examples, name=name)
        if name is None:  # a dry run: nothing saved unless asked
            await jm.delete_strategy(generated.strategy_id)
        return generated

    # A saved page is a file:// URL: the person running the command reads their own files.
    generated = run_with_manager(options["db"], run, settings=Settings(allow_file_urls=True))
    _show(generated, as_json=as_json, saved=name is not None)


@cli.command("refine")
@click.argument("strategy_id")
@click.option("--example", "pairs", multiple=True, help="field=value of one more item (repeat per field)")
@click.option("--example2", "second", multiple=True, help="field=value of a second new item (optional)")
@click.option("--exclude", "exclude", multiple=True, help="A value no item may show (repeat)")
@db_option
@json_option
def refine_command(
    strategy_id: str, pairs: tuple[str, ...], second: tuple[str, ...], exclude: tuple[str, ...], **options: Any
) -> None:
    """Write a generated strategy again from its examples plus new ones (or values to leave out), same id."""
    examples = parse_examples(pairs, second) if pairs or second else []
    if not examples and not exclude:
        raise UsageFailure("give --example field=value or --exclude VALUE")
    as_json = options.pop("as_json", False)

    async def run(jm: JobManager) -> Any:
        return await jm.refine_strategy(strategy_id, {"examples": examples, "exclude": list(exclude)})

    generated = run_with_manager(options["db"], run, settings=Settings(allow_file_urls=True))
    _show(generated, as_json=as_json, saved=True)


@cli.command("repair")
@click.argument("job_id")
@click.option("--apply", "apply", is_flag=True, help="Save the proposed strategy over the old one (same id)")
@db_option
@json_option
def repair_command(job_id: str, apply: bool, **options: Any) -> None:
    """Propose a strategy for JOB_ID's page (its markup changed) from the last good run's items; --apply saves it."""
    as_json = options.pop("as_json", False)

    async def run(jm: JobManager) -> Any:
        suggestion = await jm.suggest_repair(job_id)
        if apply:
            await jm.update_strategy(suggestion.strategy_id, strategy=suggestion.strategy)
        return suggestion

    suggestion = run_with_manager(options["db"], run, settings=Settings(allow_file_urls=True))
    if as_json:
        print_json(suggestion.model_dump(mode="json"))
        return
    console().print(yaml.safe_dump({"strategy": suggestion.strategy}, allow_unicode=True, sort_keys=False))
    table = Table(title=f"fields back on the new page (from job {suggestion.good_job_id})")
    table.add_column("field")
    table.add_column("old values found again")
    for field, share in suggestion.repair.recovered.items():
        table.add_row(field, f"{share:.0%}")
    console().print(table)
    for sentence in suggestion.comparison.changes:
        console().print(f"- {sentence}")
    if apply:
        console().print(f"applied to strategy {suggestion.strategy_id}")
    else:
        console().print(f"nothing applied; run again with --apply to save it to strategy {suggestion.strategy_id}")


def _show(generated: GeneratedStrategy, *, as_json: bool, saved: bool) -> None:
    shown = generated.model_dump(mode="json", exclude={"saved"})
    if not saved:
        shown.pop("strategy_id")
    if as_json:
        print_json(shown)
        return
    console().print(yaml.safe_dump({"strategy": generated.strategy}, allow_unicode=True, sort_keys=False))
    table = Table(title=f"{generated.item_count} items (first {len(generated.preview_data)})")
    fields = list(generated.strategy["fields"])
    for field in fields:
        table.add_column(f"{field} ({generated.fill_rate.get(field, 0):.0%})")
    for item in generated.preview_data:
        table.add_row(*("" if item.get(f) is None else str(item.get(f)) for f in fields))
    console().print(table)
    if saved:
        console().print(f"saved as {generated.strategy_id}")
