"""The rules of a schedule's fields, checked once for `create_schedule` and `update_schedule`. Pure.

Meter's rules, kept: exactly one of `url` and `urls`, and exactly one of `interval_seconds` and
`cron_expression`; on update, setting `url` clears `urls` and vice versa, setting `interval_seconds` clears
`cron_expression` and vice versa, and `webhook_secret=""` asks for a new secret. A webhook URL gets a secret when
none is given. Where Meter is silent: a webhook URL must be http(s); `webhook_type` is detected from the URL when
not given; `webhook_on` is `"always"` (Meter's behaviour) or `"changes"`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from meterlocal import arguments
from meterlocal.errors import ValidationError
from meterlocal.models import Schedule
from meterlocal.schedules.timing import (
    MIN_LIBRARY_INTERVAL_SECONDS,
    ScheduleType,
    check_cron,
    check_interval,
    check_timezone,
    next_run_after,
)
from meterlocal.webhooks import WebhookType, detect_webhook_type, new_webhook_secret

__all__ = ["MAX_METADATA_BYTES", "WEBHOOK_ON", "apply_update", "new_schedule", "next_due"]

WEBHOOK_ON = ("always", "changes")
MAX_METADATA_BYTES = 16 * 1024
"""Largest `webhook_metadata` accepted (as JSON): it is sent with every delivery."""

_UPDATABLE = frozenset(
    {
        "enabled",
        "url",
        "urls",
        "interval_seconds",
        "cron_expression",
        "timezone",
        "parameters",
        "webhook_url",
        "webhook_metadata",
        "webhook_secret",
        "webhook_type",
        "webhook_on",
    }
)


def new_schedule(
    strategy_id: str,
    *,
    url: str | None,
    urls: Sequence[str] | None,
    interval_seconds: int | None,
    cron_expression: str | None,
    timezone: str,
    parameters: Mapping[str, Any] | None,
    webhook_url: str | None,
    webhook_metadata: Mapping[str, Any] | None,
    webhook_secret: str | None,
    webhook_type: str | None,
    webhook_on: str,
    enabled: bool,
    now: datetime,
    min_interval: int = MIN_LIBRARY_INTERVAL_SECONDS,
    allow_file_urls: bool = False,
) -> Schedule:
    """A checked, new `Schedule` whose first run is one interval (or the next cron time) after `now`."""
    arguments.check_targets(url, urls, allow_file_urls=allow_file_urls)  # the rule create_job follows
    _exactly_one("interval_seconds", interval_seconds, "cron_expression", cron_expression, "seconds", "cron")
    record = Schedule(
        schedule_id=str(uuid.uuid4()),
        strategy_id=strategy_id,
        schedule_type=ScheduleType.INTERVAL.value,
        created_at=now,
        updated_at=now,
    )
    changes: dict[str, Any] = {
        "url": url,
        "urls": urls,
        "interval_seconds": interval_seconds,
        "cron_expression": cron_expression,
        "timezone": timezone,
        "parameters": parameters,
        "webhook_url": webhook_url,
        "webhook_metadata": webhook_metadata,
        "webhook_type": webhook_type,
        "webhook_on": webhook_on,
        "enabled": enabled,
    }
    if webhook_secret is not None:
        changes["webhook_secret"] = webhook_secret
    return apply_update(record, changes, now=now, min_interval=min_interval, allow_file_urls=allow_file_urls)


def apply_update(
    schedule: Schedule,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    min_interval: int = MIN_LIBRARY_INTERVAL_SECONDS,
    allow_file_urls: bool = False,
) -> Schedule:
    """The schedule with `changes` applied and checked (keys not given keep their value)."""
    unknown = sorted(set(changes) - _UPDATABLE)
    if unknown:
        raise ValidationError(f"unknown schedule field(s): {', '.join(unknown)}")
    values = schedule.model_dump()
    values.pop("id", None)
    if "url" in changes and changes["url"] is not None:
        values["url"] = arguments.check_url(changes["url"], "url", allow_file_urls=allow_file_urls)
        values["urls"] = None
    if "urls" in changes and changes["urls"] is not None:
        values["urls"] = arguments.check_urls(changes["urls"], allow_file_urls=allow_file_urls)
        values["url"] = None
    timing_changed = False
    if "interval_seconds" in changes and changes["interval_seconds"] is not None:
        values["interval_seconds"] = check_interval(changes["interval_seconds"], minimum=min_interval)
        values["cron_expression"] = None
        timing_changed = True
    if "cron_expression" in changes and changes["cron_expression"] is not None:
        values["cron_expression"] = check_cron(changes["cron_expression"])
        values["interval_seconds"] = None
        timing_changed = True
    if "timezone" in changes and changes["timezone"] is not None:
        values["timezone"] = check_timezone(changes["timezone"])
        timing_changed = True
    values["schedule_type"] = (ScheduleType.CRON if values["cron_expression"] else ScheduleType.INTERVAL).value
    if "enabled" in changes and changes["enabled"] is not None:
        if not isinstance(changes["enabled"], bool):
            raise ValidationError(f"enabled must be true or false, not {changes['enabled']!r}")
        timing_changed = timing_changed or (changes["enabled"] and not schedule.enabled)
        values["enabled"] = changes["enabled"]
    if "parameters" in changes:
        values["parameters"] = _object(changes["parameters"], "parameters")
    _apply_webhook(values, changes, schedule)
    if timing_changed or values.get("next_run_at") is None:
        values["next_run_at"] = next_due(values, now)
    values["updated_at"] = now
    return Schedule.model_validate(values)


def next_due(values: Mapping[str, Any], after: datetime) -> datetime:
    """The first due time after `after` of a schedule (a `Schedule` dump or the record itself)."""
    return next_run_after(
        after,
        interval_seconds=values["interval_seconds"],
        cron_expression=values["cron_expression"],
        timezone=values["timezone"],
    )


def _apply_webhook(values: dict[str, Any], changes: Mapping[str, Any], schedule: Schedule) -> None:
    if "webhook_url" in changes and changes["webhook_url"] is not None:
        url = changes["webhook_url"]
        if url == "":
            values["webhook_url"] = None  # "" removes the webhook
        else:
            values["webhook_url"] = arguments.check_url(url, "webhook_url")  # http(s) only, never file://
    if "webhook_metadata" in changes:
        metadata = _object(changes["webhook_metadata"], "webhook_metadata")
        if metadata is not None and len(_json(metadata, "webhook_metadata")) > MAX_METADATA_BYTES:
            raise ValidationError(f"webhook_metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")
        values["webhook_metadata"] = metadata
    if "webhook_type" in changes and changes["webhook_type"] is not None:
        kinds = [kind.value for kind in WebhookType]
        if changes["webhook_type"] not in kinds:
            raise ValidationError(f"webhook_type must be one of {', '.join(kinds)}, not {changes['webhook_type']!r}")
        values["webhook_type"] = changes["webhook_type"]
    if "webhook_on" in changes and changes["webhook_on"] is not None:
        if changes["webhook_on"] not in WEBHOOK_ON:
            raise ValidationError(f"webhook_on must be 'always' or 'changes', not {changes['webhook_on']!r}")
        values["webhook_on"] = changes["webhook_on"]
    if "webhook_secret" in changes and changes["webhook_secret"] is not None:
        secret = changes["webhook_secret"]
        if not isinstance(secret, str) or any(c in secret for c in "\r\n\x00"):
            raise ValidationError("webhook_secret must be a string without line breaks")
        values["webhook_secret"] = secret or new_webhook_secret()  # "" regenerates, as in Meter
    if values["webhook_url"] is None:
        values["webhook_type"] = None
        return
    if values["webhook_secret"] is None:
        values["webhook_secret"] = new_webhook_secret()
    if changes.get("webhook_type") is None and (
        values["webhook_type"] is None or values["webhook_url"] != schedule.webhook_url
    ):
        values["webhook_type"] = detect_webhook_type(values["webhook_url"]).value


def _json(value: Any, name: str) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise ValidationError(f"{name} must contain only JSON values: {exc}") from exc


def _object(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{name} must be an object, not {type(value).__name__}")
    return dict(value)


def _exactly_one(name_a: str, a: Any, name_b: str, b: Any, meaning_a: str, meaning_b: str) -> None:
    if (a is None) == (b is None):
        state = "both were given" if a is not None else "neither was given"
        raise ValidationError(f"give exactly one of {name_a} ({meaning_a}) or {name_b} ({meaning_b}); {state}")
