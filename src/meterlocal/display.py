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

__all__ = ["clip", "html_list", "html_pairs", "html_rows", "seconds_between", "short_id", "when"]

SHORT_ID = 8
CELL_WIDTH = 80
HTML_ROWS = 10


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
