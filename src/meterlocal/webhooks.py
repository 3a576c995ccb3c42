"""Webhook facts shared by schedules (checking a schedule's webhook) and notify (sending it). Pure.

Formats: `standard` (Meter's JSON payload), `slack` (an incoming-webhook message), `slack_workflow` (a Slack
workflow trigger's flat variables) and `discord`; a URL on `hooks.slack.com` or `discord.com/api/webhooks` picks
its format when `webhook_type` is not given, as Meter does. Secrets look like Meter's (`whsec_` + 64 hex digits).

Every delivery carries `X-Webhook-Secret` (Meter's header) and, beyond Meter, `X-Meterlocal-Signature:
t=<unix seconds>,v1=<hex>` where `v1` is HMAC-SHA256, keyed by the webhook secret, of `"<t>." + body`. A receiver
recomputes it over the raw body and refuses stale timestamps (`verify_signature`; README, "Monitoring").
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

__all__ = [
    "SECRET_HEADER",
    "SIGNATURE_HEADER",
    "WebhookType",
    "detect_webhook_type",
    "new_webhook_secret",
    "sign",
    "verify_signature",
]

SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret
SIGNATURE_HEADER = "X-Meterlocal-Signature"


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
