"""`python -m meterlocal demo` (what `make demo` runs) in a subprocess: its output, and what it left in the store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from meterlocal import JobManager, JobStatus

BOOKS = "Books to Scrape (demo)"
URBAN_AREAS = "UK urban areas on Wikipedia (demo)"


def run_demo(db: Path, cwd: Path) -> tuple[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERLOCAL_")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "meterlocal", "demo", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env=env,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout, elapsed


async def test_demo_scrapes_twice_and_shows_history_and_changes(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    out, elapsed = run_demo(db, tmp_path)
    assert elapsed < 15, elapsed  # "a few seconds", with room for a loaded machine
    assert f"Database: {db.resolve()}" in out
    jobs = re.findall(r"job ([0-9a-f-]{36})  completed  (\d+) items  hash ([0-9a-f]{32})", out)
    assert [int(n) for _, n, _ in jobs] == [20, 70, 20, 70]  # books, Wikipedia; then both again
    (b1, _, books_hash1), (w1, _, wiki_hash1), (b2, _, books_hash2), (w2, _, wiki_hash2) = jobs
    assert books_hash1 == books_hash2 and wiki_hash1 != wiki_hash2
    assert "A Light in the Attic" in out and "£51.77" in out  # the books results table
    assert "Greater London Built-up area" in out and "9,787,426" in out  # the Wikipedia table's first row
    assert "10 of 20 items" in out and "10 of 70 items" in out
    assert f"{w1} -> {w2}" in out and "- Field 'metropolitan_area' changed in 5 items" in out

    async with JobManager(db) as jm:
        strategies = {s.name: s for s in await jm.list_strategies()}
        assert set(strategies) == {BOOKS, URBAN_AREAS}
        books = await jm.get_strategy_history(strategies[BOOKS].strategy_id)
        wiki = await jm.get_strategy_history(strategies[URBAN_AREAS].strategy_id)
        assert [(e.job_id, e.has_changes) for e in books] == [(b2, False), (b1, False)]
        assert [(e.job_id, e.has_changes) for e in wiki] == [(w2, True), (w1, False)]
        assert all(e.status is JobStatus.COMPLETED for e in books + wiki)
        comparison = await jm.compare_jobs(w1, w2)
        assert all(change in out for change in comparison.changes)

    again, _ = run_demo(db, tmp_path)  # a second run reuses the strategies and adds four jobs
    assert f"Database: {db.resolve()}" in again
    async with JobManager(db) as jm:
        assert sorted(s.name for s in await jm.list_strategies()) == [BOOKS, URBAN_AREAS]
        assert len(await jm.list_jobs(limit=100)) == 8
