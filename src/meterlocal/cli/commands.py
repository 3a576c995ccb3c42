"""Every command, registered on the `meterlocal` group (importing this module imports click, rich and yaml)."""

from __future__ import annotations

from meterlocal.cli import demo, generate, jobs, schedules, serve, strategies, workflows
from meterlocal.cli.root import cli

__all__ = ["cli", "demo", "generate", "jobs", "schedules", "serve", "strategies", "workflows"]
