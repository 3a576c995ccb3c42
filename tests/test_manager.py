"""JobManager end to end: a real aiohttp site on 127.0.0.1, a real SQLite file, real saved pages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meterlocal import (
    Batch,
    BatchNotFoundError,
    Job,
    JobManager,
    JobNotFoundError,
    JobStateError,
    JobStatus,
    JobTimeoutError,
    Settings,
    StrategyError,
    StrategyNotFoundError,
    UnavailableError,
    ValidationError,
)
from support import BOOKS, BOOKS_PAGE, FakeClock, Site

FAST = Settings(backoff_base=0.01, retries=1, connect_timeout=2, read_timeout=2, total_timeout=5)


@pytest.fixture
async def jm(tmp_path: Path) -> Any:
    async with JobManager(tmp_path / "store.db", FAST) as manager:
        yield manager


async def books(jm: JobManager) -> str:
    strategy = await jm.create_strategy("Books", BOOKS, url="http://books.toscrape.com/")
    return strategy.strategy_id


async def test_execute_job_scrapes_a_real_page_into_the_store(jm: JobManager, site: Site) -> None:
    sid = await books(jm)
    job = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    assert job.status is JobStatus.COMPLETED
    assert job.item_count == 20 and len(job.results or []) == 20
    assert job.results is not None
    assert job.results[0] == {
        "title": "A Light in the Attic",
        "price": "£51.77",
        "url": site.url("/books_toscrape/catalogue/a-light-in-the-attic_1000/index.html"),
    }
    assert job.content_hash is not None and len(job.content_hash) == 32
    assert job.structural_signature is not None and job.structural_signature["item_count"] == 20
    assert job.started_at is not None and job.completed_at is not None
    assert job.created_at <= job.started_at <= job.completed_at
    assert (await jm.get_job(job.job_id)) == job


async def test_job_json_uses_meters_keys_and_z_timestamps(jm: JobManager, site: Site) -> None:
    job = await jm.execute_job(await books(jm), site.url(BOOKS_PAGE))
    data = job.model_dump(mode="json")
    for key in (
        "job_id",
        "status",
        "strategy_id",
        "url",
        "results",
        "item_count",
        "error",
        "content_hash",
        "structural_signature",
        "parameters",
        "batch_id",
        "started_at",
        "completed_at",
        "created_at",
    ):
        assert key in data
    assert data["status"] == "completed"
    assert data["created_at"].endswith("Z")
    assert datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")) == job.created_at


async def test_create_job_returns_at_once_and_wait_for_job_finishes_it(jm: JobManager, site: Site) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(
            text="<article class=product_pod><h3><a title=T href=x>T</a></h3></article>",
            content_type="text/html",
        )

    sid = await books(jm)
    job = await jm.create_job(sid, url=site.route("/slow", slow))
    assert isinstance(job, Job) and job.status is JobStatus.PENDING
    with pytest.raises(JobTimeoutError) as info:
        await jm.wait_for_job(job.job_id, timeout=0.2)
    assert info.value.job_id == job.job_id
    assert (await jm.get_job(job.job_id)).status is JobStatus.RUNNING
    release.set()
    done = await jm.wait_for_job(job.job_id, timeout=10)
    assert done.status is JobStatus.COMPLETED and done.results == [{"title": "T", "price": None, "url": site.url("/x")}]


async def test_failed_job_is_returned_not_raised_with_an_actionable_error(jm: JobManager, site: Site) -> None:
    job = await jm.execute_job(await books(jm), site.url("/no/such/page.html"))
    assert job.status is JobStatus.FAILED
    assert job.results is None and job.content_hash is None
    assert job.error == f"HTTP 404 Not Found from {site.url('/no/such/page.html')}"


async def test_connection_refused_fails_the_job(jm: JobManager) -> None:
    job = await jm.execute_job(await books(jm), "http://127.0.0.1:9/")
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "refused" in job.error.lower()


async def test_batch_runs_every_url_and_reports_progress(jm: JobManager, site: Site) -> None:
    sid = await books(jm)
    urls = [site.url(BOOKS_PAGE), site.url("/missing"), site.url(BOOKS_PAGE + "?p=2")]
    batch = await jm.create_job(sid, urls=urls)
    assert isinstance(batch, Batch)
    assert batch.job_count == 3 and len(batch.job_ids) == 3
    jobs = [await jm.wait_for_job(j, timeout=10) for j in batch.job_ids]
    assert [j.status for j in jobs] == [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.COMPLETED]
    assert all(j.batch_id == batch.batch_id for j in jobs)
    progress = await jm.get_batch_progress(batch.batch_id)
    assert (progress.total, progress.pending, progress.running, progress.completed, progress.failed) == (
        3,
        0,
        0,
        2,
        1,
    )
    assert progress.progress_percent == 100.0
    with pytest.raises(BatchNotFoundError):
        await jm.get_batch_progress("nope")


async def test_concurrency_limits_are_respected(tmp_path: Path, site: Site) -> None:
    active = 0
    peak = 0

    async def page(request: web.Request) -> web.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.Response(text="<p>x</p>", content_type="text/html")

    site.route("/p", page)
    async with JobManager(tmp_path / "s.db", FAST.model_copy(update={"per_host_limit": 3})) as jm:
        sid = (await jm.create_strategy("p", {"fields": {"p": "p"}})).strategy_id
        batch = await jm.create_job(sid, urls=[site.url(f"/p?i={i}") for i in range(12)])
        for job_id in batch.job_ids:
            assert (await jm.wait_for_job(job_id, timeout=10)).status is JobStatus.COMPLETED
    assert peak == 3


async def test_list_jobs_filters_newest_first(jm: JobManager, site: Site) -> None:
    sid = await books(jm)
    other = (await jm.create_strategy("Other", {"fields": {"t": "title"}})).strategy_id
    first = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    failed = await jm.execute_job(sid, site.url("/missing"))
    third = await jm.execute_job(other, site.url(BOOKS_PAGE))
    assert [j.job_id for j in await jm.list_jobs()] == [third.job_id, failed.job_id, first.job_id]
    assert [j.job_id for j in await jm.list_jobs(strategy_id=sid)] == [failed.job_id, first.job_id]
    assert [j.job_id for j in await jm.list_jobs(status="failed")] == [failed.job_id]
    assert [j.job_id for j in await jm.list_jobs(limit=1, offset=1)] == [failed.job_id]
    assert [j.job_id for j in await jm.list_jobs(since=failed.created_at)] == [third.job_id, failed.job_id]
    assert len(await jm.list_jobs(since="1h")) == 3
    assert await jm.list_jobs(since=datetime.now(UTC) + timedelta(hours=1)) == []
    iso = failed.model_dump(mode="json")["created_at"]
    assert [j.job_id for j in await jm.list_jobs(since=iso)] == [third.job_id, failed.job_id]


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"status": "done"}, "status must be one of pending, running, completed, failed"),
        ({"since": "yesterday"}, "since must be an ISO-8601 time"),
        ({"limit": 0}, "limit must be an integer from 1 to 1000"),
        ({"offset": -1}, "offset must be a non-negative integer"),
    ],
)
async def test_list_jobs_refuses_bad_filters(jm: JobManager, kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        await jm.list_jobs(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, "give exactly one of url (one page) or urls (a batch); neither was given"),
        ({"url": "http://a.test/", "urls": ["http://b.test/"]}, "both were given"),
        ({"url": ""}, "url must be a non-empty URL string"),
        ({"url": "/relative/path"}, "is not an absolute URL"),
        ({"url": "ftp://example.com/x"}, "has scheme 'ftp'; only http and https URLs can be scraped"),
        ({"url": "javascript:alert(1)"}, "has scheme 'javascript'"),
        ({"url": "data:text/html,<p>x</p>"}, "has scheme 'data'"),
        ({"url": "file:///etc/passwd"}, "(set allow_file_urls=True)"),
        ({"urls": []}, "urls must not be empty"),
        ({"urls": "http://a.test/"}, "urls must be a list"),
        ({"urls": ["http://a.test/", "mailto:x@y"]}, "urls[1] 'mailto:x@y' has scheme 'mailto'"),
        ({"url": "http://a.test/", "parameters": {"page": 2}}, "parameters apply only to API strategies"),
    ],
)
async def test_create_job_refuses_bad_arguments_and_stores_nothing(
    jm: JobManager, kwargs: dict[str, Any], needle: str
) -> None:
    sid = await books(jm)
    with pytest.raises(ValidationError) as info:
        await jm.create_job(sid, **kwargs)
    assert needle in str(info.value)
    assert await jm.list_jobs() == []


async def test_unknown_ids_raise_lookup_errors(jm: JobManager) -> None:
    for call in (jm.get_job("nope"), jm.wait_for_job("nope", timeout=1)):
        with pytest.raises(JobNotFoundError) as info:
            await call
        assert isinstance(info.value, LookupError)
    with pytest.raises(StrategyNotFoundError):
        await jm.create_job("nope", url="http://a.test/")
    with pytest.raises(StrategyNotFoundError):
        await jm.get_strategy_history("nope")


async def test_strategy_crud(jm: JobManager) -> None:
    a = await jm.create_strategy("A", BOOKS, description="books")
    b = await jm.create_strategy("B", {"fields": {"t": "title"}})
    assert [s.strategy_id for s in await jm.list_strategies()] == [b.strategy_id, a.strategy_id]
    assert (await jm.get_strategy(a.strategy_id)).description == "books"
    updated = await jm.update_strategy(
        a.strategy_id, name="A2", filter_config={"conditions": [{"field": "price", "operator": "exists"}]}
    )
    assert updated.name == "A2" and updated.filter_config is not None
    assert (await jm.get_strategy(a.strategy_id)).name == "A2"
    cleared = await jm.update_strategy(a.strategy_id, filter_config=None)
    assert cleared.filter_config is None
    await jm.delete_strategy(b.strategy_id)
    with pytest.raises(StrategyNotFoundError):
        await jm.get_strategy(b.strategy_id)
    with pytest.raises(StrategyNotFoundError):
        await jm.delete_strategy(b.strategy_id)


async def test_invalid_strategy_is_refused_and_nothing_is_stored(jm: JobManager) -> None:
    with pytest.raises(StrategyError, match="'div\\[' is not valid CSS"):
        await jm.create_strategy("Bad", {"container": "div[", "fields": {"a": "a"}})
    assert await jm.list_strategies() == []
    good = await books(jm)
    with pytest.raises(StrategyError, match="regex"):
        await jm.update_strategy(good, strategy={"container": "div", "fields": {"a": {"css": "a", "regex": "("}}})
    assert (await jm.get_strategy(good)).strategy == BOOKS


async def test_history_flags_content_changes_per_url(jm: JobManager, site: Site) -> None:
    content = {"v": "one"}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=f"<p class=v>{content['v']}</p>", content_type="text/html")

    url = site.route("/changing", page)
    sid = (await jm.create_strategy("V", {"container": "p.v", "fields": {"v": "p"}})).strategy_id
    first = await jm.execute_job(sid, url)
    same = await jm.execute_job(sid, url)
    other_url = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    content["v"] = "two"
    changed = await jm.execute_job(sid, url)
    history = await jm.get_strategy_history(sid)
    assert [(h.job_id, h.has_changes) for h in history] == [
        (changed.job_id, True),
        (other_url.job_id, False),
        (same.job_id, False),
        (first.job_id, False),
    ]
    assert history[0].item_count == 1 and history[0].status is JobStatus.COMPLETED


async def test_compare_jobs(jm: JobManager, site: Site) -> None:
    sid = await books(jm)
    a = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    b = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    same = await jm.compare_jobs(a.job_id, b.job_id)
    assert same.content_hash_match and same.structural_match
    assert same.semantic_similarity == 1.0 and same.changes == []
    failed = await jm.execute_job(sid, site.url("/missing"))
    with pytest.raises(JobStateError, match="only completed jobs can be compared"):
        await jm.compare_jobs(a.job_id, failed.job_id)


async def test_execute_timeout_raises_with_job_id_and_job_keeps_running(jm: JobManager, site: Site) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="<p>x</p>", content_type="text/html")

    sid = await books(jm)
    with pytest.raises(JobTimeoutError) as info:
        await jm.execute_job(sid, site.route("/slow", slow), timeout=0.2)
    release.set()
    job = await jm.wait_for_job(info.value.job_id, timeout=10)
    assert job.status is JobStatus.COMPLETED


async def test_job_timeout_fails_the_job(tmp_path: Path, site: Site) -> None:
    async def never(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    settings = FAST.model_copy(update={"job_timeout": 0.3, "read_timeout": 10, "total_timeout": 10})
    async with JobManager(tmp_path / "t.db", settings) as jm:
        job = await jm.execute_job(await books(jm), site.route("/never", never))
    assert job.status is JobStatus.FAILED
    assert job.error is not None and "timed out after 0.3 s" in job.error


async def test_big_page_extraction_leaves_the_event_loop_free(jm: JobManager, site: Site) -> None:
    # Ordering, not timing: a small job whose page is served only after the big page has been sent completes
    # while the big page is still being parsed and extracted. Had extraction run on the event loop, the small
    # job's response could not even be read until the big job was done.
    rows = "".join(
        f"<tr class=r><td>{i}</td><td><a href=/i/{i}>item {i} " + "x" * 50 + "</a></td></tr>" for i in range(30_000)
    )
    big_body = f"<table>{rows}</table>".encode()
    big_sent = asyncio.Event()

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.content_length = len(big_body)
        await response.prepare(request)
        await response.write(big_body)
        await response.write_eof()
        big_sent.set()
        return response

    async def small(request: web.Request) -> web.Response:
        await big_sent.wait()
        return web.Response(
            text="<table><tr class=r><td>1</td><td><a href=/one>one</a></td></tr></table>", content_type="text/html"
        )

    sid = (
        await jm.create_strategy(
            "Rows", {"container": "tr.r", "fields": {"n": "td", "link": "a::attr(href)", "text": "a"}}
        )
    ).strategy_id
    big_job = await jm.create_job(sid, url=site.route("/big", big))
    small_job = await jm.create_job(sid, url=site.route("/small", small))
    small_done = await jm.wait_for_job(small_job.job_id, timeout=60)
    big_done = await jm.wait_for_job(big_job.job_id, timeout=60)
    assert big_done.item_count == 30_000 and small_done.item_count == 1
    assert small_done.completed_at is not None and big_done.completed_at is not None
    assert small_done.completed_at < big_done.completed_at


PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


async def test_fixture_mode_replays_saved_pages_offline(tmp_path: Path) -> None:
    pages = PAGES
    async with JobManager(tmp_path / "f.db", fixtures=pages) as jm:
        sid = await books(jm)
        job = await jm.execute_job(sid, "http://books.toscrape.com/")
        missing = await jm.execute_job(sid, "http://books.toscrape.com/not-saved")
    assert job.status is JobStatus.COMPLETED and job.item_count == 20
    assert job.results is not None and job.results[0]["url"].startswith("http://books.toscrape.com/catalogue/")
    assert missing.status is JobStatus.FAILED and "No saved page" in (missing.error or "")


async def test_record_then_replay(tmp_path: Path, site: Site) -> None:
    recorded = tmp_path / "recorded"
    async with JobManager(tmp_path / "r.db", FAST, record=recorded) as jm:
        live = await jm.execute_job(await books(jm), site.url(BOOKS_PAGE))
    async with JobManager(tmp_path / "r2.db", FAST, fixtures=recorded) as jm:
        replay = await jm.execute_job(await books(jm), site.url(BOOKS_PAGE))
    assert replay.status is JobStatus.COMPLETED
    assert replay.content_hash == live.content_hash


async def test_reopening_a_store_keeps_everything(tmp_path: Path, site: Site) -> None:
    path = tmp_path / "keep.db"
    async with JobManager(path, FAST) as jm:
        sid = await books(jm)
        job = await jm.execute_job(sid, site.url(BOOKS_PAGE))
    async with JobManager(path, FAST) as jm:
        assert (await jm.get_job(job.job_id)) == job
        assert (await jm.get_strategy(sid)).name == "Books"


async def test_close_waits_for_running_jobs_and_leaves_the_rest_for_the_next_manager(
    tmp_path: Path, site: Site
) -> None:
    gate = asyncio.Event()
    started = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal started
        started += 1
        await gate.wait()
        return web.Response(text="<p class=v>ok</p>", content_type="text/html")

    site.route("/slow", slow)
    path = tmp_path / "resume.db"
    settings = FAST.model_copy(update={"per_host_limit": 2, "shutdown_timeout": 0.2})
    jm = JobManager(path, settings)
    sid = (await jm.create_strategy("V", {"container": "p.v", "fields": {"v": "p"}})).strategy_id
    batch = await jm.create_job(sid, urls=[site.url(f"/slow?i={i}") for i in range(6)])
    deadline = asyncio.get_running_loop().time() + 10
    while started < 2:  # two jobs are in flight (the per-host limit), four are queued
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)
    await jm.close()  # waits 0.2 s for the two running jobs, then gives up on them
    gate.set()
    async with JobManager(path, settings) as again:
        jobs = [await again.wait_for_job(job_id, timeout=10) for job_id in batch.job_ids]
    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 6
    assert all(job.results == [{"v": "ok"}] for job in jobs)


async def test_a_closed_manager_refuses_work(tmp_path: Path) -> None:
    jm = JobManager(tmp_path / "closed.db")
    await jm.open()
    await jm.close()
    await jm.close()  # closing twice is fine
    with pytest.raises(UnavailableError, match="closed"):
        await jm.list_jobs()


async def test_a_manager_with_resume_off_leaves_orphaned_jobs_alone(tmp_path: Path, site: Site) -> None:
    path = tmp_path / "orphans.db"
    gate = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        await gate.wait()
        return web.Response(text="<p>x</p>", content_type="text/html")

    settings = FAST.model_copy(update={"shutdown_timeout": 0})
    first = JobManager(path, settings)
    sid = (await first.create_strategy("P", {"fields": {"p": "p"}})).strategy_id
    job = await first.create_job(sid, url=site.route("/held", held))
    await first.close()  # released: the job is pending with no live owner
    async with JobManager(path, settings, resume=False) as reader:
        assert (await reader.get_job(job.job_id)).status is JobStatus.PENDING
    hits = site.hits["/held"]
    gate.set()
    async with JobManager(path, settings) as worker:
        assert (await worker.wait_for_job(job.job_id, timeout=10)).status is JobStatus.COMPLETED
    assert site.hits["/held"] == hits + 1


async def test_every_timestamp_comes_from_the_managers_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    async with JobManager(tmp_path / "clock.db", fixtures=PAGES, clock=clock) as jm:
        sid = await books(jm)
        assert (await jm.get_strategy(sid)).created_at == clock()
        job = await jm.execute_job(sid, "http://books.toscrape.com/")
        assert job.created_at == job.started_at == job.completed_at == clock()
        assert [j.job_id for j in await jm.list_jobs(since="1h")] == [job.job_id]
        clock.advance(hours=2)
        assert await jm.list_jobs(since="1h") == []  # "an hour back" from the manager's now, not the wall clock
        updated = await jm.update_strategy(sid, description="moved on")
        assert updated.updated_at == clock() and updated.created_at < updated.updated_at
