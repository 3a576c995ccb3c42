"""Records a person looks at: one short line for repr and str, a small static HTML view for Job and Comparison."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from meterlocal import Batch, BatchProgress, Comparison, History, HistoryEntry, Job, JobStatus, Schedule, Strategy
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


def _no_script_no_colours(page: str) -> None:
    """Static, and drawn only in the theme's own text colour: readable on light and dark backgrounds."""
    assert "<script" not in page.lower() and "onclick" not in page.lower()
    assert re.findall(r"(?:background|color|fill)\s*:\s*([^;']+)", page) == ["currentColor"] * len(
        re.findall(r"(?:background|color|fill)\s*:", page)
    )


def test_batch_progress_html_is_a_bar_with_the_failed_part_faint() -> None:
    p = BatchProgress(
        batch_id=JOB_ID, strategy_id=SID, total=10, pending=3, running=1, completed=4, failed=2, progress_percent=60.0
    )
    page = p._repr_html_()
    _no_script_no_colours(page)
    assert "6/10" in page and "(60%)" in page and "running" in page
    widths = [int(w) for w in re.findall(r"width:(\d+)px;background", page)]
    assert widths == [80, 40]  # 4 completed and 2 failed of a 200-pixel bar
    assert "opacity:0.35" in page
    batch = Batch(
        batch_id=JOB_ID, strategy_id=SID, job_count=12, job_ids=[f"{n:08d}-x" for n in range(12)], created_at=AT
    )
    shown = batch._repr_html_()
    assert "00000009" in shown and "00000010" not in shown and "2 more jobs" in shown


def test_strategy_html_lists_its_fields_escaped() -> None:
    s = Strategy(
        strategy_id=SID,
        name="Books <&>",
        url="https://books.toscrape.com/",
        strategy=BOOKS,
        created_at=AT,
        updated_at=AT,
    )
    page = s._repr_html_()
    _no_script_no_colours(page)
    assert "Books &lt;&amp;&gt;" in page and "article.product_pod" in page
    assert "<td style='text-align:left'>price</td>" in page and "p.price_color" in page


def test_history_html_is_a_timeline_of_item_counts_with_changed_runs_marked() -> None:
    def entry(n: int, count: int | None, changed: bool, status: JobStatus = JobStatus.COMPLETED) -> HistoryEntry:
        return HistoryEntry(
            job_id=f"{n:08d}-0000-4000-8000-000000000000",
            status=status,
            url="https://books.toscrape.com/",
            item_count=count,
            has_changes=changed,
            created_at=AT + timedelta(hours=n),
            completed_at=AT + timedelta(hours=n),
        )

    history = History([entry(3, 20, True), entry(2, None, False, JobStatus.FAILED), entry(1, 10, False)])
    assert history == list(history) and isinstance(history, list)
    page = history._repr_html_()
    _no_script_no_colours(page)
    assert "3 runs, 1 changed" in page
    rows = page.split("<tr")[2:]
    assert "font-weight:bold" in rows[0] and "●" in rows[0] and "2025-01-15 13:30:00Z" in rows[0]
    assert "✗" in rows[1] and "failed" in rows[1] and "width" not in rows[1]
    assert [int(w) for w in re.findall(r"width:(\d+)px", page)] == [200, 100]  # 20 and 10 items
    assert History([])._repr_html_().startswith("<p>0 runs, 0 changed")
