"""Records a person looks at: one short line for repr and str, a small static HTML view for Job and Comparison."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meterlocal import Batch, BatchProgress, Comparison, Job, JobStatus, Schedule, Strategy
from support import BOOKS

AT = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
JOB_ID = "1a2b3c4d-0000-4000-8000-000000000001"
SID = "5e6f7a8b-0000-4000-8000-000000000002"


def big_job() -> Job:
    rows = [{"title": f"<b>Book {i}</b> & co", "price": f"£{i}.00", "tags": ["a", "b"]} for i in range(250)]
    return Job(
        job_id=JOB_ID,
        strategy_id=SID,
        url="https://books.toscrape.com/",
        status=JobStatus.COMPLETED,
        results=rows,
        item_count=len(rows),
        warnings=["field 'x' is null in every item"],
        created_at=AT,
        started_at=AT,
        completed_at=AT + timedelta(seconds=1.5),
    )


def test_reprs_are_one_short_line_with_short_ids() -> None:
    job = big_job()
    assert repr(job) == ("<Job 1a2b3c4d completed 250 items in 1.50s 1 warnings url='https://books.toscrape.com/'>")
    assert str(job) == repr(job)
    failed = job.model_copy(
        update={"status": JobStatus.FAILED, "results": None, "item_count": None, "error": "x" * 500}
    )
    assert "failed" in repr(failed) and len(repr(failed)) < 200
    strategy = Strategy(strategy_id=SID, name="Books", strategy=BOOKS, created_at=AT, updated_at=AT)
    assert repr(strategy) == "<Strategy 5e6f7a8b 'Books' css 3 fields>"
    batch = Batch(batch_id=JOB_ID, strategy_id=SID, job_count=26, job_ids=[JOB_ID] * 26, created_at=AT)
    assert repr(batch) == "<Batch 1a2b3c4d pending 26 jobs strategy 5e6f7a8b>"
    progress = BatchProgress(
        batch_id=JOB_ID, strategy_id=SID, total=26, pending=11, running=3, completed=10, failed=2, progress_percent=46.2
    )
    assert repr(progress) == (
        "<BatchProgress 1a2b3c4d 12/26 finished (46%): 10 completed, 2 failed, 3 running, 11 pending>"
    )
    same = Comparison(
        job_id=JOB_ID,
        other_job_id=SID,
        content_hash_match=True,
        structural_match=True,
        semantic_similarity=1.0,
        item_count_diff=0,
        changes=[],
        structural_changes=[],
    )
    assert repr(same) == "<Comparison 1a2b3c4d -> 5e6f7a8b same content>"
    changed = same.model_copy(
        update={"content_hash_match": False, "semantic_similarity": 0.9, "item_count_diff": 2, "changes": ["a", "b"]}
    )
    assert repr(changed) == "<Comparison 1a2b3c4d -> 5e6f7a8b changed: similarity 0.90 items +2 2 changes>"
    schedule = Schedule(
        schedule_id=JOB_ID,
        strategy_id=SID,
        url="https://books.toscrape.com/",
        schedule_type="interval",
        interval_seconds=3600,
        next_run_at=AT,
        created_at=AT,
        updated_at=AT,
    )
    assert repr(schedule) == (
        "<Schedule 1a2b3c4d every 3600s enabled url='https://books.toscrape.com/' next 2025-01-15 10:30:00Z "
        "strategy 5e6f7a8b>"
    )


def test_the_json_shape_is_unchanged() -> None:
    dumped = big_job().model_dump(mode="json")
    assert len(dumped["results"]) == 250 and dumped["job_id"] == JOB_ID
    assert Job.model_validate(dumped) == big_job()


def test_job_html_shows_the_first_rows_escaped_and_no_script() -> None:
    page = big_job()._repr_html_()
    assert "<script" not in page.lower()
    assert "&lt;b&gt;Book 0&lt;/b&gt; &amp; co" in page and "<b>Book" not in page
    assert "Book 9<" not in page and "&lt;b&gt;Book 9&lt;/b&gt;" in page and "Book 10&lt;" not in page
    assert "240 more rows" in page
    assert "completed" in page and "1.50 s" in page and "is null in every item" in page
    failed = big_job().model_copy(update={"status": JobStatus.FAILED, "results": None, "error": "HTTP 404 <x>"})
    assert "HTTP 404 &lt;x&gt;" in failed._repr_html_()


def test_comparison_html_lists_the_signals_and_changes() -> None:
    c = Comparison(
        job_id=JOB_ID,
        other_job_id=SID,
        content_hash_match=False,
        structural_match=True,
        semantic_similarity=0.5,
        item_count_diff=-1,
        changes=["Item count changed: 10 -> 9", "Field 'price' changed in 3 items"],
        structural_changes=[],
    )
    page = c._repr_html_()
    assert "<li>Item count changed: 10 -&gt; 9</li>" in page and "0.500" in page and "-1" in page
