"""What the benchmarks ran on, for the header line of every results file."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from typing import Any

from lxml import etree

__all__ = ["describe", "machine"]

_PACKAGES = ("parsel", "selectolax", "beautifulsoup4", "scrapy", "aiohttp")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


@cache
def machine() -> dict[str, Any]:
    """The CPU, cores, OS, Python, lxml/libxml2 and peer versions, the date, and the load when the run began."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": _cpu_model(),
        "cores": cores,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "lxml": ".".join(map(str, etree.LXML_VERSION[:3])),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "packages": {name: _version(name) for name in _PACKAGES},
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def describe(info: dict[str, Any] | None = None) -> str:
    """One Markdown line naming the machine and versions."""
    m = info or machine()
    peers = ", ".join(f"{name} {version}" for name, version in m["packages"].items())
    load = f"; load average {m['load'][0]:.2f} at start" if m.get("load") else ""
    return (
        f"_Measured {m['date']} on {m['cpu']} ({m['cores']} cores), {m['os']}, Python {m['python']}, "
        f"lxml {m['lxml']} (libxml2 {m['libxml2']}); {peers}{load}._"
    )
