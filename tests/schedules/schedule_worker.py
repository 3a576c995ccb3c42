"""A manager in a process of its own, for test_processes: `python schedule_worker.py DB CLOCK_FILE`.

It runs a `JobManager` with its schedule loop and webhook outbox on, reading the time from CLOCK_FILE (an
ISO-8601 time the test rewrites), prints `ready` once open, and runs until SIGTERM (or SIGKILL).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from pathlib import Path

from meterlocal import JobManager, Settings


class FileClock:
    """The time written in a file: a clock several processes share and a test moves."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


async def main(db: str, clock_file: str) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    settings = Settings(schedule_poll_seconds=0.01, webhook_timeout=60, shutdown_timeout=1)
    async with JobManager(db, settings, clock=FileClock(Path(clock_file))):
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
