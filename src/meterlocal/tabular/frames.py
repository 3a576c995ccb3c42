"""`to_dataframe`: jobs' results as a pandas DataFrame (pandas is the optional extra `meterlocal[pandas]`)."""

from __future__ import annotations

import importlib
from typing import Any

from meterlocal.errors import MissingDependencyError
from meterlocal.tabular.rows import JobsArgument, job_rows

__all__ = ["require", "to_dataframe"]


def require(module: str, feature: str, extra: str) -> Any:
    """Import an optional `module`, or raise `MissingDependencyError` saying which extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(feature, module, extra) from exc


def to_dataframe(jobs: JobsArgument) -> Any:
    """A `pandas.DataFrame` of the results: one row per item, nested records flattened into `a.b` columns as
    `pandas.json_normalize` does (lists stay lists). Several jobs: every completed one's items, with `job_id` and
    `job_url` columns first. Raise `MissingDependencyError` without pandas, `JobStateError` for one unfinished job."""
    pandas = require("pandas", "to_dataframe()", "pandas")
    rows = list(job_rows(jobs))
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return pandas.DataFrame.from_records(rows, columns=list(columns))
