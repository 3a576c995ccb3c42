"""The monitoring loop through JobManager: schedules fire on an injected clock, changes, changelog, webhooks.

Real parts only: a page server on 127.0.0.1 whose content the test changes between runs, a webhook receiver on
127.0.0.1 that can fail or be down, a SQLite file in tmp_path. Time moves by `ManualClock.advance`, never by
sleeping through an interval.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from meterlocal import JobManager, ScheduleNotFoundError, Settings, ValidationError
from meterlocal.clock import ManualClock
from meterlocal.webhooks import verify_signature
from support import Receiver, Site

STRATEGY = {"container": "li.book", "fields": {"title": ".t", "price": ".p"}, "key": "title"}
FAST = Settings(schedule_poll_seconds=0.02, webhook_backoff_base=10.0)


def page(books: dict[str, str]) -> str:
    items = "".join(
        f"<li class='book'><span class='t'>{t}</span><span class='p'>{p}</span></li>" for t, p in books.items()
    )
    return f"<html><body><ul>{items}</ul></body></html>"


class Shop:
    """A page whose books the test edits between runs."""

    def __init__(self, site: Site) -> None:
        self.books = {"Dune": "£10", "Emma": "£7", "Ulysses": "£12"}
        self.gate: asyncio.Event | None = None
        self.url = site.route("/shop", self.handler)

    async def handler(self, request: web.Request) -> web.Response:
        if self.gate is not None:
            await self.gate.wait()
        return web.Response(text=page(self.books), content_type="text/html")


@pytest.fixture
async def shop(site: Site) -> Shop:
    return Shop(site)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["sqlite", "postgres"])
async def jm(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> AsyncIterator[JobManager]:
    # run_schedules=False: nothing fires or delivers by itself, so each test says when (run_due_schedules,
    # deliver_webhooks); test_the_loop_runs_a_one_second_schedule_for_real covers the background loop.
    # Every test runs on both stores: schedules, changes and the outbox behave alike on each.
    path = request.getfixturevalue("postgres_url") if request.param == "postgres" else tmp_path / "store.db"
    async with JobManager(path, FAST, clock=clock, run_schedules=False) as manager:
        yield manager


async def run_once(jm: JobManager, clock: ManualClock, seconds: float) -> list[Any]:
    """Move the clock, fire what is due, and wait for the jobs it made to finish."""
    clock.advance(seconds)
    fired = await jm.run_due_schedules()
    jobs = []
    for schedule_id, outcome in fired.items():
        if outcome == "fired":
            latest = await jm.list_jobs(schedule_id=schedule_id, limit=100)
            jobs += [await jm.wait_for_job(job.job_id, timeout=10) for job in latest if not job.status.is_final]
    return jobs


async def test_an_interval_schedule_fires_once_per_due_time_with_its_schedule_id(
    jm: JobManager, shop: Shop, clock: ManualClock
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    assert schedule.schedule_type == "interval"
    assert (schedule.next_run_at - clock()).total_seconds() == pytest.approx(60)
    assert await run_once(jm, clock, 30) == []
    [job] = await run_once(jm, clock, 30)
    assert job.schedule_id == schedule.schedule_id and job.status == "completed" and job.item_count == 3
    assert await run_once(jm, clock, 1) == []  # not due again for another minute
    listed = await jm.list_jobs(schedule_id=schedule.schedule_id)
    assert [j.job_id for j in listed] == [job.job_id]
    current = await jm.get_schedule(schedule.schedule_id)
    assert current.last_run_at == clock() - __import__("datetime").timedelta(seconds=1)


async def test_after_downtime_an_overdue_schedule_runs_once_and_next_is_from_now(
    jm: JobManager, shop: Shop, clock: ManualClock
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    jobs = await run_once(jm, clock, 60 * 10 + 5)  # ten slots missed
    assert len(jobs) == 1
    after = await jm.get_schedule(schedule.schedule_id)
    assert (after.next_run_at - clock()).total_seconds() == pytest.approx(60)


async def test_a_batch_schedule_creates_one_job_per_url(
    jm: JobManager, shop: Shop, site: Site, clock: ManualClock
) -> None:
    other = site.page("/other", page({"Beloved": "£9"}))
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, urls=[shop.url, other], interval_seconds=5)
    jobs = await run_once(jm, clock, 5)
    assert sorted(j.url for j in jobs) == sorted([shop.url, other])
    assert len({j.batch_id for j in jobs}) == 1 and jobs[0].batch_id is not None
    assert all(j.schedule_id == schedule.schedule_id for j in jobs)


async def test_a_run_is_skipped_while_the_previous_one_is_still_going(
    jm: JobManager, shop: Shop, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    shop.gate = asyncio.Event()  # the page hangs until the test opens the gate
    clock.advance(60)
    assert await jm.run_due_schedules() == {schedule.schedule_id: "fired"}
    clock.advance(60)
    with caplog.at_level(logging.WARNING, logger="meterlocal"):
        assert await jm.run_due_schedules() == {schedule.schedule_id: "skipped"}
    assert "still pending or running" in caplog.text
    shop.gate.set()
    [job] = await jm.list_jobs(schedule_id=schedule.schedule_id)
    assert (await jm.wait_for_job(job.job_id, timeout=10)).status == "completed"


async def test_unseen_changes_are_returned_once_with_item_changes_in_the_changelog(
    jm: JobManager, shop: Shop, clock: ManualClock
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    first = (await run_once(jm, clock, 60))[0]
    assert first.has_changes is False  # the first run is the baseline
    same = (await run_once(jm, clock, 60))[0]
    assert same.has_changes is False
    shop.books["Emma"] = "£8"
    shop.books["Beloved"] = "£9"
    del shop.books["Ulysses"]
    changed = (await run_once(jm, clock, 60))[0]
    assert changed.has_changes is True

    peek = await jm.get_schedule_changes(schedule.schedule_id, mark_seen=False)
    assert [j.job_id for j in peek.changes] == [changed.job_id] and peek.count == 1 and not peek.marked_seen
    read = await jm.get_schedule_changes(schedule.schedule_id)
    assert read.count == 1 and read.marked_seen
    assert (await jm.get_schedule_changes(schedule.schedule_id)).count == 0  # like reading an email

    log = await jm.get_schedule_changelog(schedule.schedule_id)
    assert log.total == 1
    [entry] = log.entries
    assert entry.job_id == changed.job_id and entry.previous_job_id == same.job_id
    assert entry.new_items == [{"title": "Beloved", "price": "£9"}]
    assert entry.removed_items == [{"title": "Ulysses", "price": "£12"}]
    assert [(c.before["price"], c.after["price"]) for c in entry.changed_items] == [("£7", "£8")]
    assert (entry.new_items_count, entry.removed_items_count, entry.changed_items_count) == (1, 1, 1)

    filtered = await jm.get_schedule_changelog(schedule.schedule_id, filter="beloved")
    assert filtered.entries[0].new_items_count == 1 and filtered.entries[0].changed_items_count == 0
    bare = await jm.get_schedule_changelog(schedule.schedule_id, include_items=False)
    assert bare.entries[0].new_items is None and bare.entries[0].new_items_count == 1

    emma = await jm.get_schedule_changes(schedule.schedule_id, mark_seen=False, filter="+emma")
    assert emma.count == 0  # already seen


async def test_changes_filter_keeps_only_matching_items(jm: JobManager, shop: Shop, clock: ManualClock) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    await run_once(jm, clock, 60)
    shop.books["Dune"] = "£11"
    await run_once(jm, clock, 60)
    changes = await jm.get_schedule_changes(schedule.schedule_id, mark_seen=False, filter="+dune -emma")
    assert [item["title"] for item in changes.changes[0].results] == ["Dune"]
    with pytest.raises(ValidationError, match="never closed"):
        await jm.get_schedule_changes(schedule.schedule_id, filter='"dune')


async def test_webhook_gets_meters_payload_with_secret_and_signature(
    jm: JobManager, shop: Shop, clock: ManualClock, receiver: Receiver
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(
        strategy.strategy_id,
        url=shop.url,
        interval_seconds=60,
        webhook_url=receiver.url,
        webhook_metadata={"project": "books"},
    )
    assert schedule.webhook_secret.startswith("whsec_") and schedule.webhook_type == "standard"
    [job] = await run_once(jm, clock, 60)
    await jm.deliver_webhooks()
    await receiver.wait_for(1)
    headers, body = receiver.received[0]
    payload = receiver.bodies()[0]
    assert payload["job_id"] == job.job_id and payload["schedule_id"] == schedule.schedule_id
    assert payload["status"] == "completed" and payload["item_count"] == 3 and payload["has_changes"] is False
    assert payload["metadata"] == {"project": "books"} and len(payload["results"]) == 3
    assert headers["X-Webhook-Secret"] == schedule.webhook_secret
    stamp = int(headers["X-Meterlocal-Signature"].split(",")[0][2:])
    assert verify_signature(schedule.webhook_secret, body, headers["X-Meterlocal-Signature"], now=stamp)
    [delivery] = await jm.list_webhook_deliveries(schedule_id=schedule.schedule_id)
    assert delivery.status == "delivered" and delivery.attempt_count == 1
    assert delivery.attempts[0].status_code == 200


async def test_failed_deliveries_retry_with_backoff_and_every_attempt_is_recorded(
    jm: JobManager, shop: Shop, clock: ManualClock, receiver: Receiver
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(
        strategy.strategy_id, url=shop.url, interval_seconds=60, webhook_url=receiver.url
    )
    receiver.mode = "fail"
    await run_once(jm, clock, 60)
    assert await jm.deliver_webhooks() == 1
    assert await jm.deliver_webhooks() == 0  # not due again until the backoff has passed
    await receiver.stop()  # now down: the next attempt cannot connect
    clock.advance(12)
    assert await jm.deliver_webhooks() == 1
    receiver.mode = "ok"
    await receiver.start()
    clock.advance(25)
    assert await jm.deliver_webhooks() == 1
    [delivery] = await jm.list_webhook_deliveries(schedule_id=schedule.schedule_id)
    assert delivery.status == "delivered" and delivery.attempt_count == 3
    codes = [a.status_code for a in delivery.attempts]
    assert codes == [500, None, 200]
    assert "Could not reach the receiver" in delivery.attempts[1].error


async def test_deliveries_stop_after_the_last_attempt(tmp_path: Path, shop: Shop, receiver: Receiver) -> None:
    clock = ManualClock()
    settings = FAST.model_copy(update={"webhook_max_attempts": 2})
    async with JobManager(tmp_path / "s.db", settings, clock=clock, run_schedules=False) as jm:
        strategy = await jm.create_strategy("Shop", STRATEGY)
        await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60, webhook_url=receiver.url)
        receiver.mode = "fail"
        await run_once(jm, clock, 60)
        await jm.deliver_webhooks()
        clock.advance(3600)
        await jm.deliver_webhooks()
        clock.advance(3600)
        assert await jm.deliver_webhooks() == 0
        [delivery] = await jm.list_webhook_deliveries()
        assert delivery.status == "failed" and delivery.attempt_count == 2


async def test_webhook_on_changes_skips_unchanged_runs(
    jm: JobManager, shop: Shop, clock: ManualClock, receiver: Receiver
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    await jm.create_schedule(
        strategy.strategy_id, url=shop.url, interval_seconds=60, webhook_url=receiver.url, webhook_on="changes"
    )
    await run_once(jm, clock, 60)
    await run_once(jm, clock, 60)
    shop.books["Dune"] = "£99"
    [changed] = await run_once(jm, clock, 60)
    await jm.deliver_webhooks()
    await receiver.wait_for(1)
    assert [b["job_id"] for b in receiver.bodies()] == [changed.job_id]


async def test_a_slow_receiver_never_delays_jobs(
    jm: JobManager, shop: Shop, clock: ManualClock, receiver: Receiver
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60, webhook_url=receiver.url)
    receiver.mode, receiver.delay = "slow", 5.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    [job] = await run_once(jm, clock, 60)
    assert job.status == "completed" and loop.time() - started < 2.0


async def test_the_ssrf_guard_applies_to_webhooks(tmp_path: Path, shop: Shop, receiver: Receiver) -> None:
    clock = ManualClock()
    settings = FAST.model_copy(update={"block_private_addresses": True, "allowed_private_hosts": ()})
    guarded = JobManager(tmp_path / "g.db", settings, clock=clock, run_schedules=False)
    async with guarded as jm:
        result = await jm.test_webhook(receiver.url)
        assert not result.success and result.status_code == 0 and "private address" in result.message
    assert receiver.received == []


async def test_test_webhook_reports_success_and_failure(jm: JobManager, receiver: Receiver) -> None:
    ok = await jm.test_webhook(receiver.url)
    assert ok.success and ok.status_code == 200 and ok.message == "Webhook delivered successfully"
    receiver.mode = "fail"
    failed = await jm.test_webhook(receiver.url)
    assert not failed.success and failed.status_code == 500
    with pytest.raises(ValidationError, match="webhook_url"):
        await jm.test_webhook("ftp://example.com/")


async def test_in_process_listeners_see_finished_jobs(jm: JobManager, shop: Shop, clock: ManualClock) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    seen: list[str] = []
    remove = jm.on_job_finished(lambda job: seen.append(job.job_id))
    changed: list[str] = []

    changes = jm.watch(schedule_id=schedule.schedule_id, changes_only=True)  # listens from here on

    async def watch() -> None:
        async for job in changes:
            changed.append(job.job_id)
            return

    first = (await run_once(jm, clock, 60))[0]
    shop.books["Emma"] = "£1"
    second = (await run_once(jm, clock, 60))[0]
    await asyncio.wait_for(watch(), 5)
    assert changed == [second.job_id]
    assert seen[:2] == [first.job_id, second.job_id]
    remove()
    await run_once(jm, clock, 60)
    assert len(seen) == 2


async def test_schedule_crud_follows_meters_rules(jm: JobManager, shop: Shop, site: Site, receiver: Receiver) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    schedule = await jm.create_schedule(
        strategy.strategy_id,
        url=shop.url,
        cron_expression="0 9 * * 1-5",
        timezone="Europe/Paris",
        webhook_url=receiver.url,
    )
    assert schedule.schedule_type == "cron" and schedule.id == schedule.schedule_id
    other = site.url("/other")
    moved = await jm.update_schedule(schedule.schedule_id, urls=[shop.url, other], interval_seconds=120)
    assert moved.url is None and moved.urls == [shop.url, other]
    assert moved.schedule_type == "interval" and moved.cron_expression is None
    back = await jm.update_schedule(schedule.schedule_id, url=shop.url)
    assert back.urls is None and back.url == shop.url
    secret = back.webhook_secret
    regenerated = await jm.update_schedule(schedule.schedule_id, webhook_secret="")
    assert regenerated.webhook_secret != secret and regenerated.webhook_secret.startswith("whsec_")
    again = await jm.regenerate_webhook_secret(schedule.schedule_id)
    assert again.webhook_secret not in (secret, regenerated.webhook_secret)
    paused = await jm.update_schedule(schedule.schedule_id, enabled=False)
    assert paused.enabled is False
    assert [s.schedule_id for s in await jm.list_schedules()] == [schedule.schedule_id]
    await jm.delete_schedule(schedule.schedule_id)
    with pytest.raises(ScheduleNotFoundError):
        await jm.get_schedule(schedule.schedule_id)
    assert await jm.list_schedules() == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"interval_seconds": 60, "cron_expression": "* * * * *"}, "both were given"),
        ({}, "neither was given"),
        ({"interval_seconds": 0}, "at least 1"),
        ({"cron_expression": "61 * * * *"}, "not a valid cron expression"),
        ({"interval_seconds": 60, "webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"interval_seconds": 60, "timezone": "Nowhere/City"}, "Nowhere/City"),
        ({"interval_seconds": 60, "webhook_on": "sometimes"}, "webhook_on"),
        ({"interval_seconds": 60, "webhook_type": "pigeon"}, "webhook_type"),
    ],
)
async def test_bad_schedules_are_refused_and_nothing_is_stored(
    jm: JobManager, shop: Shop, arguments: dict[str, Any], message: str
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    with pytest.raises(ValidationError) as info:
        await jm.create_schedule(strategy.strategy_id, url=shop.url, **arguments)
    assert message in str(info.value)
    assert await jm.list_schedules() == []


async def test_unknown_ids_are_not_found(jm: JobManager, shop: Shop) -> None:
    with pytest.raises(ScheduleNotFoundError, match="nope"):
        await jm.get_schedule_changes("nope")
    with pytest.raises(ScheduleNotFoundError):
        await jm.update_schedule("nope", enabled=False)
    with pytest.raises(Exception, match="Strategy not found"):
        await jm.create_schedule("missing", url=shop.url, interval_seconds=60)


async def test_unchanged_runs_store_their_results_once_and_prune_keeps_changes(
    jm: JobManager, shop: Shop, clock: ManualClock, tmp_path: Path
) -> None:
    strategy = await jm.create_strategy("Shop", STRATEGY)
    await jm.create_schedule(strategy.strategy_id, url=shop.url, interval_seconds=60)
    for _ in range(5):
        await run_once(jm, clock, 60)
    shop.books["Dune"] = "£1"
    changed = (await run_once(jm, clock, 60))[0]
    for _ in range(3):
        await run_once(jm, clock, 60)
    assert await jm.store_stats() == {"jobs": 9, "result_sets": 2}
    jobs = await jm.list_jobs(limit=100)
    assert all(len(j.results) == 3 for j in jobs)
    report = await jm.prune(older_than=clock())
    # Kept: the changed run and the newest run; the first run's result set goes with its unchanged runs.
    remaining = await jm.list_jobs(limit=100)
    assert changed.job_id in {j.job_id for j in remaining}
    assert len(remaining) == 2 and report.jobs_deleted == 7
    assert (await jm.store_stats())["result_sets"] == 1


async def test_the_loop_runs_a_one_second_schedule_for_real(tmp_path: Path, shop: Shop, receiver: Receiver) -> None:
    # The one test on the real clock: the manager's own loop fires and its own outbox delivers, unasked.
    async with JobManager(tmp_path / "real.db", Settings(schedule_poll_seconds=0.1)) as jm:
        strategy = await jm.create_strategy("Shop", STRATEGY)
        schedule = await jm.create_schedule(
            strategy.strategy_id, url=shop.url, interval_seconds=1, webhook_url=receiver.url
        )
        await receiver.wait_for(2, timeout=15)
        jobs = await jm.list_jobs(schedule_id=schedule.schedule_id, limit=100)
        assert len(jobs) >= 2
        assert {body["schedule_id"] for body in receiver.bodies()} == {schedule.schedule_id}
        created = sorted(job.created_at for job in jobs)
        assert all((b - a).total_seconds() >= 0.9 for a, b in itertools.pairwise(created))
