"""A JobManager in its own process, for test_crash and test_concurrency (run as a script, not collected by pytest).

    python worker.py MODE CONFIG_JSON

CONFIG_JSON holds `db`, `base` (the site's URL), `out` (where the report goes, written atomically), and per mode:

- `run`: create a batch of `count` pages (`base/<prefix>/<i>`) and run it until it finishes, or until the parent
  kills this process (SIGKILL); the report (strategy and batch ids) is written as soon as the batch is stored;
  with `exit_at_once`, exit right then with `os._exit`, like a crash before any job ran;
- `batches`: wait for the file `go`, then create `batches` batches of `count` pages each, reading (list_jobs,
  get_batch_progress) while they run, and report every exception raised;
- `adopt`: wait for the file `go`, open a manager (which adopts dead managers' jobs) and run until the store holds
  no unfinished job; report every exception raised.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from meterlocal import JobManager, Settings


def write_report(path: str, report: dict[str, Any]) -> None:
    temp = f"{path}.tmp"
    Path(temp).write_text(json.dumps(report), encoding="utf-8")
    os.replace(temp, path)


async def wait_for_file(path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):  # noqa: ASYNC240 - a stat every 5 ms, before any work starts
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        await asyncio.sleep(0.005)


def urls(config: dict[str, Any], count: int, prefix: str) -> list[str]:
    return [f"{config['base']}/{prefix}/{i}" for i in range(count)]


async def run(config: dict[str, Any]) -> None:
    async with JobManager(config["db"], Settings(**config["settings"])) as jm:
        strategy = await jm.create_strategy("pages", config["strategy"])
        batch = await jm.create_job(strategy.strategy_id, urls=urls(config, config["count"], config["prefix"]))
        report = {"pid": os.getpid(), "strategy_id": strategy.strategy_id, "batch_id": batch.batch_id}
        write_report(config["out"], report)
        if config.get("exit_at_once"):
            os._exit(0)  # no close(): the owner stays registered with a dead pid, every job pending
        while True:  # until every job has finished, or until the parent kills this process
            progress = await jm.get_batch_progress(batch.batch_id)
            if progress.pending == 0 and progress.running == 0:
                break
            await asyncio.sleep(0.02)


async def batches(config: dict[str, Any]) -> None:
    errors: list[str] = []
    reads = 0
    batch_ids: list[str] = []
    await wait_for_file(config["go"])
    started = time.monotonic()
    async with JobManager(config["db"], Settings(**config["settings"])) as jm:
        strategy = await jm.create_strategy(f"pages-{config['name']}", config["strategy"])
        pages = urls(config, config["count"] * config["batches"], config["prefix"])
        for b in range(config["batches"]):
            try:
                chunk = pages[b * config["count"] : (b + 1) * config["count"]]
                batch = await jm.create_job(strategy.strategy_id, urls=chunk)
                batch_ids.append(batch.batch_id)
            except Exception:
                errors.append(traceback.format_exc())
        unfinished = set(batch_ids)
        deadline = time.monotonic() + 120
        while unfinished and time.monotonic() < deadline:
            for batch_id in list(unfinished):
                try:
                    progress = await jm.get_batch_progress(batch_id)
                    await jm.list_jobs(strategy_id=strategy.strategy_id, limit=50)
                    await jm.list_jobs(status="completed", limit=20)
                    reads += 3
                    if progress.pending == 0 and progress.running == 0:
                        unfinished.discard(batch_id)
                except Exception:
                    errors.append(traceback.format_exc())
            await asyncio.sleep(0.01)
        if unfinished:
            errors.append(f"batches not finished within 120 s: {sorted(unfinished)}")
    write_report(
        config["out"],
        {
            "pid": os.getpid(),
            "batch_ids": batch_ids,
            "errors": errors,
            "reads": reads,
            "seconds": time.monotonic() - started,
        },
    )


async def adopt(config: dict[str, Any]) -> None:
    errors: list[str] = []
    await wait_for_file(config["go"])
    started = time.monotonic()
    try:
        async with JobManager(config["db"], Settings(**config["settings"])) as jm:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                pending = await jm.list_jobs(status="pending", limit=1)
                running = await jm.list_jobs(status="running", limit=1)
                if not pending and not running:
                    break
                await asyncio.sleep(0.02)
            else:
                errors.append("jobs still unfinished after 120 s")
    except Exception:
        errors.append(traceback.format_exc())
    write_report(config["out"], {"pid": os.getpid(), "errors": errors, "seconds": time.monotonic() - started})


def main() -> None:
    mode, raw = sys.argv[1], sys.argv[2]
    config = json.loads(raw)
    handler = {"run": run, "batches": batches, "adopt": adopt}[mode]
    asyncio.run(handler(config))


if __name__ == "__main__":
    main()
