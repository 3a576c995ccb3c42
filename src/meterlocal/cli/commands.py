"""Every command, registered on the `meterlocal` group (importing this module imports click, rich and yaml)."""

from __future__ import annotations

from meterlocal.cli import crawl, demo, generate, jobs, schedules, serve, store, strategies, worker, workflows
from meterlocal.cli.root import cli

__all__ = [
    "cli",
    "crawl",
    "demo",
    "generate",
    "jobs",
    "schedules",
    "serve",
    "store",
    "strategies",
    "worker",
    "workflows",
]
