"""`fixtures=DIR, record_missing=True`: replay what DIR holds, fetch and save the rest (vcrpy's "once")."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlocal import JobManager, JobStatus, ValidationError
from support import BOOKS, BOOKS_PAGE, Site


async def test_saved_pages_replay_and_missing_ones_are_fetched_once(tmp_path: Path, site: Site) -> None:
    saved = tmp_path / "new" / "pages"  # created on first use
    url, other = site.url(BOOKS_PAGE), site.url(BOOKS_PAGE) + "?p=2"
    async with JobManager(tmp_path / "a.db", fixtures=saved, record_missing=True) as jm:
        s = await jm.strategy("Books", BOOKS)
        runs = [await jm.execute_job(s.strategy_id, u) for u in (url, url, other, other)]
    assert [r.item_count for r in runs] == [20, 20, 20, 20]
    assert site.hits[BOOKS_PAGE] == 2  # each URL fetched once, then replayed
    assert len({r.content_hash for r in runs}) == 1
    async with JobManager(tmp_path / "b.db", fixtures=saved) as jm:  # plain replay sees what was recorded
        s = await jm.strategy("Books", BOOKS)
        assert (await jm.execute_job(s.strategy_id, other)).status is JobStatus.COMPLETED
    assert site.hits[BOOKS_PAGE] == 2


def test_record_missing_needs_a_fixture_directory_and_not_record(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="record_missing=True needs fixtures=DIR"):
        JobManager(record_missing=True)
    with pytest.raises(ValidationError, match="not both; fixtures=DIR with record_missing=True"):
        JobManager(fixtures=tmp_path, record=tmp_path)
