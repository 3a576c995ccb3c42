"""Forward migrations: a store written by the previous schema opens with every job and its results intact."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import orjson

from meterlocal import JobManager
from meterlocal.store import SQLiteStore
from meterlocal.store.schema import MIGRATIONS, SCHEMA_VERSION, VERSION_TABLE

AT = "2025-01-15T10:30:0{}.000000Z"


def version_1_store(path: Path) -> None:
    """A store as meterlocal 0.1 wrote it: results inside `jobs`, three runs of one page, the third changed."""
    with contextlib.closing(sqlite3.connect(path)) as raw:
        raw.execute(VERSION_TABLE)
        for statement in MIGRATIONS[0].statements:
            raw.execute(statement)
        raw.execute("INSERT INTO schema_version VALUES (1, 'initial', ?)", (AT.format(0),))
        raw.execute(
            "INSERT INTO strategies (strategy_id, name, created_at, updated_at, strategy) VALUES (?, ?, ?, ?, ?)",
            ("s1", "Books", AT.format(0), AT.format(0), orjson.dumps({"container": "li", "fields": {"t": "b"}})),
        )
        runs = [("h1", [{"t": "a"}]), ("h1", [{"t": "a"}]), ("h2", [{"t": "b"}])]
        for i, (digest, results) in enumerate(runs, 1):
            raw.execute(
                "INSERT INTO jobs (job_id, strategy_id, url, status, item_count, content_hash, created_at, "
                "completed_at, results) VALUES (?, 's1', 'https://example.com/', 'completed', 1, ?, ?, ?, ?)",
                (f"j{i}", digest, AT.format(i), AT.format(i), orjson.dumps(results).decode()),
            )
        raw.execute(
            "INSERT INTO jobs (job_id, strategy_id, url, status, error, created_at) "
            "VALUES ('j4', 's1', 'https://example.com/', 'failed', 'boom', ?)",
            (AT.format(4),),
        )
        raw.commit()


async def test_a_version_1_store_keeps_every_job_and_stores_each_result_set_once(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_1_store(path)
    async with SQLiteStore(path) as store:
        jobs = {job.job_id: job for job in await store.list_jobs(limit=10)}
        assert await store.stats() == {"jobs": 4, "result_sets": 2}
    assert [jobs[f"j{i}"].results for i in (1, 2, 3)] == [[{"t": "a"}], [{"t": "a"}], [{"t": "b"}]]
    assert [jobs[f"j{i}"].has_changes for i in (1, 2, 3)] == [False, False, True]
    assert jobs["j4"].results is None and jobs["j4"].error == "boom"
    with contextlib.closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in raw.execute("PRAGMA table_info(jobs)")]
    assert "results" not in columns and "schedule_id" in columns


async def test_history_and_new_jobs_continue_on_a_migrated_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    version_1_store(path)
    async with JobManager(path, run_schedules=False) as jm:
        history = await jm.get_strategy_history("s1")
        assert [entry.has_changes for entry in history] == [False, True, False, False]
        assert (await jm.get_job("j3")).results == [{"t": "b"}]
