"""Markdown tables and results files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.machine import describe, machine

__all__ = ["SuiteResult", "fmt", "table", "write_result"]


@dataclass
class SuiteResult:
    """What a suite produced: its Markdown (tables and notes) and the figures behind it."""

    name: str
    title: str
    markdown: str
    data: dict[str, Any] = field(default_factory=dict)
    passed: dict[str, bool] = field(default_factory=dict)  # target -> met


def fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A Markdown table; `align` holds one 'l' or 'r' per column (default: first left, the rest right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(result: SuiteResult, out: Path) -> Path:
    """Write `<out>/<suite>.md` (header line naming the machine, then the tables) and `<out>/<suite>.json`."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result.name}.md"
    text = f"## {result.title}\n\n{describe()}\n\n{result.markdown.strip()}\n"
    path.write_text(text, encoding="utf-8")
    payload = {"suite": result.name, "machine": machine(), "targets": result.passed, **result.data}
    (out / f"{result.name}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
    return path
