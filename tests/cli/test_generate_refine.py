"""`meterlocal generate --save`, `refine` and `repair`, driven through click's runner on saved pages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from meterlocal import JobManager, Settings
from meterlocal.cli.commands import cli
from support import LAMPS

LIST = LAMPS
REDESIGNED = """<html><body><table>
 <tr class="row"><td class="n">Desk lamp</td><td class="p">$10</td></tr>
 <tr class="row"><td class="n">Floor lamp</td><td class="p">$20</td></tr>
</table></body></html>"""


def invoke(runner: CliRunner, *args: str | Path, code: int = 0) -> Any:
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def test_generate_save_then_refine_with_an_exclusion(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    page = tmp_path / "lamps.html"
    page.write_text(LIST)
    made = json.loads(
        invoke(
            runner, "generate", page.as_uri(), "--example", "name=Desk lamp", "--save", "Lamps", "--db", db, "--json"
        ).stdout
    )
    assert made["item_count"] == 3
    page.unlink()  # refine works on the page kept at generation
    refined = invoke(runner, "refine", made["strategy_id"], "--exclude", "Sponsored lamp", "--db", db, "--json")
    shown = json.loads(refined.stdout)
    assert shown["strategy_id"] == made["strategy_id"] and shown["item_count"] == 2
    table = invoke(
        runner, "refine", made["strategy_id"], "--example", "name=Floor lamp", "--example", "price=$20", "--db", db
    ).stdout
    assert "Floor lamp" in table and "$20" in table and f"saved as {made['strategy_id']}" in table
    assert "give --example" in invoke(runner, "refine", made["strategy_id"], "--db", db, code=2).output


def test_repair_proposes_then_applies_when_asked(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    page = tmp_path / "shop.html"
    page.write_text(LIST)

    async def runs() -> tuple[str, str]:
        async with JobManager(db, Settings(allow_file_urls=True)) as jm:
            strategy = await jm.create_strategy(
                "Lamps", {"container": "ul.main > li", "fields": {"name": "b.name", "price": "i.price"}}
            )
            await jm.execute_job(strategy.strategy_id, page.as_uri())
            page.write_text(REDESIGNED)
            broken = await jm.execute_job(strategy.strategy_id, page.as_uri())
            return strategy.strategy_id, broken.job_id

    strategy_id, job_id = asyncio.run(runs())
    proposed = invoke(runner, "repair", job_id, "--db", db).stdout
    assert "nothing applied" in proposed and "100%" in proposed
    applied = json.loads(invoke(runner, "repair", job_id, "--apply", "--db", db, "--json").stdout)
    assert applied["repair"]["recovered"] == {"name": 1.0, "price": 1.0}

    async def strategy_now() -> dict[str, Any]:
        async with JobManager(db) as jm:
            return (await jm.get_strategy(strategy_id)).strategy

    assert asyncio.run(strategy_now()) == applied["strategy"]
