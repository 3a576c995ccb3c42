"""Webhook delivery: latency from a job finishing to its webhook arriving, and attempts against a failing receiver.

A page and a webhook receiver are served from 127.0.0.1. A manager with its schedule loop and outbox running
(`schedule_poll_seconds=0.05`) fires a 1-second schedule on the real clock; latency is from the job's
`completed_at` to the receiver's arrival time. Then the receiver answers 500 for its first two requests of each
delivery and 200 after, with `webhook_backoff_base=0.2`: each delivery takes three attempts, all recorded.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks.options import Options, progress
from benchmarks.report import SuiteResult, fmt, table
from meterlocal import JobManager, Settings

__all__ = ["run"]

PAGE = "<ul>" + "".join(f"<li><b>Item {i}</b><i>{i}.00</i></li>" for i in range(50)) + "</ul>"
STRATEGY = {"container": "li", "fields": {"title": "b", "price": "i"}}


async def _measure(directory: Path, runs: int, *, failures_per_delivery: int) -> dict[str, Any]:
    arrivals: dict[str, datetime] = {}
    tries: dict[str, int] = {}

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def hook(request: web.Request) -> web.Response:
        payload = await request.json()
        job_id = payload["job_id"]
        tries[job_id] = tries.get(job_id, 0) + 1
        if tries[job_id] <= failures_per_delivery:
            return web.Response(status=500)
        arrivals.setdefault(job_id, datetime.now(UTC))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    settings = Settings(schedule_poll_seconds=0.05, webhook_backoff_base=0.2, block_private_addresses=False)
    try:
        async with JobManager(directory / f"hooks{failures_per_delivery}.db", settings) as jm:
            strategy = await jm.create_strategy("Hooks", STRATEGY)
            schedule = await jm.create_schedule(
                strategy.strategy_id, url=f"{base}/page", interval_seconds=1, webhook_url=f"{base}/hook"
            )
            async with asyncio.timeout(runs * 5 + 30):
                while len(arrivals) < runs:
                    await asyncio.sleep(0.05)
            await jm.update_schedule(schedule.schedule_id, enabled=False)
            deliveries = await jm.list_webhook_deliveries(schedule_id=schedule.schedule_id, limit=1000)
            jobs = {job.job_id: job for job in await jm.list_jobs(schedule_id=schedule.schedule_id, limit=1000)}
    finally:
        await runner.cleanup()
    delivered = [d for d in deliveries if d.status == "delivered" and d.job_id in arrivals]
    latencies = sorted(
        (arrivals[d.job_id] - jobs[d.job_id].completed_at).total_seconds() * 1000  # type: ignore[operator]
        for d in delivered
    )
    return {
        "deliveries": len(delivered),
        "attempts_mean": statistics.mean(d.attempt_count for d in delivered),
        "attempts_recorded": sum(len(d.attempts) for d in delivered),
        "latency_ms_median": statistics.median(latencies),
        "latency_ms_p95": latencies[max(0, round(0.95 * len(latencies)) - 1)],
    }


def run(options: Options) -> SuiteResult:
    runs = 3 if options.quick else 10
    with tempfile.TemporaryDirectory(prefix="meterlocal-hooks-") as tmp:
        progress(options, f"webhooks: {runs} runs of a 1-second schedule, receiver answering 200")
        healthy = asyncio.run(_measure(Path(tmp), runs, failures_per_delivery=0))
        progress(options, f"webhooks: {runs} runs, receiver failing twice per delivery")
        flaky = asyncio.run(_measure(Path(tmp), runs, failures_per_delivery=2))
    rows = [
        [
            name,
            data["deliveries"],
            fmt(data["attempts_mean"], 1),
            data["attempts_recorded"],
            fmt(data["latency_ms_median"], 1),
            fmt(data["latency_ms_p95"], 1),
        ]
        for name, data in (("receiver answers 200", healthy), ("500, 500, then 200", flaky))
    ]
    markdown = (
        table(["receiver", "delivered", "attempts each", "attempts recorded", "latency median ms", "p95 ms"], rows)
        + "\n\n- Latency: the job's `completed_at` to the webhook's arrival (the outbox is woken when a job "
        "finishes). Retries wait `webhook_backoff_base=0.2` s, doubling with jitter.\n"
    )
    return SuiteResult(
        name="webhooks",
        title="Webhook delivery",
        markdown=markdown,
        data={"healthy": healthy, "flaky": flaky},
        passed={"median latency < 1 s": healthy["latency_ms_median"] < 1000},
    )
