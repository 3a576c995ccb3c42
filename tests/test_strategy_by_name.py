"""Strategies by name: re-running the cell that defines one gives back the same strategy, a changed document
updates it in place, and a saved url is the default url of a job."""

from __future__ import annotations

from pathlib import Path

import pytest

from meterlocal import JobManager, JobStatus, Settings, ValidationError
from support import BOOKS, BOOKS_PAGE, PAGES

FILES = Settings(allow_file_urls=True)
PAGE = (PAGES / BOOKS_PAGE.lstrip("/")).as_uri()


async def test_the_same_name_and_document_give_back_the_same_strategy(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "s.db", FILES) as jm:
        first = await jm.strategy("Books", BOOKS, url=PAGE)
        again = await jm.strategy("Books", dict(BOOKS), url=PAGE)
        assert again == first
        assert [s.strategy_id for s in await jm.list_strategies()] == [first.strategy_id]


async def test_a_changed_document_updates_the_strategy_in_place_and_its_history_continues(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "s.db", FILES) as jm:
        first = await jm.strategy("Books", BOOKS, url=PAGE)
        before = await jm.execute_job(first.strategy_id)
        fields = {**BOOKS["fields"], "rating": {"css": "p.star-rating", "attr": "class"}}  # type: ignore[dict-item]
        changed = await jm.strategy("Books", {**BOOKS, "fields": fields}, url=PAGE)
        assert changed.strategy_id == first.strategy_id and changed.strategy["fields"]["rating"]
        after = await jm.execute_job(changed.strategy_id)
        assert after.results is not None and after.results[0]["rating"] == "star-rating Three"
        history = await jm.get_strategy_history(first.strategy_id)
        assert [h.job_id for h in history] == [after.job_id, before.job_id]
        assert len(await jm.list_strategies()) == 1


async def test_if_exists_error_return_update_and_the_default_that_allows_duplicates(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "s.db", FILES) as jm:
        one = await jm.create_strategy("Books", BOOKS)
        two = await jm.create_strategy("Books", BOOKS)  # as before: names need not be unique
        assert one.strategy_id != two.strategy_id
        with pytest.raises(ValidationError, match="A strategy named 'Books' exists"):
            await jm.create_strategy("Books", BOOKS, if_exists="error")
        returned = await jm.create_strategy("Books", {"container": "li", "fields": {"x": "a"}}, if_exists="return")
        assert returned == two  # the newest of that name, unchanged
        updated = await jm.create_strategy("Books", BOOKS, url=PAGE, if_exists="update")
        assert updated.strategy_id == two.strategy_id and updated.url == PAGE
        fresh = await jm.create_strategy("Other", BOOKS, if_exists="error")
        assert fresh.name == "Other"
        with pytest.raises(ValidationError, match="if_exists must be"):
            await jm.create_strategy("Books", BOOKS, if_exists="replace")  # type: ignore[arg-type]


async def test_a_saved_url_is_the_default_url_of_a_job(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "s.db", FILES) as jm:
        saved = await jm.strategy("Books", BOOKS, url=PAGE)
        job = await jm.execute_job(saved.strategy_id)
        assert job.status is JobStatus.COMPLETED and job.url == PAGE and job.item_count == 20
        queued = await jm.create_job(saved.strategy_id)
        assert queued.url == PAGE
        bare = await jm.create_strategy("Bare", BOOKS)
        with pytest.raises(ValidationError, match=r"url is required: strategy 'Bare' .* has no saved url"):
            await jm.execute_job(bare.strategy_id)
