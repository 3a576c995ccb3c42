"""Telling people about finished runs: webhook payloads, the persistent outbox that delivers them, and
in-process listeners (`on_job_finished`, `watch`)."""

from meterlocal.notify.listeners import Listeners
from meterlocal.notify.outbox import WebhookOutbox, send_test_webhook
from meterlocal.notify.payloads import job_payload, render_body

__all__ = ["Listeners", "WebhookOutbox", "job_payload", "render_body", "send_test_webhook"]
