"""Per-host delays: a fixed minimum between two requests, and an adaptive delay modelled on Scrapy's AutoThrottle.

The adaptive delay aims at `target_concurrency` requests in flight at a host on average: a host that takes
`latency` seconds to answer gets a request every `latency / target_concurrency` seconds. Each answer moves the
delay halfway from where it is towards that target, so one slow answer does not swing it. Unlike a plain
average, a 429 or 503 doubles the delay (the host asked us to slow down), and an error answer never lowers it
(errors tend to come back fast). The delay stays between the fixed minimum (and robots.txt's Crawl-delay) and
`max_delay`.

Time comes from `clock` (default: the monotonic clock) and waiting from `sleep`, so a test gives a `ManualClock`
and a `sleep` that advances it, and checks the delays without waiting for them. The two go together: a clock
that does not move while `sleep` really waits would make every wait longer than the last.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from meterlocal.models import Clock

__all__ = ["HostThrottle", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]

_BACK_OFF_STATUSES = frozenset({429, 503})


@dataclass(slots=True)
class _Host:
    delay: float
    next_start: float = 0.0
    lock: asyncio.Lock | None = None


class HostThrottle:
    """When each host may be sent its next request."""

    def __init__(
        self,
        *,
        min_delay: float,
        adaptive: bool,
        target_concurrency: float = 1.0,
        max_delay: float = 60.0,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._min_delay = min_delay
        self._adaptive = adaptive
        self._target = target_concurrency
        self._max_delay = max(max_delay, min_delay)
        self._now: Callable[[], float] = time.monotonic if clock is None else (lambda: clock().timestamp())
        self._sleep = sleep
        self._hosts: dict[str, _Host] = {}

    @property
    def active(self) -> bool:
        """Whether any delay can apply (a fixed minimum or the adaptive delay)."""
        return self._adaptive or self._min_delay > 0

    def delay(self, host: str) -> float:
        """The host's current delay in seconds."""
        state = self._hosts.get(host)
        return self._min_delay if state is None else state.delay

    def _state(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host(delay=self._min_delay, lock=asyncio.Lock())
        return state

    async def wait_turn(self, host: str, *, floor: float = 0.0) -> None:
        """Wait until `host` may be sent a request, and book the slot. `floor` raises the delay (Crawl-delay)."""
        state = self._state(host)
        assert state.lock is not None
        async with state.lock:  # requests to one host take their turns in order
            state.delay = max(state.delay, floor)
            now = self._now()
            if state.next_start > now:
                await self._sleep(state.next_start - now)
                now = max(now, self._now(), state.next_start)
            state.next_start = now + state.delay

    def record(self, host: str, *, latency: float, status: int | None) -> None:
        """Adapt the host's delay to an answer that took `latency` s (`status` None: no HTTP answer)."""
        if not self._adaptive:
            return
        state = self._state(host)
        if status in _BACK_OFF_STATUSES:
            wanted = max(state.delay * 2, latency, self._min_delay, 0.5)
        else:
            wanted = (state.delay + latency / self._target) / 2
            if status is None or status >= 400:
                wanted = max(wanted, state.delay)
        state.delay = min(max(wanted, self._min_delay), self._max_delay)
