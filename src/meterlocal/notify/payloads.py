"""What a webhook receives: Meter's payloads, and Slack and Discord messages. Pure.

Standard payloads are Meter's: on success `job_id, schedule_id, status, url, results, item_count, has_changes,
content_hash, completed_at, metadata`; on failure `job_id, schedule_id, status, url, error, completed_at,
metadata`. Slack (`hooks.slack.com`) and Discord (`discord.com/api/webhooks`) URLs get a short message in their
own format instead, chosen from the URL when `webhook_type` is not given, as Meter does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from meterlocal.models import Job, JobStatus, format_timestamp
from meterlocal.webhooks import WebhookType

__all__ = ["job_payload", "render_body"]

_SLACK_LIST_LIMIT = 5


def job_payload(job: Job, *, has_changes: bool, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Meter's standard payload for a finished scheduled job."""
    completed = None if job.completed_at is None else format_timestamp(job.completed_at)
    if job.status is JobStatus.COMPLETED:
        return {
            "job_id": job.job_id,
            "schedule_id": job.schedule_id,
            "status": job.status.value,
            "url": job.url,
            "results": job.results,
            "item_count": job.item_count,
            "has_changes": has_changes,
            "content_hash": job.content_hash,
            "completed_at": completed,
            "metadata": dict(metadata) if metadata is not None else None,
        }
    return {
        "job_id": job.job_id,
        "schedule_id": job.schedule_id,
        "status": job.status.value,
        "url": job.url,
        "error": job.error,
        "completed_at": completed,
        "metadata": dict(metadata) if metadata is not None else None,
    }


def render_body(payload: Mapping[str, Any], webhook_type: WebhookType | str) -> bytes:
    """The request body for the receiver's format."""
    kind = WebhookType(webhook_type)
    if kind is WebhookType.STANDARD:
        return orjson.dumps(payload)
    text = _summary(payload)
    if kind is WebhookType.SLACK:
        return orjson.dumps({"text": text})
    if kind is WebhookType.DISCORD:
        return orjson.dumps({"content": text[:2000]})  # Discord refuses longer messages
    flat = {name: "" if value is None else str(value) for name, value in payload.items() if name != "results"}
    flat["summary"] = text
    return orjson.dumps(flat)


def _summary(payload: Mapping[str, Any]) -> str:
    url = payload.get("url")
    if payload.get("status") != JobStatus.COMPLETED.value:
        return f"meterlocal: job {payload.get('job_id')} on {url} failed: {payload.get('error')}"
    state = "changed" if payload.get("has_changes") else "unchanged"
    lines = [f"meterlocal: {url} {state}, {payload.get('item_count')} item(s)"]
    for item in (payload.get("results") or [])[:_SLACK_LIST_LIMIT]:
        values = [str(value) for value in (item.values() if isinstance(item, Mapping) else [item]) if value]
        lines.append("• " + " | ".join(values)[:200])
    return "\n".join(lines)
