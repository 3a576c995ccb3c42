"""CLI habits: `strategy update`, `--fixtures`/`--record` wherever jobs run, git-like id prefixes, `compare
--latest`, and demo hints that work without an activated virtualenv."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlocal import AmbiguousIdError, JobManager, JobNotFoundError, StrategyNotFoundError
from meterlocal.cli.commands import cli
from meterlocal.store import SQLiteStore
from support import BOOKS, BOOKS_PAGE, PAGES, STRATEGIES, Site, strategy_record

BOOKS_URL = "http://books.toscrape.com/"


def invoke(runner: CliRunner, *args: str | Path, code: int = 0) -> Result:
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_strategy_update_changes_it_in_place(runner: CliRunner, db: Path, tmp_path: Path) -> None:
    added = as_json(invoke(runner, "strategy", "add", STRATEGIES / "books_toscrape_catalogue_index.json",
                           "--name", "Books", "--db", db, "--json"))  # fmt: skip
    sid = added["strategy_id"]
    first = as_json(invoke(runner, "run", "Books", BOOKS_URL, "--fixtures", PAGES, "--db", db, "--json"))
    moved = as_json(invoke(runner, "strategy", "update", sid[:8], "--url", BOOKS_URL, "--db", db, "--json"))
    assert (moved["strategy_id"], moved["url"], moved["name"]) == (sid, BOOKS_URL, "Books")
    document = tmp_path / "titles.json"
    document.write_text(json.dumps({"container": "article.product_pod", "fields": {"title": "h3 a"}}), "utf-8")
    changed = as_json(invoke(runner, "strategy", "update", "Books", document, "--name", "Titles", "--db", db, "--json"))
    assert (
        changed["strategy_id"] == sid
        and changed["name"] == "Titles"
        and list(changed["strategy"]["fields"]) == ["title"]
    )
    second = as_json(invoke(runner, "run", "Titles", "--fixtures", PAGES, "--db", db, "--json"))  # the saved url
    assert list(second["results"][0]) == ["title"]
    history = as_json(invoke(runner, "history", sid, "--db", db, "--json"))
    assert [h["job_id"] for h in history] == [second["id"], first["id"]]  # one history, continued
    cleared = as_json(invoke(runner, "strategy", "update", sid, "--clear-url", "--db", db, "--json"))
    assert cleared["url"] is None
    assert "nothing to change" in invoke(runner, "strategy", "update", sid, "--db", db, code=2).stderr


def test_record_then_replay_offline_on_run(runner: CliRunner, db: Path, tmp_path: Path, pages: Site) -> None:
    invoke(runner, "strategy", "add", STRATEGIES / "books_toscrape_catalogue_index.json", "--name", "Books", "--db", db)
    url = pages.url(BOOKS_PAGE)
    saved = tmp_path / "saved"
    live = as_json(invoke(runner, "run", "Books", url, "--record", saved, "--db", db, "--json"))
    assert live["item_count"] == 20 and url in json.loads((saved / "manifest.json").read_text("utf-8"))["pages"]
    other = tmp_path / "other.db"
    invoke(
        runner, "strategy", "add", STRATEGIES / "books_toscrape_catalogue_index.json", "--name", "Books", "--db", other
    )
    replayed = as_json(invoke(runner, "run", "Books", url, url + "?2", "--fixtures", saved, "--db", other, "--json",
                              code=1))  # fmt: skip
    assert [j["status"] for j in replayed["jobs"]] == ["completed", "failed"]  # the second URL was never saved
    assert replayed["jobs"][0]["content_hash"] == live["content_hash"]
    assert "No saved page" in replayed["jobs"][1]["error"]
    both = invoke(runner, "run", "Books", url, "--fixtures", saved, "--record", saved, "--db", db, code=2)
    assert "not both" in both.stderr
    for command in (["run"], ["serve"], ["scheduler"], ["generate"]):
        shown = invoke(runner, *command, "--help").stdout
        assert "--fixtures DIRECTORY" in shown and "--record DIRECTORY" in shown, command


async def test_id_prefixes_resolve_in_the_store_and_refuse_ambiguity(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "p.db")
    await store.open()
    for sid in ("abcd1111-0000-4000-8000-000000000001", "abcd2222-0000-4000-8000-000000000002"):
        await store.add_strategy(strategy_record().model_copy(update={"strategy_id": sid}))
    assert await store.ids_starting_with("strategy", "abcd", limit=5) == [
        "abcd1111-0000-4000-8000-000000000001",
        "abcd2222-0000-4000-8000-000000000002",
    ]
    await store.close()
    async with JobManager(tmp_path / "p.db", fixtures=PAGES) as jm:
        assert await jm.resolve_id("strategy", "abcd2") == "abcd2222-0000-4000-8000-000000000002"
        full = "abcd1111-0000-4000-8000-000000000001"
        assert await jm.resolve_id("strategy", full) == full
        with pytest.raises(AmbiguousIdError, match=r"'abcd' is ambiguous: it starts abcd1111-.*, abcd2222-") as caught:
            await jm.resolve_id("strategy", "abcd")
        assert len(caught.value.matches) == 2
        with pytest.raises(StrategyNotFoundError):
            await jm.resolve_id("strategy", "abc")  # shorter than 4 characters: not a prefix
        job = await jm.execute_job(full, BOOKS_URL)
        assert await jm.resolve_id("job", job.job_id[:6]) == job.job_id
        with pytest.raises(JobNotFoundError):
            await jm.resolve_id("job", "ffff" if not job.job_id.startswith("ffff") else "0000")
        await jm.delete_strategy("abcd2222-0000-4000-8000-000000000002")
        assert await jm.resolve_id("strategy", "abcd") == full  # deleted ones do not count


def test_the_cli_takes_id_prefixes_and_compares_the_latest_two_runs(runner: CliRunner, db: Path) -> None:
    async def make() -> list[str]:
        async with JobManager(db, fixtures=PAGES) as jm:
            s = await jm.strategy("Books", BOOKS, url=BOOKS_URL)
            first = await jm.execute_job(s.strategy_id)
            changed = await jm.update_strategy(s.strategy_id, strategy={**BOOKS, "fields": {"title": "h3 a"}})
            ids = [first.job_id, (await jm.execute_job(changed.strategy_id)).job_id]
            batch = await jm.create_job(s.strategy_id, urls=[BOOKS_URL, BOOKS_URL])
            await jm.wait_for_batch(batch.batch_id)
            return [*ids, batch.batch_id]

    first, second, batch = asyncio.run(make())
    shown = as_json(invoke(runner, "jobs", "show", first[:8], "--db", db, "--json"))
    assert shown["id"] == first
    assert len(as_json(invoke(runner, "jobs", "list", "--batch", batch[:8], "--db", db, "--json"))) == 2
    compared = as_json(invoke(runner, "compare", first[:8], second[:8], "--db", db, "--json"))
    assert (compared["job_id"], compared["other_job_id"], compared["content_hash_match"]) == (first, second, False)
    # The batch's two runs are the newest; with --url the same two. Nothing has changed between them.
    latest = as_json(invoke(runner, "compare", "Books", "--latest", "--db", db, "--json"))
    assert latest["content_hash_match"] is True
    missing = invoke(runner, "compare", "Books", "--latest", "--url", "http://books.toscrape.com/x", "--db", db, code=2)
    assert "0 completed run(s) of http://books.toscrape.com/x, two are needed" in missing.stderr
    assert "JOB_ID OTHER_JOB_ID, or STRATEGY --latest" in invoke(runner, "compare", first, "--db", db, code=2).stderr
    assert "Job not found: zzzz" in invoke(runner, "jobs", "show", "zzzz", "--db", db, code=2).stderr


def test_the_demo_hints_run_without_an_activated_virtualenv(tmp_path: Path) -> None:
    venv_bin = str(Path(sys.executable).absolute().parent)
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("METERLOCAL_")}, "PATH": path or "/nonexistent"}
    db = tmp_path / "demo dir" / "demo.db"  # a space: the hints must quote it
    db.parent.mkdir()
    done = subprocess.run([sys.executable, "-m", "meterlocal", "demo", "--db", str(db)], capture_output=True,
                          text=True, timeout=120, check=False, cwd=tmp_path, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    hints = [line.removeprefix("Try:").strip() for line in done.stdout.splitlines() if " -m meterlocal " in line]
    assert len(hints) == 3 and "activate the virtualenv" in done.stdout
    for hint in hints:
        ran = subprocess.run(shlex.split(hint), capture_output=True, text=True, timeout=60, check=False, env=env)
        assert ran.returncode == 0, (hint, ran.stderr)
    assert "Field 'metropolitan_area' changed in 5 items" in ran.stdout  # compare --latest: run 1 -> run 2
