"""Results as tables and files: `to_dataframe` (pandas) and `export` (JSON, JSON Lines, CSV, Parquet).

rows (flatten)  jobs -> one record per item, nested records flattened to "a.b" columns as json_normalize does
frames          to_dataframe(job_or_jobs): a pandas DataFrame (pip install 'meterlocal[pandas]')
files           export(job_or_jobs, path, format=None): the format from the file name; writes as it reads,
                so an iterator over a long history never sits in memory at once
"""

from __future__ import annotations

from meterlocal.tabular.files import FORMATS, ExportWriter, export, infer_format
from meterlocal.tabular.frames import to_dataframe
from meterlocal.tabular.rows import flatten, job_rows

__all__ = ["FORMATS", "ExportWriter", "export", "flatten", "infer_format", "job_rows", "to_dataframe"]
