"""Every schedule call of the real meter-sdk 0.8.0 client against `meterlocal serve`'s app, unchanged.

The server's manager reads a `ManualClock` and fires nothing by itself (`run_schedules=False`), so a test says
when time passes (`clock.advance`) and when due schedules fire (`run_due_schedules`), and never sleeps through an
interval. Pages come from a real site on 127.0.0.1 whose content the test changes; webhooks go to a real
receiver on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from meter_sdk import MeterClient, MeterError

from meterlocal.clock import ManualClock
from support import Receiver

PAGE = "<html><body><ul>{items}</ul></body></html>"
STRATEGY = {"container": "li", "fields": {"title": ".t", "price": ".p"}, "key": "title"}


def shop(books: dict[str, str]) -> str:
    items = "".join(f"<li><span class='t'>{t}</span><span class='p'>{p}</span></li>" for t, p in books.items())
    return PAGE.format(items=items)


@pytest.fixture(scope="module")
def clock(manual_clock: ManualClock) -> ManualClock:
    return manual_clock


@pytest.fixture(scope="module")
def live(live_on_manual_clock: Any) -> Any:
    return live_on_manual_clock


@pytest.fixture(scope="module")
def receiver(live: Any) -> Iterator[Receiver]:
    hook = Receiver()
    live.call(hook.start())
    try:
        yield hook
    finally:
        live.call(hook.stop())


@pytest.fixture
def client(live: Any) -> Iterator[MeterClient]:
    with MeterClient(live.api_key, base_url=live.base_url) as meter:
        yield meter


def fire(live: Any, clock: ManualClock, seconds: float) -> list[dict[str, Any]]:
    """Let `seconds` pass, fire what is due, and wait for the runs to finish; return the fired schedules' ids."""
    clock.advance(seconds)
    fired = live.call(live.manager.run_due_schedules())
    return [schedule_id for schedule_id, outcome in fired.items() if outcome == "fired"]


def wait_finished(client: MeterClient, schedule_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        jobs = client.list_jobs(schedule_id=schedule_id, limit=100)
        if len(jobs) >= count and all(job["status"] in ("completed", "failed") for job in jobs):
            return jobs
        assert time.monotonic() < deadline, jobs
        time.sleep(0.02)


def test_the_whole_schedule_api_through_meter_sdk(
    client: MeterClient, live: Any, clock: ManualClock, receiver: Receiver
) -> None:
    books = {"Dune": "£10", "Emma": "£7", "Ulysses": "£12"}
    url = live.serve("/shop", shop(books))
    strategy_id = live.add_strategy("Shop", STRATEGY)

    created = client.create_schedule(
        strategy_id, url=url, interval_seconds=3600, webhook_url=receiver.url, webhook_metadata={"team": "books"}
    )
    schedule_id = created["schedule_id"]
    assert created["id"] == schedule_id and created["schedule_type"] == "interval"
    assert created["interval_seconds"] == 3600 and created["cron_expression"] is None
    assert created["webhook_secret"].startswith("whsec_") and created["webhook_type"] == "standard"
    assert created["next_run_at"].endswith("Z") and created["last_run_at"] is None and created["enabled"] is True
    secret = created["webhook_secret"]

    listed = client.list_schedules()
    assert [s["schedule_id"] for s in listed] == [schedule_id]
    assert listed[0]["webhook_secret"] is None  # shown once, as in Meter

    assert fire(live, clock, 3600) == [schedule_id]
    [first] = wait_finished(client, schedule_id, 1)
    assert first["schedule_id"] == schedule_id and first["item_count"] == 3 and first["has_changes"] is False

    live.call(live.manager.deliver_webhooks())
    delivered = receiver.bodies()[-1]
    assert delivered["job_id"] == first["job_id"] and delivered["metadata"] == {"team": "books"}
    assert receiver.received[-1][0]["X-Webhook-Secret"] == secret

    books["Emma"] = "£8"
    books["Beloved"] = "£9"
    live.serve("/shop", shop(books))
    assert fire(live, clock, 3600) == [schedule_id]
    jobs = wait_finished(client, schedule_id, 2)
    newest = jobs[0]
    assert newest["has_changes"] is True

    peek = client.get_schedule_changes(schedule_id, mark_seen=False)
    assert peek["count"] == 1 and peek["marked_seen"] is False
    assert peek["changes"][0]["id"] == newest["job_id"]
    only_emma = client.get_schedule_changes(schedule_id, mark_seen=False, filter="+emma")
    assert [item["title"] for item in only_emma["changes"][0]["results"]] == ["Emma"]
    read = client.get_schedule_changes(schedule_id)
    assert read["count"] == 1 and read["marked_seen"] is True
    assert client.get_schedule_changes(schedule_id)["count"] == 0

    log = client.get_schedule_changelog(schedule_id)
    assert log["total"] == 1 and log["limit"] == 20 and log["offset"] == 0
    [entry] = log["entries"]
    assert entry["job_id"] == newest["job_id"] and entry["previous_job_id"] == first["job_id"]
    assert entry["new_items"] == [{"title": "Beloved", "price": "£9"}] and entry["new_items_count"] == 1
    assert entry["removed_items_count"] == 0 and entry["changed_items_count"] == 1
    assert entry["changed_items"][0]["after"]["price"] == "£8"
    bare = client.get_schedule_changelog(schedule_id, include_items=False, limit=5)
    assert bare["entries"][0]["new_items"] is None and bare["limit"] == 5

    other = live.serve("/shop2", shop({"Beloved": "£9"}))
    moved = client.update_schedule(schedule_id, urls=[url, other], cron_expression="0 9 * * 1-5")
    assert moved["url"] is None and moved["urls"] == [url, other]
    assert moved["schedule_type"] == "cron" and moved["interval_seconds"] is None
    paused = client.update_schedule(schedule_id, enabled=False)
    assert paused["enabled"] is False
    regenerated = client.update_schedule(schedule_id, webhook_secret="")
    assert regenerated["webhook_secret"] not in (None, secret)
    again = client.regenerate_webhook_secret(schedule_id)
    assert again["schedule_id"] == schedule_id and again["webhook_secret"] != regenerated["webhook_secret"]
    assert fire(live, clock, 7 * 24 * 3600) == []  # paused: nothing fires

    assert client.delete_schedule(schedule_id)["deleted"] is True
    assert client.list_schedules() == []
    assert len(client.list_jobs(schedule_id=schedule_id)) == 2  # past jobs stay


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"interval_seconds": 59}, "interval_seconds"),
        ({"cron_expression": "61 * * * *"}, "not a valid cron expression"),
        ({"interval_seconds": 60, "cron_expression": "* * * * *"}, "exactly one of them"),
        ({}, "exactly one of them"),
        ({"interval_seconds": 60, "webhook_url": "ftp://example.com/"}, "webhook_url"),
    ],
)
def test_bad_schedules_are_a_meter_error_naming_the_field(
    client: MeterClient, live: Any, arguments: dict[str, Any], message: str
) -> None:
    strategy_id = live.add_strategy("Shop", STRATEGY)
    with pytest.raises(MeterError, match=message):
        client.create_schedule(strategy_id, url=live.serve("/bad", shop({})), **arguments)
    assert all(s["strategy_id"] != strategy_id for s in client.list_schedules())


def test_unknown_schedules_are_404(client: MeterClient) -> None:
    for call in (
        lambda: client.get_schedule_changes("nope"),
        lambda: client.get_schedule_changelog("nope"),
        lambda: client.update_schedule("nope", enabled=False),
        lambda: client.delete_schedule("nope"),
        lambda: client.regenerate_webhook_secret("nope"),
    ):
        with pytest.raises(MeterError, match="Schedule not found: nope"):
            call()


def test_malformed_filters_are_a_400(client: MeterClient, live: Any) -> None:
    strategy_id = live.add_strategy("Shop", STRATEGY)
    schedule = client.create_schedule(strategy_id, url=live.serve("/f", shop({})), interval_seconds=60)
    with pytest.raises(MeterError, match="never closed"):
        client.get_schedule_changes(schedule["schedule_id"], filter='"unclosed')


def test_webhooks_test_endpoint(live: Any, receiver: Receiver) -> None:
    with live.http() as http:
        ok = http.post("/api/webhooks/test", json={"webhook_url": receiver.url})
        missing = http.post("/api/webhooks/test", json={})
        bad = http.post("/api/webhooks/test", json={"webhook_url": "not a url"})
    assert ok.status_code == 200
    assert ok.json() == {"success": True, "status_code": 200, "message": "Webhook delivered successfully"}
    assert missing.status_code == 400 and "webhook_url" in missing.json()["detail"]
    assert bad.status_code == 400 and "webhook_url" in bad.json()["detail"]
