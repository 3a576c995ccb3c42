"""SyncJobManager in a plain script, inside a running loop, and the one-asyncio.run-per-call pattern it replaces."""

from __future__ import annotations

import asyncio
import inspect
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from meterlocal import (
    EventLoopError,
    JobManager,
    JobStatus,
    MeterlocalError,
    Settings,
    SyncJobManager,
    UnavailableError,
)
from support import BOOKS, BOOKS_PAGE, PAGES, ROOT

FILES = Settings(allow_file_urls=True)
PAGE = (PAGES / BOOKS_PAGE.lstrip("/")).as_uri()

SCRIPT = f"""
from meterlocal import Settings, SyncJobManager
with SyncJobManager(PATH, Settings(allow_file_urls=True)) as jm:
    s = jm.create_strategy("Books", {BOOKS!r})
    job = jm.execute_job(s.strategy_id, {PAGE!r})
    batch = jm.create_job(s.strategy_id, urls=[{PAGE!r}, {PAGE!r}])
    done = [jm.wait_for_job(job_id, timeout=30) for job_id in batch.job_ids]
    print(job.status.value, job.item_count, [d.status.value for d in done])
"""


def test_a_plain_script_runs_a_job_and_a_batch_and_exits(tmp_path: Path) -> None:
    script = tmp_path / "scrape.py"
    script.write_text(SCRIPT.replace("PATH", repr(str(tmp_path / "store.db"))))
    src = str(ROOT / "src")
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env={"PYTHONPATH": src}
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "completed 20 ['completed', 'completed']"
    assert "Traceback" not in run.stderr


async def test_it_blocks_inside_a_running_event_loop_without_nest_asyncio(tmp_path: Path) -> None:
    asyncio.get_running_loop()  # as in a notebook cell or an async web handler
    with SyncJobManager(tmp_path / "store.db", FILES) as jm:
        s = jm.create_strategy("Books", BOOKS)
        job = jm.execute_job(s.strategy_id, PAGE)
        assert job.status is JobStatus.COMPLETED and job.item_count == 20
        assert [j.job_id for j in jm.list_jobs()] == [job.job_id]
    with pytest.raises(UnavailableError, match="closed"):
        jm.get_job(job.job_id)
    jm.close()  # closing twice does nothing


def test_watch_is_a_blocking_iterator(tmp_path: Path) -> None:
    with SyncJobManager(tmp_path / "store.db", FILES) as jm:
        s = jm.create_strategy("Books", BOOKS)
        stream = jm.watch(changes_only=False)

        def later() -> None:
            time.sleep(0.3)
            jm.create_job(s.strategy_id, url=PAGE)

        thread = threading.Thread(target=later)
        thread.start()
        job = next(stream)
        thread.join()
        assert job.status is JobStatus.COMPLETED and job.item_count == 20
        stream.close()


def test_every_public_coroutine_method_has_a_blocking_twin() -> None:
    for name, method in inspect.getmembers(JobManager, inspect.iscoroutinefunction):
        if name.startswith("_") or name in ("open", "close"):
            continue
        twin = getattr(SyncJobManager, name, None)
        assert twin is not None, f"add `{name} = _blocking(JobManager.{name})` to SyncJobManager"
        assert not inspect.iscoroutinefunction(twin), name
        assert twin.__doc__ == method.__doc__, name
        assert inspect.signature(twin) == inspect.signature(method), name


def test_one_asyncio_run_per_call_says_what_to_do_instead_of_hanging(tmp_path: Path) -> None:
    jm = JobManager(tmp_path / "store.db", FILES)
    strategy = asyncio.run(jm.create_strategy("Books", BOOKS))
    started = time.monotonic()
    with pytest.raises(EventLoopError, match="SyncJobManager") as raised:
        asyncio.run(jm.execute_job(strategy.strategy_id, PAGE, timeout=30))
    assert isinstance(raised.value, MeterlocalError)
    assert time.monotonic() - started < 5
    asyncio.run(jm.close())  # no "Event loop is closed"
    with pytest.raises(UnavailableError):
        asyncio.run(jm.get_job(strategy.strategy_id))


async def test_a_manager_open_in_another_thread_closes_there(tmp_path: Path) -> None:
    sync = SyncJobManager(tmp_path / "store.db", FILES)
    sync.open()
    await sync.manager.close()  # from this loop: the close runs in the manager's own loop
    with pytest.raises(UnavailableError):
        sync.get_strategy("00000000-0000-0000-0000-000000000000")
    sync.close()


def test_the_readme_script_example_runs_and_prints_what_the_readme_shows(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("Script example (run by `tests/test_sync.py`):", 1)[1]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", after, re.DOTALL)[:2]
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / "script.py").write_text(code, encoding="utf-8")
    for _ in range(2):  # run twice, as one re-runs a script: still one strategy
        done = subprocess.run(
            [sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        expected = [
            re.escape(line).replace("1a2b3c4d", "[0-9a-f]{8}").replace(r"0\.01s", r"\d+\.\d\ds")
            for line in shown.splitlines()
        ]
        assert len(done.stdout.splitlines()) == len(expected)
        for line, pattern in zip(done.stdout.splitlines(), expected, strict=True):
            assert re.fullmatch(pattern, line), (line, pattern)
    with SyncJobManager(tmp_path / "scrapes.db") as jm:
        assert [s.name for s in jm.list_strategies()] == ["Books"]
