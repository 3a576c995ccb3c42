"""Batches: the whole batch from list_jobs, wait_for_batch in creation order, iter_batch as jobs finish."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from aiohttp import web

from meterlocal import (
    BatchNotFoundError,
    BatchTimeoutError,
    JobManager,
    JobStatus,
    MissingDependencyError,
    Settings,
    SyncJobManager,
)
from support import BOOKS, BOOKS_PAGE, PAGES, Site

FAST = Settings(backoff_base=0.01, retries=1, connect_timeout=2, read_timeout=5, total_timeout=10)


async def test_list_jobs_of_a_batch_returns_the_whole_batch_and_wait_keeps_url_order(
    tmp_path: Path, site: Site
) -> None:
    urls = [site.url(BOOKS_PAGE) + f"?n={n}" for n in range(26)]
    async with JobManager(tmp_path / "b.db", FAST) as jm:
        s = await jm.create_strategy("Books", BOOKS)
        batch = await jm.create_job(s.strategy_id, urls=urls)
        done = await jm.wait_for_batch(batch.batch_id, timeout=60)
        assert [j.url for j in done] == urls
        assert all(j.status is JobStatus.COMPLETED and j.item_count == 20 for j in done)
        assert len(await jm.list_jobs(batch_id=batch.batch_id)) == 26  # not 20
        assert len(await jm.list_jobs(batch_id=batch.batch_id, limit=5)) == 5
        assert len(await jm.list_jobs()) == 20  # no batch: the default page
        again = [j.job_id async for j in jm.iter_batch(batch.batch_id)]  # all finished: creation order
        assert again == batch.job_ids
        with pytest.raises(BatchNotFoundError):
            await jm.wait_for_batch("00000000-0000-4000-8000-000000000000")


async def test_iter_batch_yields_jobs_as_they_finish_and_times_out(tmp_path: Path, site: Site) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(body=(PAGES / BOOKS_PAGE.lstrip("/")).read_bytes(), content_type="text/html")

    slow_url = site.route("/slow.html", slow)
    fast_url = site.url(BOOKS_PAGE)
    async with JobManager(tmp_path / "b.db", FAST) as jm:
        s = await jm.create_strategy("Books", BOOKS)
        batch = await jm.create_job(s.strategy_id, urls=[slow_url, fast_url])
        with pytest.raises(BatchTimeoutError, match=r"1 of 2 jobs did not finish within 0\.5 s"):
            await jm.wait_for_batch(batch.batch_id, timeout=0.5)
        seen = []
        async for job in jm.iter_batch(batch.batch_id, timeout=30):
            seen.append(job.url)
            release.set()
        assert seen == [fast_url, slow_url]


def test_the_sync_manager_waits_for_and_iterates_over_a_batch(tmp_path: Path) -> None:
    page = (PAGES / BOOKS_PAGE.lstrip("/")).as_uri()
    with SyncJobManager(tmp_path / "b.db", Settings(allow_file_urls=True)) as jm:
        s = jm.strategy("Books", BOOKS, url=page)
        batch = jm.create_job(s.strategy_id, urls=[page] * 3)
        assert sorted(j.job_id for j in jm.iter_batch(batch.batch_id)) == sorted(batch.job_ids)
        assert [j.job_id for j in jm.wait_for_batch(batch.batch_id)] == batch.job_ids


def _batch_of_three(jm: SyncJobManager) -> str:
    page = (PAGES / BOOKS_PAGE.lstrip("/")).as_uri()
    s = jm.strategy("Books", BOOKS, url=page)
    return jm.create_job(s.strategy_id, urls=[page, page, page + "-missing"]).batch_id


def test_wait_for_batch_draws_a_tqdm_bar_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SyncJobManager(tmp_path / "b.db", Settings(allow_file_urls=True)) as jm:
        batch_id = _batch_of_three(jm)
        jobs = jm.wait_for_batch(batch_id, progress=True)
    assert [j.status for j in jobs] == [JobStatus.COMPLETED, JobStatus.COMPLETED, JobStatus.FAILED]
    out = capsys.readouterr()
    assert out.out == ""
    assert f"batch {batch_id[:8]}" in out.err and "3/3" in out.err and "failed=1" in out.err


def test_without_tqdm_the_bar_is_rich_and_without_either_the_error_says_what_to_install(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # what `import tqdm.auto` meets when tqdm is missing
    with SyncJobManager(tmp_path / "b.db", Settings(allow_file_urls=True)) as jm:
        batch_id = _batch_of_three(jm)
        assert len(jm.wait_for_batch(batch_id, progress=True)) == 3
        err = capsys.readouterr().err
        assert "3/3" in err and "1 failed" in err
        monkeypatch.setitem(sys.modules, "rich.progress", None)
        with pytest.raises(MissingDependencyError, match=r"pip install 'meterlocal\[notebook\]'"):
            jm.wait_for_batch(batch_id, progress=True)
        assert len(jm.wait_for_batch(batch_id)) == 3  # no bar asked: nothing needed
