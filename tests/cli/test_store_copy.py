"""`meterlocal store copy`: a SQLite store moves into PostgreSQL with its history; a second copy adds only what
is new; what the target holds reads back as it did in the source."""

from __future__ import annotations

from meterlocal import JobStatus, SyncJobManager
from meterlocal.cli.commands import cli
from support import BOOKS, BOOKS_PAGE


def copy(runner, source, target):
    result = runner.invoke(cli, ["store", "copy", str(source), target], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


def test_copy_into_postgres_keeps_history_and_is_idempotent(runner, tmp_path, pages, postgres_url):
    source = tmp_path / "scrapes.db"
    page = pages.url(BOOKS_PAGE)
    with SyncJobManager(source, run_schedules=False) as jm:
        strategy = jm.create_strategy("Books", BOOKS)
        gone = jm.create_strategy("Gone", BOOKS)
        jm.delete_strategy(gone.strategy_id)
        first = jm.execute_job(strategy.strategy_id, page)
        second = jm.execute_job(strategy.strategy_id, page)
        schedule = jm.create_schedule(strategy.strategy_id, url=page, interval_seconds=3600)
        before = {
            "jobs": jm.list_jobs(limit=100),
            "history": jm.get_strategy_history(strategy.strategy_id),
            "strategies": jm.list_strategies(),
        }

    lines = copy(runner, source, postgres_url)
    assert lines["strategies"] == "2 copied, 0 already there"
    assert lines["jobs"] == "2 copied, 0 already there"
    assert lines["results"] == "1 copied, 0 already there"  # one distinct content, stored once
    assert lines["schedules"] == "1 copied, 0 already there"

    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as jm:
        assert jm.list_jobs(limit=100) == before["jobs"]
        assert jm.get_strategy_history(strategy.strategy_id) == before["history"]
        assert jm.list_strategies() == before["strategies"]  # the deleted one stays deleted
        assert jm.get_job(second.job_id).results == first.results
        assert jm.get_schedule(schedule.schedule_id).next_run_at == schedule.next_run_at

    with SyncJobManager(source, run_schedules=False) as jm:
        third = jm.execute_job(strategy.strategy_id, page)
    lines = copy(runner, source, postgres_url)
    assert lines["jobs"] == "1 copied, 2 already there"
    assert lines["strategies"] == "0 copied, 2 already there"
    with SyncJobManager(postgres_url, run_jobs=False, run_schedules=False) as jm:
        copied = jm.get_job(third.job_id)
        assert copied.status is JobStatus.COMPLETED
        assert [job.job_id for job in jm.list_jobs(limit=3)] == [third.job_id, second.job_id, first.job_id]
