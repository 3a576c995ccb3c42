"""Telling people about finished runs: webhook payloads and signatures, the persistent outbox that delivers
them, and in-process listeners (`on_job_finished`, `watch`)."""

from meterlocal.notify.payloads import (
    SECRET_HEADER,
    SIGNATURE_HEADER,
    WebhookType,
    detect_webhook_type,
    sign,
    verify_signature,
)

__all__ = ["SECRET_HEADER", "SIGNATURE_HEADER", "WebhookType", "detect_webhook_type", "sign", "verify_signature"]
