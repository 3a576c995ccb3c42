"""What a webhook receives: Meter's payloads, Slack and Discord messages, and the signature headers. Pure.

Standard payloads are Meter's: on success `job_id, schedule_id, status, url, results, item_count, has_changes,
content_hash, completed_at, metadata`; on failure `job_id, schedule_id, status, url, error, completed_at,
metadata`. Slack (`hooks.slack.com`) and Discord (`discord.com/api/webhooks`) URLs get a short message in their
own format instead, chosen from the URL when `webhook_type` is not given, as Meter does.

Every delivery carries `X-Webhook-Secret` (Meter's header) and, beyond Meter, `X-Meterlocal-Signature:
t=<unix seconds>,v1=<hex>` where `v1` is HMAC-SHA256, keyed by the webhook secret, of `"<t>." + body`. A receiver
recomputes it over the raw body and refuses stale timestamps (see README, "Monitoring").
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from meterlocal.models import Job, JobStatus, format_timestamp

__all__ = [
    "SECRET_HEADER",
    "SIGNATURE_HEADER",
    "WebhookType",
    "detect_webhook_type",
    "job_payload",
    "new_webhook_secret",
    "render_body",
    "sign",
    "verify_signature",
]

SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret
SIGNATURE_HEADER = "X-Meterlocal-Signature"
_SLACK_LIST_LIMIT = 5


class WebhookType(enum.StrEnum):
    """The format a webhook receives."""

    STANDARD = "standard"  # Meter's JSON payload
    SLACK = "slack"  # a Slack incoming-webhook message ({"text": ...})
    SLACK_WORKFLOW = "slack_workflow"  # a Slack workflow trigger: flat string variables
    DISCORD = "discord"  # a Discord webhook message ({"content": ...})


def detect_webhook_type(url: str) -> WebhookType:
    """Slack or Discord by the URL's host, else standard."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "hooks.slack.com":
        return WebhookType.SLACK_WORKFLOW if parts.path.startswith("/triggers/") else WebhookType.SLACK
    if host in ("discord.com", "discordapp.com") and parts.path.startswith("/api/webhooks/"):
        return WebhookType.DISCORD
    return WebhookType.STANDARD


def new_webhook_secret() -> str:
    """A fresh secret in Meter's form: `whsec_` and 32 random bytes as hex."""
    return "whsec_" + secrets.token_hex(32)


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


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-Meterlocal-Signature` value: `t=<timestamp>,v1=<HMAC-SHA256 of "<t>." + body, hex>`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, *, now: int, tolerance: int = 300) -> bool:
    """Whether `header` signs `body` with `secret` within `tolerance` seconds of `now` (for receivers and tests)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))
