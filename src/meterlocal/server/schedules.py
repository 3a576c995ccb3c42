"""Handlers of the schedule and webhook routes: Meter's schedules API over the manager's schedule methods.

Intervals start at 60 s here, as in Meter (`CreateScheduleBody`); the library itself accepts 1 s. A schedule's
`webhook_secret` is shown when it is made (create, regenerate, a PATCH that sets it) and null in lists, as Meter
shows it once.
"""

from __future__ import annotations

from meterlocal.contract import (
    ChangelogOut,
    ChangelogQuery,
    ChangesQuery,
    CreateScheduleBody,
    DeliveriesQuery,
    ScheduleChangesOut,
    ScheduleDeletedOut,
    ScheduleOut,
    SchedulesQuery,
    UpdateScheduleBody,
    WebhookDeliveryOut,
    WebhookSecretOut,
    WebhookTestBody,
    WebhookTestOut,
)
from meterlocal.schedules.timing import MIN_INTERVAL_SECONDS
from meterlocal.server.routing import Call

__all__ = [
    "create_schedule",
    "delete_schedule",
    "get_schedule",
    "get_schedule_changelog",
    "get_schedule_changes",
    "list_schedules",
    "list_webhook_deliveries",
    "regenerate_webhook_secret",
    "test_webhook",
    "update_schedule",
]


async def create_schedule(call: Call[CreateScheduleBody, None]) -> ScheduleOut:
    fields = call.body.given()
    strategy_id = fields.pop("strategy_id")
    schedule = await call.manager.create_schedule(strategy_id, min_interval_seconds=MIN_INTERVAL_SECONDS, **fields)
    return ScheduleOut.of(schedule)


async def list_schedules(call: Call[None, SchedulesQuery]) -> list[ScheduleOut]:
    query = call.query
    schedules = await call.manager.list_schedules(strategy_id=query.strategy_id, limit=query.limit, offset=query.offset)
    return [ScheduleOut.listed(schedule) for schedule in schedules]


async def get_schedule(call: Call[None, None]) -> ScheduleOut:
    return ScheduleOut.listed(await call.manager.get_schedule(call.path("schedule_id")))


async def update_schedule(call: Call[UpdateScheduleBody, None]) -> ScheduleOut:
    changes = call.body.given()
    schedule = await call.manager.update_schedule(
        call.path("schedule_id"), min_interval_seconds=MIN_INTERVAL_SECONDS, **changes
    )
    return ScheduleOut.of(schedule) if "webhook_secret" in changes else ScheduleOut.listed(schedule)


async def delete_schedule(call: Call[None, None]) -> ScheduleDeletedOut:
    schedule_id = call.path("schedule_id")
    await call.manager.delete_schedule(schedule_id)
    return ScheduleDeletedOut(schedule_id=schedule_id)


async def regenerate_webhook_secret(call: Call[None, None]) -> WebhookSecretOut:
    schedule = await call.manager.regenerate_webhook_secret(call.path("schedule_id"))
    assert schedule.webhook_secret is not None  # a schedule with a webhook always has a secret
    return WebhookSecretOut(schedule_id=schedule.schedule_id, webhook_secret=schedule.webhook_secret)


async def get_schedule_changes(call: Call[None, ChangesQuery]) -> ScheduleChangesOut:
    query = call.query
    changes = await call.manager.get_schedule_changes(
        call.path("schedule_id"), mark_seen=query.mark_seen, filter=query.filter
    )
    return ScheduleChangesOut.from_changes(changes)


async def get_schedule_changelog(call: Call[None, ChangelogQuery]) -> ChangelogOut:
    query = call.query
    changelog = await call.manager.get_schedule_changelog(
        call.path("schedule_id"),
        limit=query.limit,
        offset=query.offset,
        include_items=query.include_items,
        filter=query.filter,
    )
    return ChangelogOut.of(changelog)


async def list_webhook_deliveries(call: Call[None, DeliveriesQuery]) -> list[WebhookDeliveryOut]:
    query = call.query
    schedule_id = call.path("schedule_id")
    await call.manager.get_schedule(schedule_id)  # 404 for an unknown schedule, not an empty list
    deliveries = await call.manager.list_webhook_deliveries(
        schedule_id=schedule_id, status=query.status, limit=query.limit, offset=query.offset
    )
    return [WebhookDeliveryOut.of(delivery) for delivery in deliveries]


async def test_webhook(call: Call[WebhookTestBody, None]) -> WebhookTestOut:
    body = call.body
    result = await call.manager.test_webhook(
        body.webhook_url,
        webhook_secret=body.webhook_secret,
        webhook_type=None if body.webhook_type is None else body.webhook_type.value,
        webhook_metadata=body.webhook_metadata,
    )
    return WebhookTestOut.of(result)
