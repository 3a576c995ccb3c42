"""`meterlocal schedule ...`, `changes`, `changelog` and `scheduler`, against real pages and a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from meterlocal import JobManager, ManualClock
from meterlocal.cli.commands import cli
from meterlocal.cli.schedules import parse_every
from support import Site

STRATEGY = {"container": "li", "fields": {"title": ".t", "price": ".p"}, "key": "title"}


def invoke(runner: CliRunner, *args: str | Path, code: int = 0) -> Result:
    result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def shop(books: dict[str, str]) -> str:
    items = "".join(f"<li><span class='t'>{t}</span><span class='p'>{p}</span></li>" for t, p in books.items())
    return f"<html><body><ul>{items}</ul></body></html>"


@pytest.fixture
def strategy(runner: CliRunner, db: Path, tmp_path: Path) -> str:
    document = tmp_path / "shop.json"
    document.write_text(json.dumps(STRATEGY))
    result = invoke(runner, "strategy", "add", document, "--name", "Shop", "--db", db, "--json")
    return str(json.loads(result.stdout)["strategy_id"])


def test_parse_every() -> None:
    assert [parse_every(t) for t in ("90", "90s", "15m", "2h", "1d", "1w")] == [90, 90, 900, 7200, 86400, 604800]


def test_schedule_add_list_show_pause_resume_delete(runner: CliRunner, db: Path, pages: Site, strategy: str) -> None:
    url = pages.page("/cli-shop", shop({"Dune": "£10"}))
    added = json.loads(invoke(runner, "schedule", "add", "Shop", url, "--every", "2h", "--db", db, "--json").stdout)
    schedule_id = added["schedule_id"]
    assert added["interval_seconds"] == 7200 and added["url"] == url and added["strategy_id"] == strategy
    listed = json.loads(invoke(runner, "schedule", "list", "--db", db, "--json").stdout)
    assert [s["schedule_id"] for s in listed] == [schedule_id]
    table = invoke(runner, "schedule", "list", "--db", db).stdout
    assert schedule_id in table and "7200 s" in table
    assert json.loads(invoke(runner, "schedule", "pause", schedule_id, "--db", db, "--json").stdout)["enabled"] is False
    assert "resumed" in invoke(runner, "schedule", "resume", schedule_id, "--db", db).stdout
    assert json.loads(invoke(runner, "schedule", "show", schedule_id, "--db", db, "--json").stdout)["enabled"] is True
    assert "deleted" in invoke(runner, "schedule", "delete", schedule_id, "--db", db).stdout
    assert json.loads(invoke(runner, "schedule", "list", "--db", db, "--json").stdout) == []


def test_schedule_add_refuses_bad_input(runner: CliRunner, db: Path, pages: Site, strategy: str) -> None:
    url = pages.page("/cli-bad", shop({}))
    assert "exactly one" in invoke(runner, "schedule", "add", "Shop", url, "--db", db, code=2).output
    bad_cron = invoke(runner, "schedule", "add", "Shop", url, "--cron", "61 * * * *", "--db", db, code=2)
    assert "not a valid cron expression" in bad_cron.output
    assert (
        "not a duration" in invoke(runner, "schedule", "add", "Shop", url, "--every", "soon", "--db", db, code=2).output
    )
    assert "Schedule not found: nope" in invoke(runner, "changes", "nope", "--db", db, code=2).output


def test_changes_and_changelog(runner: CliRunner, db: Path, pages: Site, strategy: str) -> None:
    books = {"Dune": "£10", "Emma": "£7"}
    url = pages.page("/cli-changes", shop(books))
    added = json.loads(invoke(runner, "schedule", "add", "Shop", url, "--every", "60s", "--db", db, "--json").stdout)
    schedule_id = added["schedule_id"]

    async def two_runs() -> None:
        clock = ManualClock()
        async with JobManager(db, clock=clock, run_schedules=False) as jm:
            for change in (None, ("Emma", "£8")):
                if change is not None:
                    books[change[0]] = change[1]
                    books["Beloved"] = "£9"
                    pages.page("/cli-changes", shop(books))
                clock.advance(60)
                await jm.run_due_schedules()
                for job in await jm.list_jobs(schedule_id=schedule_id):
                    await jm.wait_for_job(job.job_id, timeout=10)

    asyncio.run(two_runs())
    peek = json.loads(invoke(runner, "changes", schedule_id, "--peek", "--db", db, "--json").stdout)
    assert peek["count"] == 1 and peek["marked_seen"] is False
    text = invoke(runner, "changes", schedule_id, "--db", db).stdout
    assert "1 unseen changed runs" in text and "marked seen" in text
    assert "no unseen changes" in invoke(runner, "changes", schedule_id, "--db", db).stdout
    log = invoke(runner, "changelog", schedule_id, "--db", db).stdout
    assert "1 changed runs" in log and "+ Beloved" in log and "~ price: £7 -> £8" in log
    data = json.loads(invoke(runner, "changelog", schedule_id, "--filter", "emma", "--db", db, "--json").stdout)
    assert data["entries"][0]["changed_items_count"] == 1 and data["entries"][0]["new_items_count"] == 0


def test_scheduler_runs_schedules_until_ctrl_c(runner: CliRunner, db: Path, pages: Site, strategy: str) -> None:
    url = pages.page("/cli-scheduler", shop({"Dune": "£10"}))

    async def one_second_schedule() -> str:
        async with JobManager(db, run_schedules=False) as jm:
            return (await jm.create_schedule(strategy, url=url, interval_seconds=1)).schedule_id

    schedule_id = asyncio.run(one_second_schedule())
    process = subprocess.Popen(
        [sys.executable, "-m", "meterlocal", "scheduler", "--db", str(db), "--poll", "0.1"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while _completed(db, schedule_id) < 2:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the scheduler ran fewer than 2 jobs in 20 s"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "1 enabled schedule(s)" in stderr and "scheduler stopped" in stderr


def _completed(db: Path, schedule_id: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        rows: list[Any] = conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE schedule_id = ? AND status = 'completed'", (schedule_id,)
        ).fetchall()
    return int(rows[0][0])
