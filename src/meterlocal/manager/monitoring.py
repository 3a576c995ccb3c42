"""The monitoring half of `JobManager`'s front door: schedules, their changes and changelog, webhooks, listeners,
retention. `JobManager` inherits these public methods; the work is done by its collaborators (`ScheduleService`,
`ScheduleLoop`, `WebhookOutbox`, `Listeners`) and its store, which `JobManager.__init__` builds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from meterlocal import arguments
from meterlocal.errors import ValidationError
from meterlocal.models import (
    Changelog,
    Clock,
    DeliveryStatus,
    Job,
    Schedule,
    ScheduleChanges,
    WebhookDelivery,
    WebhookTestResult,
)
from meterlocal.notify import Listeners, WebhookOutbox, send_test_webhook
from meterlocal.notify.listeners import JobCallback
from meterlocal.schedules.loop import ScheduleLoop
from meterlocal.schedules.service import DEFAULT_SCHEDULE_LIST_LIMIT, ScheduleService
from meterlocal.schedules.timing import MIN_LIBRARY_INTERVAL_SECONDS
from meterlocal.settings import Settings
from meterlocal.store import PruneReport, Store

__all__ = ["MonitoringMethods"]


class MonitoringMethods:
    """Schedules, changes, changelog, webhooks, in-process listeners and pruning (a base of `JobManager`)."""

    # Set by JobManager.__init__.
    settings: Settings
    _store: Store
    _clock: Clock
    _schedules: ScheduleService
    _schedule_loop: ScheduleLoop
    _outbox: WebhookOutbox
    _listeners: Listeners

    async def _ready(self) -> Store:
        raise NotImplementedError  # JobManager opens the store

    # Schedules ----------------------------------------------------------------------------------------------
    async def create_schedule(
        self,
        strategy_id: str,
        url: str | None = None,
        urls: Sequence[str] | None = None,
        interval_seconds: int | None = None,
        cron_expression: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        webhook_url: str | None = None,
        webhook_metadata: Mapping[str, Any] | None = None,
        webhook_secret: str | None = None,
        webhook_type: str | None = None,
        *,
        webhook_on: str = "always",
        enabled: bool = True,
        timezone: str = "UTC",
        min_interval_seconds: int = MIN_LIBRARY_INTERVAL_SECONDS,
    ) -> Schedule:
        """Re-run a strategy on `url` (or a batch of `urls`) every `interval_seconds` or at the times of a
        five-field `cron_expression` read in `timezone`. The first run is one interval (or the next cron time)
        from now. A `webhook_url` is told about every finished run (`webhook_on="changes"`: only changed ones)
        and gets a secret when none is given. Intervals go down to 1 s here (the REST API asks for 60)."""
        await self._ready()
        schedule = await self._schedules.create(
            strategy_id,
            min_interval=min_interval_seconds,
            url=url,
            urls=urls,
            interval_seconds=interval_seconds,
            cron_expression=cron_expression,
            timezone=timezone,
            parameters=arguments.check_parameters(parameters),
            webhook_url=webhook_url,
            webhook_metadata=webhook_metadata,
            webhook_secret=webhook_secret,
            webhook_type=webhook_type,
            webhook_on=webhook_on,
            enabled=enabled,
        )
        self._schedule_loop.wake()
        return schedule

    async def get_schedule(self, schedule_id: str) -> Schedule:
        await self._ready()
        return await self._schedules.get(schedule_id)

    async def list_schedules(
        self, strategy_id: str | None = None, limit: int = DEFAULT_SCHEDULE_LIST_LIMIT, offset: int = 0
    ) -> list[Schedule]:
        """Schedules, newest first."""
        await self._ready()
        return await self._schedules.list_all(strategy_id=strategy_id, limit=limit, offset=offset)

    async def update_schedule(
        self, schedule_id: str, *, min_interval_seconds: int = MIN_LIBRARY_INTERVAL_SECONDS, **changes: Any
    ) -> Schedule:
        """Change a schedule, with Meter's rules: arguments left out (or None) keep their value; `url` clears
        `urls` and vice versa, `interval_seconds` clears `cron_expression` and vice versa; `webhook_secret=""`
        makes a new secret and `webhook_url=""` removes the webhook. Changing the timing (or re-enabling)
        computes the next run from now. Accepts `enabled`, `url`, `urls`, `interval_seconds`,
        `cron_expression`, `timezone`, `parameters`, `webhook_url`, `webhook_metadata`, `webhook_secret`,
        `webhook_type` and `webhook_on`."""
        await self._ready()
        updated = await self._schedules.update(schedule_id, changes, min_interval=min_interval_seconds)
        self._schedule_loop.wake()
        return updated

    async def delete_schedule(self, schedule_id: str) -> None:
        """Stop a schedule for good. Its past jobs stay; its undelivered webhooks are dropped."""
        await self._ready()
        await self._schedules.delete(schedule_id)

    async def regenerate_webhook_secret(self, schedule_id: str) -> Schedule:
        """Give the schedule's webhook a new secret (the old one stops working at once)."""
        await self._ready()
        return await self._schedules.regenerate_secret(schedule_id)

    async def get_schedule_changes(
        self, schedule_id: str, mark_seen: bool = True, filter: str | None = None
    ) -> ScheduleChanges:
        """The schedule's runs whose content changed and that nobody has marked seen, oldest first; marks them
        seen unless `mark_seen=False`. `filter` uses meter-sdk's keyword syntax (`+a +b`, `a b`, `-a`,
        `"a phrase"`) and keeps only matching items."""
        await self._ready()
        return await self._schedules.changes(schedule_id, mark_seen=mark_seen, filter=filter)

    async def get_schedule_changelog(
        self,
        schedule_id: str,
        limit: int = 20,
        offset: int = 0,
        include_items: bool = True,
        filter: str | None = None,
    ) -> Changelog:
        """The runs whose content changed, newest first, each with its new, removed and changed items."""
        await self._ready()
        return await self._schedules.changelog(
            schedule_id, limit=limit, offset=offset, include_items=include_items, filter=filter
        )

    async def run_due_schedules(self) -> dict[str, str]:
        """Fire the schedules due by the clock now, and say what happened to each (`fired`, `skipped` because
        the previous run is still going, `lost` to another manager). The schedule loop does this by itself
        every `schedule_poll_seconds`; tests and tools call it to not wait for the next pass."""
        await self._ready()
        return {key: outcome.value for key, outcome in (await self._schedule_loop.run_once()).items()}

    # Webhooks and listeners ---------------------------------------------------------------------------------
    async def deliver_webhooks(self) -> int:
        """Send the webhooks due now and wait for them; return how many attempts were made. The outbox does
        this by itself whenever a job finishes and every `schedule_poll_seconds`."""
        await self._ready()
        return await self._outbox.run_once()

    async def list_webhook_deliveries(
        self,
        schedule_id: str | None = None,
        job_id: str | None = None,
        status: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[WebhookDelivery]:
        """Webhook deliveries newest first, each with every attempt (time, status code, error, duration)."""
        store = await self._ready()
        limit, offset = arguments.check_page(limit, offset)
        if status is not None and status not in get_args(DeliveryStatus):
            raise ValidationError(f"status must be one of {', '.join(get_args(DeliveryStatus))}, not {status!r}")
        return await store.list_deliveries(
            schedule_id=schedule_id, job_id=job_id, status=status, limit=limit, offset=offset
        )

    async def test_webhook(
        self,
        webhook_url: str,
        *,
        webhook_secret: str | None = None,
        webhook_type: str | None = None,
        webhook_metadata: Mapping[str, Any] | None = None,
    ) -> WebhookTestResult:
        """Send one test payload now, as Meter's `/api/webhooks/test` does: no retry, nothing stored."""
        url = arguments.check_url(webhook_url, "webhook_url")
        return await send_test_webhook(
            url,
            self.settings,
            secret=webhook_secret,
            webhook_type=webhook_type,
            metadata=dict(webhook_metadata) if webhook_metadata is not None else None,
            now=self._clock(),
        )

    def on_job_finished(self, callback: JobCallback) -> Callable[[], None]:
        """Call `callback(job)` (a function or a coroutine function) whenever this manager finishes a job;
        return a function that removes it. A callback that raises is logged and changes nothing."""
        return self._listeners.add(callback)

    def watch(self, schedule_id: str | None = None, changes_only: bool = True) -> AsyncIterator[Job]:
        """Iterate over the jobs this manager finishes (of `schedule_id`; only changed ones unless
        `changes_only=False`), until the manager closes."""
        return self._listeners.watch(schedule_id=schedule_id, changes_only=changes_only)

    async def _finished(self, claimed: Job) -> None:
        """A job of this manager finished (`claimed` is as it was when it started)."""
        if claimed.schedule_id is not None:
            self._outbox.wake()  # its webhook, if any, is in the outbox now
        if self._listeners.active:
            job = await self._store.get_job(claimed.job_id)
            if job is not None:
                self._listeners.publish(job)

    # Retention ----------------------------------------------------------------------------------------------
    async def prune(
        self, older_than: datetime | str, *, keep_changes: bool = True, keep_failed: bool = True
    ) -> PruneReport:
        """Delete runs created before `older_than` (a datetime, an ISO-8601 time or a span back from now such as
        "30d") whose content did not change, never the newest completed run of a strategy and URL; with
        `keep_changes=False` changed runs go too, with `keep_failed=False` failed ones. Result sets no job needs
        any more are dropped and the file is compacted."""
        store = await self._ready()
        cutoff = arguments.parse_since(older_than, now=self._clock())
        if cutoff is None:
            raise ValidationError("older_than is required: a datetime, an ISO-8601 time or a span such as '30d'")
        return await store.prune(older_than=cutoff, keep_changes=keep_changes, keep_failed=keep_failed)

    async def store_stats(self) -> dict[str, int]:
        """How many jobs and distinct result sets the store holds (results are kept once per content)."""
        store = await self._ready()
        return await store.stats()
