"""The `Store` contract, run against every implementation by the parametrised `store` fixture."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from meterlocal.errors import StrategyNotFoundError, UnavailableError, ValidationError
from meterlocal.models import JobStatus
from meterlocal.store import GenerationInput, JobOutcome, OwnerInfo

# Strategies -------------------------------------------------------------------------------------------------


async def test_ids_starting_with_a_prefix_in_order(store, make):
    for strategy_id in ("ab-12", "ab-13", "ab_14", "ac-01", "a%"):
        await store.add_strategy(make.strategy(strategy_id))
    assert await store.ids_starting_with("strategy", "ab", limit=10) == ["ab-12", "ab-13", "ab_14"]
    assert await store.ids_starting_with("strategy", "ab-", limit=10) == ["ab-12", "ab-13"]
    assert await store.ids_starting_with("strategy", "ab-1", limit=1) == ["ab-12"]
    assert await store.ids_starting_with("strategy", "a%", limit=10) == ["a%"]  # no wildcard
    assert await store.ids_starting_with("strategy", "", limit=10) == []
    assert await store.ids_starting_with("job", "ab", limit=10) == []


async def test_generation_inputs_round_trip_and_are_replaced(store, make):
    strategy = make.strategy()
    await store.add_strategy(strategy)
    assert await store.get_generation(strategy.strategy_id) is None
    first = GenerationInput(
        strategy_id=strategy.strategy_id,
        url="https://example.com/list",
        final_url="https://example.com/list?p=1",
        content_type="text/html",
        examples=[{"title": "Ünïcode", "price": "£3"}],
        exclude=["Sponsored"],
        created_at=make.at(0),
        updated_at=make.at(0),
        body=b"<html>\x00\xff" + bytes(range(256)),
    )
    await store.save_generation(first)
    assert await store.get_generation(strategy.strategy_id) == first
    second = replace(first, exclude=[], updated_at=make.at(5))
    await store.save_generation(second)
    assert await store.get_generation(strategy.strategy_id) == second


async def test_strategy_round_trips(store, make):
    strategy = make.strategy(
        description="Books on the front page",
        output_schema={"price": "float"},
        filter_config={"min_price": 1},
        strategy={
            "type": "api",
            "request": {"url": "https://x.test/api", "params": {"page": 1}},
            "items": "d",
        },
    )
    await store.add_strategy(strategy)
    stored = await store.get_strategy(strategy.strategy_id)
    assert stored == strategy
    assert stored.created_at.tzinfo is not None
    assert await store.get_strategy("no-such-id") is None


async def test_strategy_keeps_field_order(store, make):
    document = {"container": "li", "fields": {"z": "b", "a": "i", "m": "u"}}
    strategy = make.strategy(strategy=document)
    await store.add_strategy(strategy)
    stored = await store.get_strategy(strategy.strategy_id)
    assert list(stored.strategy["fields"]) == ["z", "a", "m"]


async def test_list_strategies_newest_first_ties_by_insertion(store, make):
    old = make.strategy("old", created=0)
    tie_first = make.strategy("tie-first", created=10)
    tie_second = make.strategy("tie-second", created=10)
    middle = make.strategy("middle", created=5)
    for s in (old, tie_first, tie_second, middle):
        await store.add_strategy(s)
    listed = await store.list_strategies(limit=10, offset=0)
    assert [s.strategy_id for s in listed] == ["tie-second", "tie-first", "middle", "old"]
    page = await store.list_strategies(limit=2, offset=1)
    assert [s.strategy_id for s in page] == ["tie-first", "middle"]
    assert await store.list_strategies(limit=0, offset=0) == []
    assert await store.list_strategies(limit=10, offset=4) == []


async def test_replace_strategy(store, make):
    strategy = make.strategy("s")
    await store.add_strategy(strategy)
    updated = strategy.model_copy(update={"name": "Renamed", "updated_at": make.at(60), "filter_config": {"a": 1}})
    assert await store.replace_strategy(updated) is True
    assert await store.get_strategy("s") == updated
    assert await store.replace_strategy(make.strategy("missing")) is False
    assert await store.get_strategy("missing") is None


async def test_delete_strategy_keeps_its_jobs(store, make):
    strategy = make.strategy("s")
    await store.add_strategy(strategy)
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    assert await store.delete_strategy("s") is True
    assert await store.get_strategy("s") is None
    assert await store.list_strategies(limit=10, offset=0) == []
    assert await store.delete_strategy("s") is False
    assert await store.replace_strategy(strategy) is False
    assert await store.get_job(job.job_id) == job
    assert [j.job_id for j in await store.list_jobs(strategy_id="s")] == [job.job_id]
    assert [h.job_id for h in await store.history("s")] == [job.job_id]
    with pytest.raises(StrategyNotFoundError):
        await store.add_jobs([make.job("s")], owner_id="owner")


async def test_duplicate_strategy_id_is_refused(store, make):
    await store.add_strategy(make.strategy("s"))
    with pytest.raises(ValidationError, match="already exists"):
        await store.add_strategy(make.strategy("s", name="Other"))
    assert (await store.get_strategy("s")).name != "Other"
    await store.delete_strategy("s")
    with pytest.raises(ValidationError):
        await store.add_strategy(make.strategy("s"))


# Adding jobs ------------------------------------------------------------------------------------------------


async def test_add_jobs_round_trips(store, make):
    await store.add_strategy(make.strategy("s"))
    api = make.job("s", "https://x.test/api", batch_id="b1", parameters={"page": 2, "q": "é"})
    plain = make.job("s", created=1)
    await store.add_jobs([api, plain], owner_id="owner")
    assert await store.get_job(api.job_id) == api
    assert await store.get_job(plain.job_id) == plain
    assert await store.get_job("no-such-job") is None
    await store.add_jobs([], owner_id="owner")  # nothing to do, no error


async def test_add_jobs_with_a_repeated_id_inserts_nothing(store, make):
    await store.add_strategy(make.strategy("s"))
    first = make.job("s", job_id="a")
    with pytest.raises(ValidationError, match="a"):
        await store.add_jobs([first, make.job("s", job_id="b"), make.job("s", job_id="a")], owner_id="owner")
    assert await store.list_jobs() == []


async def test_add_jobs_with_a_stored_id_inserts_nothing(store, make):
    await store.add_strategy(make.strategy("s"))
    await store.add_jobs([make.job("s", job_id="a")], owner_id="owner")
    batch = [make.job("s", job_id="b"), make.job("s", job_id="c"), make.job("s", job_id="a")]
    with pytest.raises(ValidationError, match="already in the store: a;"):
        await store.add_jobs(batch, owner_id="owner")
    assert [j.job_id for j in await store.list_jobs()] == ["a"]


async def test_add_jobs_needs_a_live_strategy(store, make):
    await store.add_strategy(make.strategy("s"))
    with pytest.raises(StrategyNotFoundError) as info:
        await store.add_jobs([make.job("s"), make.job("ghost")], owner_id="owner")
    assert info.value.strategy_id == "ghost"
    assert await store.list_jobs() == []


# Claiming and finishing -------------------------------------------------------------------------------------


async def test_claim_is_compare_and_set(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    assert await store.claim_job(job.job_id, owner_id="intruder", started_at=make.at(1)) is None
    claimed = await store.claim_job(job.job_id, owner_id="owner", started_at=make.at(1))
    assert claimed is not None
    assert claimed.status is JobStatus.RUNNING
    assert claimed.started_at == make.at(1)
    assert claimed.model_dump(exclude={"status", "started_at"}) == job.model_dump(exclude={"status", "started_at"})
    assert await store.claim_job(job.job_id, owner_id="owner", started_at=make.at(2)) is None
    assert (await store.get_job(job.job_id)).started_at == make.at(1)
    assert await store.claim_job("no-such-job", owner_id="owner", started_at=make.at(1)) is None


async def test_concurrent_claims_on_one_store_win_once(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    results = await asyncio.gather(
        *(store.claim_job(job.job_id, owner_id="owner", started_at=make.at(1)) for _ in range(20))
    )
    assert sum(r is not None for r in results) == 1


async def test_finish_only_a_running_job_of_its_owner(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    outcome = make.completed("h1", results=[{"title": "A"}, {"title": "B"}])
    assert await store.finish_job(job.job_id, outcome, owner_id="owner") is False  # still pending
    await store.claim_job(job.job_id, owner_id="owner", started_at=make.at(1))
    assert await store.finish_job(job.job_id, outcome, owner_id="intruder") is False
    assert (await store.get_job(job.job_id)).status is JobStatus.RUNNING
    assert await store.finish_job(job.job_id, outcome, owner_id="owner") is True
    done = await store.get_job(job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.results == [{"title": "A"}, {"title": "B"}]
    assert done.item_count == 2  # defaults to len(results)
    assert done.content_hash == "h1"
    assert done.structural_signature == {"fields": ["title"]}
    assert done.completed_at == outcome.completed_at
    assert done.started_at == make.at(1)
    assert done.error is None
    assert await store.finish_job(job.job_id, make.failed(), owner_id="owner") is False
    assert (await store.get_job(job.job_id)).status is JobStatus.COMPLETED
    assert await store.finish_job("no-such-job", outcome, owner_id="owner") is False


async def test_finish_failed_and_optional_fields(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s", "https://x.test/api", final_url="https://x.test/api?page=1", parameters={"page": 1})
    await store.add_jobs([job], owner_id="owner")
    done = await make.finish(store, job, make.failed("The site answered 404 Not Found"))
    assert done.status is JobStatus.FAILED
    assert done.error == "The site answered 404 Not Found"
    assert done.results is None
    assert done.item_count is None
    assert done.final_url == "https://x.test/api?page=1"  # kept: the outcome had none
    assert done.parameters == {"page": 1}

    other = make.job("s")
    await store.add_jobs([other], owner_id="owner")
    outcome = JobOutcome(
        status=JobStatus.COMPLETED,
        completed_at=make.at(10),
        results=[],
        item_count=0,
        content_hash="empty",
        final_url="https://example.com/a?redirected",
        parameters={"page": 3},
        warnings=["Field 'price': 1 value could not be coerced to float and became null"],
    )
    done = await make.finish(store, other, outcome)
    assert (done.results, done.item_count) == ([], 0)
    assert done.final_url == "https://example.com/a?redirected"
    assert done.parameters == {"page": 3}
    assert done.warnings == ["Field 'price': 1 value could not be coerced to float and became null"]


async def test_finish_refuses_an_unfinished_status(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    await store.claim_job(job.job_id, owner_id="owner", started_at=make.at(1))
    with pytest.raises(ValidationError):
        await store.finish_job(job.job_id, JobOutcome(JobStatus.PENDING, make.at(2)), owner_id="owner")
    assert (await store.get_job(job.job_id)).status is JobStatus.RUNNING


async def test_big_results_round_trip(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    results = [{"title": f"Item {i}", "price": i * 1.5, "tags": ["a", "b"], "n": None} for i in range(5000)]
    done = await make.finish(store, job, make.completed("big", results=results))
    assert done.results == results
    assert done.item_count == 5000


# Reading jobs -----------------------------------------------------------------------------------------------


async def test_list_jobs_filters_and_order(store, make):
    await store.add_strategy(make.strategy("s1"))
    await store.add_strategy(make.strategy("s2"))
    a = make.job("s1", created=0, job_id="a")
    b = make.job("s2", created=1, job_id="b", batch_id="batch")
    c = make.job("s1", created=2, job_id="c", batch_id="batch")
    d = make.job("s1", created=2, job_id="d")  # same time as c, inserted after: listed before c
    e = make.job("s2", created=3, job_id="e")
    await store.add_jobs([a, b, c], owner_id="owner")
    await store.add_jobs([d, e], owner_id="owner")
    await make.finish(store, a, make.completed())
    await make.finish(store, c, make.failed())
    await make.finish(store, e, make.completed())

    async def ids(**filters):
        return [j.job_id for j in await store.list_jobs(**filters)]

    assert await ids() == ["e", "d", "c", "b", "a"]
    assert await ids(strategy_id="s1") == ["d", "c", "a"]
    assert await ids(status=JobStatus.COMPLETED) == ["e", "a"]
    assert await ids(status=JobStatus.PENDING) == ["d", "b"]
    assert await ids(batch_id="batch") == ["c", "b"]
    assert await ids(strategy_id="s1", status=JobStatus.COMPLETED) == ["a"]
    assert await ids(strategy_id="s1", status=JobStatus.FAILED) == ["c"]
    assert await ids(since=make.at(2)) == ["e", "d", "c"]  # inclusive, to the microsecond
    assert await ids(since=make.at(2) + timedelta(microseconds=1)) == ["e"]
    assert await ids(strategy_id="s1", since=make.at(1)) == ["d", "c"]
    assert await ids(batch_id="batch", status=JobStatus.FAILED) == ["c"]
    assert await ids(strategy_id="s2", batch_id="batch", since=make.at(0)) == ["b"]
    assert await ids(strategy_id="nobody") == []
    assert await ids(limit=2) == ["e", "d"]
    assert await ids(limit=2, offset=2) == ["c", "b"]
    assert await ids(limit=2, offset=4) == ["a"]
    assert await ids(limit=0) == []
    assert await ids(offset=10) == []
    full = await store.list_jobs(status=JobStatus.COMPLETED)
    assert full[0].results == [{"title": "A"}]  # listed jobs are complete records


async def test_list_jobs_since_in_another_timezone(store, make):
    await store.add_strategy(make.strategy("s"))
    jobs = [make.job("s", created=i) for i in range(3)]
    await store.add_jobs(jobs, owner_id="owner")
    paris = timezone(timedelta(hours=1))
    since = make.at(1).astimezone(paris)
    assert [j.job_id for j in await store.list_jobs(since=since)] == [jobs[2].job_id, jobs[1].job_id]
    naive_utc = make.at(1).replace(tzinfo=None)
    assert [j.job_id for j in await store.list_jobs(since=naive_utc)] == [jobs[2].job_id, jobs[1].job_id]


async def test_timestamps_round_trip_exactly(store, make):
    await store.add_strategy(make.strategy("s"))
    odd = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5)))
    job = make.job("s", created_at=odd)
    await store.add_jobs([job], owner_id="owner")
    stored = await store.get_job(job.job_id)
    assert stored.created_at == odd
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.model_dump(mode="json")["created_at"] == "2024-03-01T04:59:59.999999Z"


async def test_batch_progress(store, make):
    await store.add_strategy(make.strategy("s"))
    jobs = [make.job("s", batch_id="b", created=i) for i in range(3)]
    await store.add_jobs([*jobs, make.job("s", batch_id="other")], owner_id="owner")
    progress = await store.batch_progress("b")
    assert (progress.total, progress.pending, progress.progress_percent) == (3, 3, 0.0)
    assert progress.status is JobStatus.PENDING
    assert progress.strategy_id == "s"
    await make.finish(store, jobs[0], make.completed())
    await store.claim_job(jobs[1].job_id, owner_id="owner", started_at=make.at(5))
    progress = await store.batch_progress("b")
    assert (progress.pending, progress.running, progress.completed, progress.failed) == (1, 1, 1, 0)
    assert progress.progress_percent == 33.33
    assert progress.status is JobStatus.RUNNING
    await store.finish_job(jobs[1].job_id, make.failed(), owner_id="owner")
    progress = await store.batch_progress("b")
    assert progress.progress_percent == 66.67
    await make.finish(store, jobs[2], make.completed())
    progress = await store.batch_progress("b")
    assert (progress.total, progress.completed, progress.failed, progress.progress_percent) == (
        3,
        2,
        1,
        100.0,
    )
    assert progress.status is JobStatus.COMPLETED
    assert await store.batch_progress("no-such-batch") is None


# History and comparison -------------------------------------------------------------------------------------


async def test_history_has_changes(store, make):
    await store.add_strategy(make.strategy("s"))
    await store.add_strategy(make.strategy("other"))
    a, b = "https://example.com/a", "https://example.com/b"
    # (name, url, created, final state, content hash); expected has_changes in the last column.
    plan = [
        ("a1", a, 0, "completed", "h1", False),  # first completed job for URL a
        ("b1", b, 1, "completed", "h0", False),  # first for URL b, although a1 (another URL) differs
        ("x1", a, 2, "other", "zz", False),  # another strategy's job on URL a does not count
        ("a2", a, 3, "failed", None, False),  # failed jobs never have changes, nor break the chain
        ("a3", a, 4, "completed", "h1", False),  # same as a1 (a2 skipped)
        ("b2", b, 5, "completed", "h2", True),  # differs from b1
        ("a4", a, 6, "running", None, False),
        ("a5", a, 7, "completed", "h3", True),  # differs from a3
        ("b3", b, 8, "pending", None, False),
        ("a6", a, 7, "completed", "h3", False),  # same time as a5, inserted after it: compared with a5
        ("b4", b, 9, "completed", "h1", True),  # differs from b2, although equal to b1
        ("a7", a, 10, "completed", "h3", False),  # same as a6, although b4 (another URL) just before differs
    ]
    for name, url, created, state, digest, _ in plan:
        job = make.job("other" if state == "other" else "s", url, created=created, job_id=name)
        await store.add_jobs([job], owner_id="owner")
        if state in ("completed", "other"):
            await make.finish(store, job, make.completed(digest))
        elif state == "failed":
            await make.finish(store, job, make.failed())
        elif state == "running":
            await store.claim_job(name, owner_id="owner", started_at=make.at(created))
    newest_first = [
        ("a7", False),
        ("b4", True),
        ("b3", False),
        ("a6", False),
        ("a5", True),
        ("a4", False),
        ("b2", True),
        ("a3", False),
        ("a2", False),
        ("b1", False),
        ("a1", False),
    ]
    assert sorted(newest_first) == sorted((p[0], p[5]) for p in plan if p[3] != "other")
    history = await store.history("s")
    assert [(h.job_id, h.has_changes) for h in history] == newest_first
    assert history[0].content_hash == "h3"
    assert history[0].item_count == 1
    failed = next(h for h in history if h.job_id == "a2")
    assert (failed.status, failed.error, failed.content_hash) == (JobStatus.FAILED, make.failed().error, None)
    limited = await store.history("s", limit=3)
    assert [(h.job_id, h.has_changes) for h in limited] == newest_first[:3]
    assert await store.history("s", limit=0) == []
    assert await store.history("nobody") == []
    assert [h.job_id for h in await store.history("other")] == ["x1"]
    assert (await store.history("other"))[0].has_changes is False


# Owners and recovery ----------------------------------------------------------------------------------------


async def test_owners_register_heartbeat_list(store, make):
    assert await store.list_owners() == []
    one = OwnerInfo("one", pid=100, host="alpha", heartbeat_at=make.at(0))
    two = OwnerInfo("two", pid=200, host="beta", heartbeat_at=make.at(1))
    await store.register_owner(one)
    await store.register_owner(two)
    assert await store.list_owners() == [one, two]
    await store.heartbeat("one", make.at(30))
    listed = await store.list_owners()
    assert listed[0].heartbeat_at == make.at(30)
    assert listed[0].heartbeat_at.tzinfo is not None
    await store.heartbeat("ghost", make.at(30))  # an unregistered owner: nothing happens
    assert len(await store.list_owners()) == 2
    await store.register_owner(OwnerInfo("one", pid=101, host="alpha", heartbeat_at=make.at(40)))
    assert (await store.list_owners())[0] == OwnerInfo("one", pid=101, host="alpha", heartbeat_at=make.at(40))


async def test_adopt_jobs_of_dead_owners(store, make):
    await store.add_strategy(make.strategy("s"))
    for owner in ("dead1", "dead2", "alive"):
        await store.register_owner(OwnerInfo(owner, pid=1, host="h", heartbeat_at=make.at(0)))
    d1_pending = make.job("s", created=3, job_id="d1-pending")
    d1_running = make.job("s", created=1, job_id="d1-running")
    d1_done = make.job("s", created=0, job_id="d1-done")
    d2_pending = make.job("s", created=2, job_id="d2-pending")
    d2_tie = make.job("s", created=2, job_id="d2-tie")
    own = make.job("s", created=0, job_id="own")
    await store.add_jobs([d1_pending, d1_running, d1_done], owner_id="dead1")
    await store.add_jobs([d2_pending, d2_tie], owner_id="dead2")
    await store.add_jobs([own], owner_id="alive")
    await store.claim_job("d1-running", owner_id="dead1", started_at=make.at(5))
    await make.finish(store, d1_done, make.completed(), owner_id="dead1")

    adopted = await store.adopt_jobs(from_owner_ids=["dead1", "dead2"], to_owner_id="alive")
    assert adopted == ["d1-running", "d2-pending", "d2-tie", "d1-pending"]  # creation order
    assert [o.owner_id for o in await store.list_owners()] == ["alive"]
    running = await store.get_job("d1-running")
    assert (running.status, running.started_at) == (JobStatus.PENDING, None)
    assert (await store.get_job("d1-done")).status is JobStatus.COMPLETED
    assert {(await store.get_job(job_id)).status for job_id in adopted} == {JobStatus.PENDING}
    assert await store.claim_job("d1-pending", owner_id="dead1", started_at=make.at(9)) is None
    assert await store.claim_job("d1-pending", owner_id="alive", started_at=make.at(9)) is not None
    assert await store.adopt_jobs(from_owner_ids=["dead1"], to_owner_id="alive") == []
    assert await store.adopt_jobs(from_owner_ids=[], to_owner_id="alive") == []
    with pytest.raises(ValidationError):
        await store.adopt_jobs(from_owner_ids=["alive"], to_owner_id="alive")


async def test_a_dead_owner_cannot_finish_an_adopted_job(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="dead")
    await store.claim_job(job.job_id, owner_id="dead", started_at=make.at(1))
    await store.adopt_jobs(from_owner_ids=["dead"], to_owner_id="new")
    assert await store.finish_job(job.job_id, make.completed(), owner_id="dead") is False
    assert (await store.get_job(job.job_id)).status is JobStatus.PENDING


async def test_release_owner_and_orphans(store, make):
    await store.add_strategy(make.strategy("s"))
    await store.register_owner(OwnerInfo("leaving", pid=1, host="h", heartbeat_at=make.at(0)))
    await store.register_owner(OwnerInfo("staying", pid=2, host="h", heartbeat_at=make.at(0)))
    jobs = [make.job("s", created=i) for i in range(3)]
    await store.add_jobs(jobs, owner_id="leaving")
    await store.add_jobs([make.job("s", created=9)], owner_id="staying")
    await store.claim_job(jobs[0].job_id, owner_id="leaving", started_at=make.at(5))
    await make.finish(store, jobs[2], make.completed(), owner_id="leaving")
    assert await store.orphaned_owner_ids() == []

    await store.release_owner("leaving")
    assert [o.owner_id for o in await store.list_owners()] == ["staying"]
    released = await store.get_job(jobs[0].job_id)
    assert (released.status, released.started_at) == (JobStatus.PENDING, None)
    assert (await store.get_job(jobs[1].job_id)).status is JobStatus.PENDING
    assert await store.orphaned_owner_ids() == ["leaving"]
    adopted = await store.adopt_jobs(from_owner_ids=await store.orphaned_owner_ids(), to_owner_id="staying")
    assert adopted == [jobs[0].job_id, jobs[1].job_id]
    assert await store.orphaned_owner_ids() == []
    await store.release_owner("nobody")  # nothing to release: no error


# Lifecycle --------------------------------------------------------------------------------------------------


async def test_closed_store_refuses_calls(store, make):
    await store.add_strategy(make.strategy("s"))
    await store.close()
    await store.close()  # idempotent
    calls = [
        store.get_strategy("s"),
        store.list_jobs(),
        store.add_strategy(make.strategy()),
        store.claim_job("j", owner_id="o", started_at=make.at(0)),
        store.list_owners(),
    ]
    for call in calls:
        with pytest.raises(UnavailableError, match="The store is closed"):
            await call
    with pytest.raises(UnavailableError, match="The store is closed"):
        await store.open()


async def test_results_are_timezone_aware_utc(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    done = await make.finish(store, job, make.completed())
    for value in (done.created_at, done.started_at, done.completed_at):
        assert value.tzinfo is not None
        assert value.utcoffset() == timedelta(0)
        assert value == value.astimezone(UTC)


# Pulling: any pending job, oldest first --------------------------------------------------------------------


async def test_claim_next_takes_any_owners_oldest_pending_job(store, make):
    await store.add_strategy(make.strategy("s"))
    late = make.job("s", "https://b.test/1", created=5, job_id="late")
    early = make.job("s", "https://a.test/1", created=1, job_id="early")
    tie = make.job("s", "https://c.test/1", created=1, job_id="tie")  # same time, inserted after early
    await store.add_jobs([late], owner_id="producer-1")
    await store.add_jobs([early, tie], owner_id="producer-2")
    claims = []
    for _ in range(4):
        job = await store.claim_next(owner_id="worker", worker="w:1", started_at=make.at(9), per_host_limit=5)
        claims.append(None if job is None else job.job_id)
    assert claims == ["early", "tie", "late", None]
    claimed = await store.get_job("early")
    assert (claimed.status, claimed.worker, claimed.started_at) == (JobStatus.RUNNING, "w:1", make.at(9))
    assert await store.finish_job("early", make.completed(), owner_id="worker")  # the claimer owns it now
    assert not await store.finish_job("tie", make.completed(), owner_id="producer-2")


async def test_claim_next_keeps_the_per_host_limit_of_the_store(store, make):
    await store.add_strategy(make.strategy("s"))
    jobs = [make.job("s", f"https://busy.test/{i}", created=i) for i in range(3)]
    other = make.job("s", "https://other.test/", created=10)
    await store.add_jobs([*jobs, other], owner_id="producer")

    async def claim(worker):
        job = await store.claim_next(owner_id=worker, worker=worker, started_at=make.at(20), per_host_limit=2)
        return None if job is None else job.job_id

    assert [await claim("w1"), await claim("w2")] == [jobs[0].job_id, jobs[1].job_id]
    assert await claim("w1") == other.job_id  # busy.test has 2 running (one per worker): skipped
    assert await claim("w2") is None
    await store.finish_job(jobs[0].job_id, make.completed(), owner_id="w1")
    assert await claim("w2") == jobs[2].job_id


async def test_concurrent_claim_next_never_hands_a_job_out_twice(store, make):
    await store.add_strategy(make.strategy("s"))
    jobs = [make.job("s", f"https://h{i % 7}.test/{i}", created=i) for i in range(40)]
    await store.add_jobs(jobs, owner_id="producer")

    async def drain(worker):
        won = []
        while job := await store.claim_next(owner_id=worker, worker=worker, started_at=make.at(1), per_host_limit=99):
            won.append(job.job_id)
        return won

    results = await asyncio.gather(*(drain(f"w{i}") for i in range(5)))
    everything = [job_id for won in results for job_id in won]
    assert sorted(everything) == sorted(job.job_id for job in jobs)
    assert len(set(everything)) == len(everything)


async def test_claim_job_records_the_worker(store, make):
    await store.add_strategy(make.strategy("s"))
    job = make.job("s")
    await store.add_jobs([job], owner_id="owner")
    claimed = await store.claim_job(job.job_id, owner_id="owner", started_at=make.at(1), worker="host:42")
    assert claimed.worker == "host:42"
    assert "worker" not in claimed.model_dump(mode="json")  # Meter's JSON keeps its keys


async def test_a_paginated_job_keeps_its_page_urls_in_order(store, make):
    strategy = make.strategy()
    await store.add_strategy(strategy)
    paged, single = make.job(strategy.strategy_id), make.job(strategy.strategy_id, "https://example.com/b")
    await store.add_jobs([paged, single], owner_id="owner")
    pages = ["https://example.com/a", "https://example.com/a?page=2", "https://example.com/a?page=3"]
    stored = await make.finish(store, paged, replace(make.completed(), page_urls=pages))
    assert stored.page_urls == pages
    assert (await make.finish(store, single, make.completed())).page_urls == []  # none recorded
