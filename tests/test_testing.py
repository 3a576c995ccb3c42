"""The pytest plugin `meterlocal.testing`, run as a user runs it: pytest in a subprocess on a test file of theirs."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from support import BOOKS_PAGE, PAGES, ROOT, Site

USER_TESTS = """
import pytest

BOOKS = {"container": "article.product_pod", "fields": {"title": {"css": "h3 > a", "attr": "title"}}}


@pytest.mark.meterlocal(fixtures=FIXTURES)
def test_saved_books(meterlocal_manager, meterlocal_fixtures):
    assert str(meterlocal_fixtures) == FIXTURES
    s = meterlocal_manager.strategy("Books", BOOKS, url="http://books.toscrape.com/")
    job = meterlocal_manager.execute_job(s.strategy_id)
    assert job.status == "completed" and job.item_count == 20, job.error
    assert job.results[0] == {"title": "A Light in the Attic"}


@pytest.mark.meterlocal(fixtures=FIXTURES)
async def test_the_async_manager(meterlocal_async_manager):
    s = await meterlocal_async_manager.strategy("Books", BOOKS)
    job = await meterlocal_async_manager.execute_job(s.strategy_id, "http://books.toscrape.com/")
    assert job.item_count == 20


def test_a_page_that_is_not_saved_fails_its_job(meterlocal_manager, meterlocal_fixtures, tmp_path):
    assert meterlocal_fixtures.name == "pages"  # the default: pages/ beside this file
    s = meterlocal_manager.strategy("Books", BOOKS)
    job = meterlocal_manager.execute_job(s.strategy_id, "http://books.toscrape.com/other")
    assert job.status == "failed" and "No saved page for http://books.toscrape.com/other" in job.error
"""

RECORDING = """
import os
import pytest

BOOKS = {"container": "article.product_pod", "fields": {"title": {"css": "h3 > a", "attr": "title"}}}


def test_books(meterlocal_manager):
    s = meterlocal_manager.strategy("Books", BOOKS)
    jobs = [meterlocal_manager.execute_job(s.strategy_id, url) for url in os.environ["BOOK_URLS"].split()]
    assert [j.item_count for j in jobs] == [20] * len(jobs), [j.error for j in jobs]
"""


async def pytest_in(directory: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run pytest on `directory` in a subprocess (awaited, so a server in this loop keeps serving)."""
    variables = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", "-o", "asyncio_mode=auto",
        "-o", "asyncio_default_fixture_loop_scope=function",
        *args, str(directory),
        cwd=directory, env=variables, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode()


def user_suite(tmp_path: Path, body: str) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_scraper.py").write_text(f"FIXTURES = {str(PAGES)!r}\n" + body, encoding="utf-8")
    (suite / "pages").mkdir()  # the default directory, empty: nothing saved
    return suite


async def test_the_plugin_gives_managers_over_saved_pages(tmp_path: Path) -> None:
    code, out = await pytest_in(user_suite(tmp_path, USER_TESTS), "-p", "meterlocal.testing")
    assert code == 0, out
    assert "3 passed" in out


async def test_record_missing_fetches_what_is_not_saved_once_then_replays_offline(tmp_path: Path, site: Site) -> None:
    suite = user_suite(tmp_path, RECORDING)
    saved = tmp_path / "recorded"
    first, second = site.url(BOOKS_PAGE), site.url(BOOKS_PAGE) + "?page=2"
    urls = {"BOOK_URLS": first}
    code, out = await pytest_in(suite, "-p", "meterlocal.testing", f"--meterlocal-fixtures={saved}",
                                "--meterlocal-record-missing", env=urls)  # fmt: skip
    assert code == 0, out
    manifest = json.loads((saved / "manifest.json").read_text(encoding="utf-8"))
    assert list(manifest["pages"]) == [first] and site.hits[BOOKS_PAGE] == 1
    code, out = await pytest_in(suite, "-p", "meterlocal.testing", f"--meterlocal-fixtures={saved}",
                                "--meterlocal-record-missing", env={"BOOK_URLS": f"{first} {second}"})  # fmt: skip
    assert code == 0, out
    assert site.hits[BOOKS_PAGE] == 2  # the saved page replayed, only the new one fetched
    assert sorted(json.loads((saved / "manifest.json").read_text(encoding="utf-8"))["pages"]) == [first, second]
    await site.stop()  # offline from here: without record mode everything comes from the directory
    code, out = await pytest_in(suite, "-p", "meterlocal.testing", f"--meterlocal-fixtures={saved}",
                                env={"BOOK_URLS": f"{first} {second}"})  # fmt: skip
    assert code == 0, out
    (suite / "pytest.ini").write_text(f"[pytest]\nmeterlocal_fixtures = {saved}\n", encoding="utf-8")
    code, out = await pytest_in(suite, "-p", "meterlocal.testing", env={"BOOK_URLS": f"{second}?new"})
    assert code == 1 and "No saved page for" in out  # not saved, and no record mode: the job fails


async def test_the_entry_point_loads_the_plugin_and_p_does_not_load_it_twice(tmp_path: Path) -> None:
    # What `pip install meterlocal` leaves: a dist-info whose entry_points.txt names the plugin for pytest11.
    probe = tmp_path / "site"
    info = probe / "meterlocal_probe-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: meterlocal-probe\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[pytest11]\nmeterlocal.testing = meterlocal.testing\n", encoding="utf-8")
    suite = user_suite(tmp_path, USER_TESTS)
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(probe)])}
    for extra in ([], ["-p", "meterlocal.testing"]):
        code, out = await pytest_in(suite, *extra, env=env)
        assert code == 0 and "3 passed" in out, (extra, out)
    code, out = await pytest_in(suite, "-p", "no:meterlocal.testing", env=env)
    assert code != 0 and "Unknown pytest.mark.meterlocal" in out  # blocked: the plugin is what registers it
