"""Periodic: rounds on an interval in their own task, failures logged, stopped on demand."""

from __future__ import annotations

import asyncio
import logging

import pytest

from meterlocal.errors import UnavailableError
from meterlocal.periodic import Periodic


async def test_rounds_repeat_until_stopped() -> None:
    rounds = 0
    third = asyncio.Event()

    async def tick() -> None:
        nonlocal rounds
        rounds += 1
        if rounds == 3:
            third.set()

    periodic = Periodic(tick, interval=0.001, name="test")
    periodic.start()
    periodic.start()  # starting twice runs one series of rounds, not two
    await asyncio.wait_for(third.wait(), 5)
    await periodic.stop()
    after = rounds
    await asyncio.sleep(0.01)  # ten intervals: a round that still ran would show here
    assert rounds == after >= 3


async def test_a_failing_round_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    errors = [UnavailableError("The store is locked"), RuntimeError("a bug")]
    recovered = asyncio.Event()

    async def tick() -> None:
        if errors:
            raise errors.pop(0)
        recovered.set()

    periodic = Periodic(tick, interval=0.001, name="heartbeat")
    with caplog.at_level(logging.WARNING, logger="meterlocal.periodic"):
        periodic.start()
        await asyncio.wait_for(recovered.wait(), 5)
        await periodic.stop()
    assert [(r.levelname, r.message) for r in caplog.records] == [
        ("WARNING", "heartbeat failed"),
        ("ERROR", "heartbeat failed unexpectedly"),
    ]


async def test_stop_cancels_a_round_in_progress_and_start_begins_again() -> None:
    entered = asyncio.Event()
    cancelled = asyncio.Event()
    rounds = 0

    async def tick() -> None:
        nonlocal rounds
        rounds += 1
        entered.set()
        try:
            await asyncio.Event().wait()  # a round that never ends by itself
        except asyncio.CancelledError:
            cancelled.set()
            raise

    periodic = Periodic(tick, interval=0.001, name="test")
    await periodic.stop()  # stopping what never started does nothing
    periodic.start()
    await asyncio.wait_for(entered.wait(), 5)
    await periodic.stop()
    assert cancelled.is_set() and rounds == 1
    entered.clear()
    periodic.start()
    await asyncio.wait_for(entered.wait(), 5)
    await periodic.stop()
    assert rounds == 2


async def test_an_immediate_series_runs_at_start_and_wake_runs_a_round_now() -> None:
    ran = asyncio.Event()
    rounds = 0

    async def tick() -> None:
        nonlocal rounds
        rounds += 1
        ran.set()

    periodic = Periodic(tick, interval=3600, name="test", immediate=True)  # an hour: only start and wake run it
    periodic.start()
    await asyncio.wait_for(ran.wait(), 5)
    assert rounds == 1
    ran.clear()
    periodic.wake()
    await asyncio.wait_for(ran.wait(), 5)
    await periodic.stop()
    assert rounds == 2
