"""Text and HTML fragments the records use to show themselves in a terminal or a notebook.

Plain values in, strings out: no record types here, so `models` can use these without an import cycle. The HTML
is static (no JavaScript, no colours of its own), so it reads the same in light and dark notebook themes; every
value is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "clip",
    "html_bar",
    "html_list",
    "html_pairs",
    "html_rows",
    "html_timeline",
    "seconds_between",
    "short_id",
    "when",
]

SHORT_ID = 8
CELL_WIDTH = 80
HTML_ROWS = 10
BAR_WIDTH = 200
"""Pixels of a full bar. Bars are drawn in `currentColor` (the text's colour), so every theme shows them."""
TIMELINE_ROWS = 50


def short_id(value: str | None) -> str:
    """The first characters of an id, enough to tell ids apart by eye (as git's short hashes)."""
    return "-" if value is None else value[:SHORT_ID]


def clip(text: str, width: int = CELL_WIDTH) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= width else one_line[: width - 1] + "…"


def when(value: datetime | None) -> str | None:
    """A UTC time to the second, as a person reads it (the JSON keeps microseconds)."""
    return None if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return html.escape(clip(text))


def html_pairs(pairs: Iterable[tuple[str, Any]]) -> str:
    """A two-column table of labels and values; pairs whose value is None are left out."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(label)}</th><td style='text-align:left'>{_cell(value)}</td></tr>"
        for label, value in pairs
        if value is not None
    )
    return f"<table>{rows}</table>"


def html_rows(rows: Sequence[Mapping[str, Any]], limit: int = HTML_ROWS) -> str:
    """The first `limit` rows as a table (columns in first-seen order), and how many were left out."""
    shown = rows[:limit]
    columns: dict[str, None] = {}
    for row in shown:
        columns.update(dict.fromkeys(row))
    head = "".join(f"<th style='text-align:left'>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{_cell(row.get(c))}</td>" for c in columns) + "</tr>"
        for row in shown
    )
    more = f"<p>… {len(rows) - limit} more rows</p>" if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def html_list(items: Iterable[str]) -> str:
    entries = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f"<ul>{entries}</ul>" if entries else ""


def _block(width: float, *, faint: bool = False) -> str:
    opacity = ";opacity:0.35" if faint else ""
    return (
        f"<span style='display:inline-block;height:0.8em;width:{max(0, round(width))}px;"
        f"background:currentColor;vertical-align:middle{opacity}'></span>"
    )


def html_bar(done: int, total: int, *, failed: int = 0, width: int = BAR_WIDTH) -> str:
    """A bar of `done` out of `total` (its `failed` part faint), in a thin frame, and `done/total` after it."""
    scale = width / total if total else 0
    inner = _block((done - failed) * scale) + _block(failed * scale, faint=True)
    frame = (
        f"<span style='display:inline-block;width:{width}px;border:1px solid currentColor;line-height:0'>{inner}</span>"
    )
    return f"{frame} {done}/{total}"


def html_timeline(runs: Sequence[tuple[str | None, str, int | None, bool, str]], limit: int = TIMELINE_ROWS) -> str:
    """Runs (when, status, item count, changed, job id), newest first, as rows with a bar of their item count;
    a changed run is marked ● and in bold, a failed one ✗."""
    shown = runs[:limit]
    top = max((count or 0 for _, _, count, _, _ in shown), default=0)
    rows = []
    for at, status, count, changed, job_id in shown:
        mark = "●" if changed else "✗" if status == "failed" else ""
        bar = _block(count * BAR_WIDTH / top) if top and count else ""
        label = "" if count is None else f" {count}"
        weight = " style='font-weight:bold'" if changed else ""
        rows.append(
            f"<tr{weight}><td style='text-align:left'>{html.escape(at or '')}</td>"
            f"<td style='text-align:left'>{html.escape(short_id(job_id))}</td>"
            f"<td style='text-align:left'>{html.escape(status)}</td>"
            f"<td style='text-align:left'>{bar}{label}</td><td>{mark}</td></tr>"
        )
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("run", "job", "status", "items", "changed"))
    more = f"<p>… {len(runs) - limit} older runs</p>" if len(runs) > limit else ""
    changed_count = sum(1 for run in runs if run[3])
    caption = f"<p>{len(runs)} runs, {changed_count} changed (●)</p>"
    return f"{caption}<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
