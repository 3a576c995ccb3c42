"""The webhook outbox: deliveries persisted in the store, sent by whichever open manager claims them.

A finished scheduled job whose schedule has a webhook gets a delivery row in the same transaction that finishes
it, so a manager killed between the two cannot lose it. Every open manager runs a `WebhookOutbox` that claims
due deliveries (a lease of `webhook_timeout` plus a margin, so a manager killed mid-delivery leaves it to the
next one), posts them concurrently (`webhook_concurrency`) and records each attempt. A receiver that is slow,
down or answers non-2xx never delays a job: failed attempts retry with exponential backoff
(`webhook_backoff_base` doubling up to `webhook_backoff_max`) until `webhook_max_attempts`, then the delivery is
`failed`. Delivery is at least once: a receiver de-duplicates by the payload's `job_id` (or the
`X-Meterlocal-Delivery` header). Redirects are not followed (a 3xx is a failed attempt), and the SSRF guard
applies whenever the manager has `block_private_addresses` on.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.resolver import DefaultResolver

from meterlocal.fetch.guard import GuardedResolver, PrivateAddressError, is_ip_literal, is_public_address
from meterlocal.models import Clock, WebhookAttempt, WebhookDelivery, WebhookTestResult
from meterlocal.notify.payloads import job_payload, render_body
from meterlocal.periodic import Periodic
from meterlocal.settings import Settings
from meterlocal.store import Store
from meterlocal.webhooks import SECRET_HEADER, SIGNATURE_HEADER, WebhookType, detect_webhook_type, sign

__all__ = ["Poster", "WebhookOutbox", "send_test_webhook"]

logger = logging.getLogger(__name__)

_LEASE_MARGIN = 30.0  # seconds beyond webhook_timeout before another manager may retry a claimed delivery
_ERROR_TEXT_LIMIT = 500


class Poster:
    """Posts webhook bodies with aiohttp, behind the SSRF guard when the settings ask for it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            resolver: Any = DefaultResolver()
            if self._settings.block_private_addresses:
                resolver = GuardedResolver(resolver, allowed_hosts=self._settings.allowed_private_hosts)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(resolver=resolver, limit=self._settings.webhook_concurrency),
                timeout=aiohttp.ClientTimeout(total=self._settings.webhook_timeout),
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """POST `body`; return the status (None when no answer came) and an error sentence (None on 2xx)."""
        refused = self._refuse(url)
        if refused is not None:
            return None, refused
        try:
            async with self._client().post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return response.status, f"The receiver answered {response.status} {response.reason or ''}".strip()
        except PrivateAddressError as exc:
            return None, f"Webhook URL {url} refused: {exc}, a private address (block_private_addresses is on)"
        except TimeoutError:
            return None, f"The receiver did not answer within {self._settings.webhook_timeout:g} s (webhook_timeout)"
        except aiohttp.ClientError as exc:
            return None, f"Could not reach the receiver: {type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT]

    def _refuse(self, url: str) -> str | None:
        # aiohttp does not resolve IP-literal hosts, so the guard's resolver never sees them: check here.
        host = (urlsplit(url).hostname or "").lower()
        if (
            self._settings.block_private_addresses
            and is_ip_literal(host)
            and not is_public_address(host)
            and host not in self._settings.allowed_private_hosts
        ):
            return f"Webhook URL {url} refused: {host} is a private address (block_private_addresses is on)"
        return None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _headers(delivery_id: str, body: bytes, secret: str | None, now: datetime, settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.user_agent,
        "X-Meterlocal-Delivery": delivery_id,
    }
    if secret:
        headers[SECRET_HEADER] = secret
        headers[SIGNATURE_HEADER] = sign(secret, body, int(now.timestamp()))
    return headers


class WebhookOutbox:
    """Claims and delivers the store's due webhooks; one per open manager. Without `background`, `start()`
    starts no passes: deliveries go out only when `run_once()` is called."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        owner_id: str,
        clock: Clock,
        poster: Poster | None = None,
        background: bool = True,
    ) -> None:
        self._store = store
        self._background = background
        self._settings = settings
        self._owner_id = owner_id
        self._clock = clock
        self._poster = poster or Poster(settings)
        self._rounds = Periodic(
            self._claim_round, interval=settings.schedule_poll_seconds, name="webhooks", immediate=True
        )
        self._inflight: set[asyncio.Task[None]] = set()
        self._rng = random.Random()

    async def start(self) -> None:
        """Start looking for due deliveries in a task of the running loop."""
        if self._background:
            self._rounds.start()

    def wake(self) -> None:
        """Look for due deliveries now (a job just finished)."""
        self._rounds.wake()

    async def stop(self, timeout: float) -> None:
        """Stop claiming; give in-flight deliveries up to `timeout` seconds, then abandon them (their lease
        expires and another manager retries them)."""
        await self._rounds.stop()
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._poster.aclose()

    async def run_once(self) -> int:
        """Claim the due deliveries and send them; return how many were sent (waits for them)."""
        tasks = await self._claim_and_start()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        return len(tasks)

    async def _claim_round(self) -> None:
        await self._claim_and_start()

    async def _claim_and_start(self) -> list[asyncio.Task[None]]:
        room = self._settings.webhook_concurrency - len(self._inflight)
        if room <= 0:
            return []
        now = self._clock()
        lease = timedelta(seconds=self._settings.webhook_timeout + _LEASE_MARGIN)
        claimed = await self._store.claim_deliveries(
            now=now, owner_id=self._owner_id, lease_until=now + lease, limit=room
        )
        tasks = []
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(self._deliver(delivery), name="meterlocal-webhook")
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            tasks.append(task)
        return tasks

    async def _deliver(self, delivery: WebhookDelivery) -> None:
        context = await self._store.delivery_context(delivery.delivery_id)
        started = time.perf_counter()
        now = self._clock()
        attempt_number = delivery.attempt_count + 1
        status: int | None
        error: str | None
        if context is None:
            status, error = None, f"Job {delivery.job_id} is no longer in the store"
        else:
            job, has_changes, metadata, secret = context
            body = render_body(job_payload(job, has_changes=has_changes, metadata=metadata), delivery.webhook_type)
            headers = _headers(delivery.delivery_id, body, secret, now, self._settings)
            status, error = await self._poster.post(delivery.webhook_url, body, headers)
        attempt = WebhookAttempt(
            attempt=attempt_number,
            attempted_at=now,
            status_code=status,
            error=error,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        delivered = error is None
        next_at = None
        if not delivered and attempt_number < self._settings.webhook_max_attempts:
            next_at = self._clock() + timedelta(seconds=self._backoff(attempt_number))
        if not delivered:
            logger.info(
                "webhook %s (job %s) attempt %d failed: %s",
                delivery.delivery_id,
                delivery.job_id,
                attempt_number,
                error,
            )
        await self._store.record_delivery_attempt(
            delivery.delivery_id, attempt, owner_id=self._owner_id, delivered=delivered, next_attempt_at=next_at
        )

    def _backoff(self, attempt: int) -> float:
        base: float = self._settings.webhook_backoff_base * 2.0 ** (attempt - 1)
        return min(base, self._settings.webhook_backoff_max) * self._rng.uniform(0.9, 1.1)


async def send_test_webhook(
    url: str,
    settings: Settings,
    *,
    secret: str | None = None,
    webhook_type: str | None = None,
    metadata: dict[str, Any] | None = None,
    now: datetime,
) -> WebhookTestResult:
    """Send one test payload to `url` now (no outbox, no retry), as Meter's `/api/webhooks/test` does."""
    kind = WebhookType(webhook_type) if webhook_type else detect_webhook_type(url)
    payload: dict[str, Any] = {
        "test": True,
        "job_id": None,
        "schedule_id": None,
        "status": "completed",
        "url": None,
        "results": [],
        "item_count": 0,
        "has_changes": False,
        "content_hash": None,
        "completed_at": None,
        "metadata": metadata,
    }
    body = render_body(payload, kind)
    poster = Poster(settings)
    try:
        status, error = await poster.post(url, body, _headers("test", body, secret, now, settings))
    finally:
        await poster.aclose()
    if error is None:
        return WebhookTestResult(success=True, status_code=status or 0, message="Webhook delivered successfully")
    return WebhookTestResult(success=False, status_code=status or 0, message=error)
