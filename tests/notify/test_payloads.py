"""Webhook payloads (Meter's, Slack's, Discord's), type detection and the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson

from meterlocal.models import Job, JobStatus
from meterlocal.notify.payloads import job_payload, render_body
from meterlocal.webhooks import WebhookType, detect_webhook_type, new_webhook_secret, sign, verify_signature

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def job(status: JobStatus, **extra: object) -> Job:
    return Job(
        job_id="j1",
        strategy_id="s1",
        schedule_id="sc1",
        url="https://example.com/",
        status=status,
        created_at=NOW,
        completed_at=NOW,
        **extra,
    )


def test_success_payload_has_meters_keys() -> None:
    payload = job_payload(
        job(JobStatus.COMPLETED, results=[{"a": "1"}], item_count=1, content_hash="h"),
        has_changes=True,
        metadata={"project": "p"},
    )
    assert payload == {
        "job_id": "j1",
        "schedule_id": "sc1",
        "status": "completed",
        "url": "https://example.com/",
        "results": [{"a": "1"}],
        "item_count": 1,
        "has_changes": True,
        "content_hash": "h",
        "completed_at": "2026-01-15T10:30:00.000000Z",
        "metadata": {"project": "p"},
    }


def test_failure_payload_has_the_error_and_no_results() -> None:
    payload = job_payload(job(JobStatus.FAILED, error="Page not accessible: 404"), has_changes=False, metadata=None)
    assert payload["error"] == "Page not accessible: 404"
    assert "results" not in payload
    assert payload["status"] == "failed"


def test_type_is_detected_from_the_url() -> None:
    assert detect_webhook_type("https://hooks.slack.com/services/T/B/X") is WebhookType.SLACK
    assert detect_webhook_type("https://hooks.slack.com/triggers/T/1/x") is WebhookType.SLACK_WORKFLOW
    assert detect_webhook_type("https://discord.com/api/webhooks/1/abc") is WebhookType.DISCORD
    assert detect_webhook_type("https://example.com/hooks.slack.com") is WebhookType.STANDARD


def test_slack_and_discord_get_a_message() -> None:
    payload = job_payload(
        job(JobStatus.COMPLETED, results=[{"t": "Hello"}], item_count=1), has_changes=True, metadata=None
    )
    slack = orjson.loads(render_body(payload, "slack"))
    discord = orjson.loads(render_body(payload, WebhookType.DISCORD))
    assert "changed" in slack["text"] and "Hello" in slack["text"]
    assert discord["content"] == slack["text"]


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    secret = new_webhook_secret()
    body = b'{"job_id":"j1"}'
    header = sign(secret, body, 1_700_000_000)
    expected = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert verify_signature(secret, body, header, now=1_700_000_010)
    assert not verify_signature(secret, body + b" ", header, now=1_700_000_010)
    assert not verify_signature("whsec_other", body, header, now=1_700_000_010)
    assert not verify_signature(secret, body, header, now=1_700_001_000)  # stale


def test_secrets_are_fresh_and_prefixed() -> None:
    a, b = new_webhook_secret(), new_webhook_secret()
    assert a != b and a.startswith("whsec_") and len(a) == 70
