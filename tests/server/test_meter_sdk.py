"""The real meter-sdk 0.8.0 client, unchanged, against a running meterlocal server.

Every `MeterClient` method the Jobs API covers is called as a Meter user would call it, with only `base_url`
pointing at localhost; errors must reach the user as meter-sdk's `MeterError("API error: <detail>")`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import meter_sdk
import pytest
from meter_sdk import MeterClient, MeterError


@pytest.fixture
def client(live: Any) -> Iterator[MeterClient]:
    with MeterClient(live.api_key, base_url=live.base_url + "/") as meter:  # a trailing slash, as people type it
        yield meter


def test_the_sdk_under_test_is_0_8_0() -> None:
    assert meter_sdk.__version__ == "0.8.0"


def test_execute_job_returns_the_finished_job_with_both_id_keys(client: MeterClient, live: Any, books: str) -> None:
    job = client.execute_job(books, live.page(live.BOOKS_PAGE))
    assert job["status"] == "completed"
    assert job["id"] == job["job_id"] and job["strategy_id"] == books
    assert job["item_count"] == 20 and len(job["results"]) == 20
    assert job["results"][0]["title"] == "A Light in the Attic" and job["results"][0]["price"] == "£51.77"
    assert job["error"] is None and len(job["content_hash"]) == 32
    for key in ("started_at", "completed_at", "created_at"):
        assert job[key].endswith("Z")


def test_create_job_then_wait_for_job(client: MeterClient, live: Any, books: str) -> None:
    created = client.create_job(books, url=live.page(live.BOOKS_PAGE))
    assert set(created) >= {"job_id", "id", "status", "strategy_id", "url", "created_at"}
    assert created["status"] in ("pending", "running") and created["url"] == live.page(live.BOOKS_PAGE)
    done = client.wait_for_job(created["job_id"], poll_interval=0.05, timeout=20)
    assert done["status"] == "completed" and done["item_count"] == 20
    assert client.get_job(created["id"]) == done


def test_batch_create_and_progress(client: MeterClient, live: Any, books: str) -> None:
    urls = [live.page(live.BOOKS_PAGE), live.page("/no/such/page.html")]
    batch = client.create_job(books, urls=urls)
    assert batch["job_count"] == 2 and batch["status"] == "pending" and batch["strategy_id"] == books
    assert len(batch["job_ids"]) == 2 and "created_at" in batch
    deadline = time.monotonic() + 20
    progress = client.get_batch_progress(batch["batch_id"])
    while progress["pending"] or progress["running"]:
        assert time.monotonic() < deadline, progress
        time.sleep(0.05)
        progress = client.get_batch_progress(batch["batch_id"])
    assert progress["total"] == 2 and progress["completed"] == 1 and progress["failed"] == 1
    assert progress["progress_percent"] == 100.0 and progress["batch_id"] == batch["batch_id"]
    jobs = {job["url"]: job for job in (client.get_job(i) for i in batch["job_ids"])}
    assert jobs[urls[0]]["status"] == "completed" and jobs[urls[1]]["status"] == "failed"


def test_a_failed_job_is_a_result_not_an_http_error(client: MeterClient, live: Any, books: str) -> None:
    job = client.execute_job(books, live.page("/no/such/page.html"))
    assert job["status"] == "failed" and job["results"] is None
    assert "404" in job["error"]
    with pytest.raises(MeterError, match=r"^Job failed: .*404"):
        client.wait_for_job(job["job_id"], poll_interval=0.05, timeout=5)


def test_ssrf_guard_fails_jobs_aimed_at_private_addresses(client: MeterClient, live: Any, books: str) -> None:
    # 127.0.0.1 is allowed for the test site; `localhost` resolves to a loopback address and is refused.
    url = live.page(live.BOOKS_PAGE).replace("127.0.0.1", "localhost")
    job = client.execute_job(books, url)
    assert job["status"] == "failed"
    assert "private or loopback" in job["error"]


def test_list_jobs_with_filters(client: MeterClient, live: Any, books: str) -> None:
    ok = client.execute_job(books, live.page(live.BOOKS_PAGE))
    bad = client.execute_job(books, live.page("/missing.html"))
    mine = client.list_jobs(strategy_id=books)
    assert [j["id"] for j in mine] == [bad["id"], ok["id"]]  # newest first
    assert [j["id"] for j in client.list_jobs(strategy_id=books, status="failed")] == [bad["id"]]
    assert [j["id"] for j in client.list_jobs(strategy_id=books, limit=1, offset=1)] == [ok["id"]]
    assert {j["id"] for j in client.list_jobs(strategy_id=books, since="1h")} == {ok["id"], bad["id"]}
    assert client.list_jobs(strategy_id=books, since="2999-01-01T00:00:00Z") == []
    assert client.list_jobs(strategy_id=books, schedule_id="any") == []  # meterlocal has no schedules
    assert mine[1]["results"] == ok["results"]
    with pytest.raises(MeterError, match=r"^API error: Query parameter status must be one of"):
        client.list_jobs(status="done")
    with pytest.raises(MeterError, match=r"^API error: since must be an ISO-8601 time"):
        client.list_jobs(since="yesterday")


def test_compare_jobs_and_strategy_history(client: MeterClient, live: Any, books: str) -> None:
    url = live.serve("/shop/index.html", live.books_variant("x", "x"))
    first = client.execute_job(books, url)
    live.serve("/shop/index.html", live.books_variant("£51.77", "£49.99"))
    second = client.execute_job(books, url)
    third = client.execute_job(books, url)

    changed = client.compare_jobs(first["id"], second["id"])
    assert changed["content_hash_match"] is False and changed["structural_match"] is True
    assert 0.9 < changed["semantic_similarity"] < 1.0
    assert "Field 'price' changed in 1 item" in changed["changes"]
    assert changed["job_id"] == first["id"] and changed["other_job_id"] == second["id"]
    same = client.compare_jobs(second["id"], third["id"])
    assert same["content_hash_match"] is True and same["semantic_similarity"] == 1.0 and same["changes"] == []

    history = client.get_strategy_history(books)
    assert [(h["job_id"], h["has_changes"]) for h in history] == [
        (third["id"], False),
        (second["id"], True),
        (first["id"], False),
    ]
    assert all(h["status"] == "completed" and h["item_count"] == 20 for h in history)


def test_strategies_list_get_update_delete(client: MeterClient, live: Any) -> None:
    sid = live.add_strategy("HN", "hackernews_front_2025-08-11", url="https://news.ycombinator.com/news")
    listed = client.list_strategies(limit=100)
    assert sid in [s["strategy_id"] for s in listed]
    strategy = client.get_strategy(sid)
    assert strategy["id"] == strategy["strategy_id"] == sid
    assert strategy["name"] == "HN" and strategy["scraper_type"] == "css"
    assert strategy["api_parameters"] == {} and strategy["preview_data"] == []
    assert strategy["strategy"]["fields"]["title"] == "span.titleline > a"

    keep_shows = {"mode": "all", "conditions": [{"field": "title", "operator": "contains", "value": "Show HN"}]}
    updated = client.update_strategy(sid, filter_config=keep_shows)
    assert updated["filter_config"] == keep_shows and updated["name"] == "HN"
    job = client.execute_job(sid, live.page(live.HN_PAGE))
    assert job["status"] == "completed" and job["item_count"] >= 1
    assert all("Show HN" in item["title"] for item in job["results"])

    assert client.update_strategy(sid) == updated | {"updated_at": client.get_strategy(sid)["updated_at"]}
    client.delete_strategy(sid)
    assert sid not in [s["strategy_id"] for s in client.list_strategies(limit=100)]
    with pytest.raises(MeterError, match=rf"^API error: Strategy not found: {sid}$"):
        client.get_strategy(sid)
    assert client.get_job(job["id"])["status"] == "completed"  # its jobs stay readable


def test_sdk_errors_carry_the_servers_detail(client: MeterClient, live: Any, books: str) -> None:
    with pytest.raises(MeterError, match=r"^API error: Job not found: 00000000-0000-0000-0000-000000000000$"):
        client.get_job("00000000-0000-0000-0000-000000000000")
    with pytest.raises(MeterError, match=r"^API error: url is required"):
        client.create_job(books)
    with pytest.raises(MeterError, match=r"^API error: url must be a non-empty URL string"):
        client.execute_job(books, "")
    with pytest.raises(MeterError, match=r"^API error: Strategy not found: nope$"):
        client.create_job("nope", url=live.page(live.BOOKS_PAGE))
    with pytest.raises(MeterError, match=r"^API error: Batch not found: b1$"):
        client.get_batch_progress("b1")
    with pytest.raises(
        MeterError, match=r"^API error: Generating a strategy from a description needs Meter's LLM.*send \"examples\""
    ):
        client.generate_strategy(url="https://example.com", description="products", name="x")
    completed = client.execute_job(books, live.page(live.BOOKS_PAGE))
    failed = client.execute_job(books, live.page("/missing.html"))
    with pytest.raises(MeterError, match=rf"^API error: Job {failed['id']} is failed; only completed jobs can be"):
        client.compare_jobs(completed["id"], failed["id"])


def test_a_wrong_or_missing_key_is_refused(live: Any, books: str) -> None:
    key = live.api_key
    for wrong in ("sk_wrong", key + "x", key[:-1], key.upper(), "sk_live_..."):
        with (
            MeterClient(wrong, base_url=live.base_url) as meter,
            pytest.raises(MeterError, match=r"^API error: Invalid or missing API key$"),
        ):
            meter.list_jobs()
    with MeterClient(key, base_url=live.base_url) as meter:
        assert isinstance(meter.list_jobs(strategy_id=books), list)
