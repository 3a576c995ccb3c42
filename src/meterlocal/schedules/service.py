"""`ScheduleService`: what `JobManager`'s schedule methods do, over the store. The manager only delegates here.

Changes and the changelog follow one rule, the one history uses: a completed job *changed* when its content hash
differs from the previous completed job of the same strategy and URL (decided when it finishes; the first run is
the baseline, not a change). `get_schedule_changes` returns the changed runs nobody has marked seen, oldest first,
and marks them seen in the same transaction ("like reading an email"); with a keyword `filter` each job keeps
only its matching items, and jobs with none are left out (they are still marked seen). The changelog lists the
changed runs newest first with their new, removed and changed items against the previous completed run, aligned
as `compare` aligns them; a `filter` keeps only matching items and counts only those.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from datetime import datetime
from typing import Any

from meterlocal import arguments
from meterlocal.errors import ScheduleNotFoundError, StrategyNotFoundError, ValidationError
from meterlocal.extract import ApiStrategy, compile_strategy
from meterlocal.models import (
    ChangedItem,
    Changelog,
    ChangelogEntry,
    Clock,
    Job,
    JobStatus,
    Schedule,
    ScheduleChanges,
)
from meterlocal.schedules.changelog import ItemChanges, item_changes
from meterlocal.schedules.keywords import KeywordFilter
from meterlocal.schedules.rules import apply_update, new_schedule
from meterlocal.settings import Settings
from meterlocal.store import Store
from meterlocal.webhooks import new_webhook_secret

__all__ = ["DEFAULT_SCHEDULE_LIST_LIMIT", "ScheduleService"]

DEFAULT_SCHEDULE_LIST_LIMIT = 100
"""Schedules `list_schedules` returns when no limit is given (meter-sdk asks for the list without paging)."""


class ScheduleService:
    """Create, change and read schedules, their changes and their changelog."""

    def __init__(self, store: Store, settings: Settings, *, clock: Clock, pool: Executor) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        self._pool = pool

    # Schedules ---------------------------------------------------------------------------------------------
    async def create(self, strategy_id: str, *, min_interval: int, **fields: Any) -> Schedule:
        strategy = await self._store.get_strategy(arguments.check_id(strategy_id, "strategy_id"))
        if strategy is None:
            raise StrategyNotFoundError(strategy_id)
        schedule = new_schedule(
            strategy_id,
            now=self._clock(),
            min_interval=min_interval,
            allow_file_urls=self._settings.allow_file_urls,
            **fields,
        )
        await self.make_jobs(schedule, self._clock())  # the strategy and parameters must make jobs: check now
        await self._store.add_schedule(schedule)
        return schedule

    async def get(self, schedule_id: str) -> Schedule:
        schedule = await self._store.get_schedule(arguments.check_id(schedule_id, "schedule_id"))
        if schedule is None:
            raise ScheduleNotFoundError(schedule_id)
        return schedule

    async def list_all(self, *, strategy_id: str | None, limit: int, offset: int) -> list[Schedule]:
        limit, offset = arguments.check_page(limit, offset)
        if strategy_id is not None:
            arguments.check_id(strategy_id, "strategy_id")
        return await self._store.list_schedules(strategy_id=strategy_id, limit=limit, offset=offset)

    async def update(self, schedule_id: str, changes: Mapping[str, Any], *, min_interval: int) -> Schedule:
        current = await self.get(schedule_id)
        updated = apply_update(
            current,
            changes,
            now=self._clock(),
            min_interval=min_interval,
            allow_file_urls=self._settings.allow_file_urls,
        )
        await self.make_jobs(updated, self._clock())
        if not await self._store.replace_schedule(updated):
            raise ScheduleNotFoundError(schedule_id)
        return updated

    async def delete(self, schedule_id: str) -> None:
        if not await self._store.delete_schedule(arguments.check_id(schedule_id, "schedule_id"), at=self._clock()):
            raise ScheduleNotFoundError(schedule_id)

    async def regenerate_secret(self, schedule_id: str) -> Schedule:
        current = await self.get(schedule_id)
        if current.webhook_url is None:
            raise ValidationError(f"Schedule {schedule_id} has no webhook_url, so it has no webhook secret")
        updated = current.model_copy(update={"webhook_secret": new_webhook_secret(), "updated_at": self._clock()})
        if not await self._store.replace_schedule(updated):
            raise ScheduleNotFoundError(schedule_id)
        return updated

    async def make_jobs(self, schedule: Schedule, now: datetime) -> list[Job]:
        """The pending jobs of one run: one per URL (a batch for `urls`), carrying `schedule_id`."""
        strategy = await self._store.get_strategy(schedule.strategy_id)
        if strategy is None:
            raise StrategyNotFoundError(schedule.strategy_id)
        # Off the event loop: the first compilation of a big strategy takes seconds.
        compiled = await asyncio.get_running_loop().run_in_executor(self._pool, compile_strategy, strategy)
        targets = schedule.targets
        parameters = None
        if isinstance(compiled, ApiStrategy):
            parameters = compiled.request_for(targets[0], schedule.parameters).parameters
        elif schedule.parameters:
            raise ValidationError(
                f"parameters apply only to API strategies; strategy {strategy.name!r} is a CSS strategy"
            )
        batch_id = str(uuid.uuid4()) if schedule.urls is not None else None
        return [
            Job(
                job_id=str(uuid.uuid4()),
                strategy_id=schedule.strategy_id,
                url=target,
                status=JobStatus.PENDING,
                batch_id=batch_id,
                schedule_id=schedule.schedule_id,
                parameters=parameters,
                created_at=now,
            )
            for target in targets
        ]

    # Changes -----------------------------------------------------------------------------------------------
    async def changes(self, schedule_id: str, *, mark_seen: bool, filter: str | None) -> ScheduleChanges:
        keywords = None if filter is None else KeywordFilter.parse(filter)
        await self.get(schedule_id)
        jobs = await self._store.schedule_changes(schedule_id, mark_seen=mark_seen, at=self._clock())
        if keywords is not None:
            narrowed = [job.model_copy(update={"results": keywords.select(job.results)}) for job in jobs]
            jobs = [job for job in narrowed if job.results]
        return ScheduleChanges(
            schedule_id=schedule_id, changes=jobs, count=len(jobs), marked_seen=mark_seen, filter=filter
        )

    async def changelog(
        self, schedule_id: str, *, limit: int, offset: int, include_items: bool, filter: str | None
    ) -> Changelog:
        limit, offset = arguments.check_page(limit, offset)
        keywords = None if filter is None else KeywordFilter.parse(filter)
        schedule = await self.get(schedule_id)
        strategy = await self._store.get_strategy(schedule.strategy_id)
        loop = asyncio.get_running_loop()
        key = None
        if strategy is not None:
            key = (await loop.run_in_executor(self._pool, compile_strategy, strategy)).key
        total, jobs = await self._store.changed_runs(schedule_id, limit=limit, offset=offset)
        entries = []
        for job in jobs:
            previous = await self._store.previous_completed(job)
            before = previous.results if previous is not None else None
            # Aligning two big runs takes a while: keep it off the event loop.
            changes = await loop.run_in_executor(
                self._pool, functools.partial(item_changes, before, job.results, key=key)
            )
            entries.append(_entry(job, previous, _narrow(changes, keywords), include_items=include_items))
        return Changelog(
            schedule_id=schedule_id, entries=entries, total=total, limit=limit, offset=offset, filter=filter
        )


def _narrow(changes: ItemChanges, keywords: KeywordFilter | None) -> ItemChanges:
    if keywords is None:
        return changes
    return ItemChanges(
        new_items=keywords.select(changes.new_items),
        removed_items=keywords.select(changes.removed_items),
        changed_items=[
            pair
            for pair in changes.changed_items
            if keywords.matches(pair["before"]) or keywords.matches(pair["after"])
        ],
    )


def _entry(job: Job, previous: Job | None, changes: ItemChanges, *, include_items: bool) -> ChangelogEntry:
    return ChangelogEntry(
        job_id=job.job_id,
        url=job.url,
        completed_at=job.completed_at,
        item_count=job.item_count,
        content_hash=job.content_hash,
        previous_job_id=previous.job_id if previous is not None else None,
        new_items_count=len(changes.new_items),
        removed_items_count=len(changes.removed_items),
        changed_items_count=len(changes.changed_items),
        new_items=changes.new_items if include_items else None,
        removed_items=changes.removed_items if include_items else None,
        changed_items=[ChangedItem(**pair) for pair in changes.changed_items] if include_items else None,
    )
