"""`export`: write jobs' results to a file whose format comes from its name (json, jsonl, csv, parquet).

Rows are written as they are read, so a generator over a long history (or `JobManager.export`, which reads
the store one job at a time) never holds every result in memory. CSV and Parquet need every column before the
first row: their rows go to a temporary JSON Lines spool first (memory: the column names), then into the file.
The file appears only when complete (written beside it, then renamed): a failed export leaves no half file.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import orjson

from meterlocal.errors import ValidationError
from meterlocal.models import Job
from meterlocal.tabular.frames import require
from meterlocal.tabular.rows import JobsArgument, job_rows, jobs_of

__all__ = ["FORMATS", "ExportFormat", "ExportWriter", "export", "infer_format"]

ExportFormat = Literal["json", "jsonl", "csv", "parquet"]
FORMATS: dict[str, ExportFormat] = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
PARQUET_ROW_GROUP = 10_000
"""Rows per Parquet row group (and per table held in memory while writing one)."""


def infer_format(path: str | os.PathLike[str], format: str | None = None) -> ExportFormat:
    """`format` if given (checked), else the format the file name ends with; `ValidationError` otherwise."""
    known = sorted(set(FORMATS.values()))
    if format is not None:
        if format not in known:
            raise ValidationError(f"Unknown export format {format!r}; use one of {', '.join(known)}")
        return format
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        names = ", ".join(sorted(FORMATS))
        raise ValidationError(
            f"Cannot tell the export format of {str(path)!r} from its name: end it in {names}, or pass format="
        )
    return found


def _filled(row: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    return {c: row.get(c) for c in columns}


def _json(value: Any) -> bytes:
    # orjson: about ten times json's speed on result rows; str() for anything JSON has no type for.
    return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def _csv_cell(value: Any) -> Any:
    """Lists (and records left inside lists) become JSON text in their cell; scalars stay as they are."""
    return _json(value).decode() if isinstance(value, list | dict) else value


class ExportWriter:
    """Write rows into `path` job by job (`write(job)`), then `close()` (or use `with`). Nothing is at `path`
    until `close()` succeeds. `rows` counts the rows written."""

    def __init__(self, path: str | os.PathLike[str], format: str | None = None, *, several: bool = True) -> None:
        self.path = Path(path)
        self.format = infer_format(path, format)
        if self.format == "parquet":
            require("pyarrow.parquet", "Parquet export", "parquet")
        if not self.path.parent.is_dir():
            raise ValidationError(
                f"Cannot export to {str(path)!r}: the directory {str(self.path.parent)!r} does not exist"
            )
        self.rows = 0
        self._several = several
        self._columns: dict[str, None] = {}
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self._temp = Path(temp)
        spooled = self.format in ("csv", "parquet")
        self._out: IO[str] = os.fdopen(fd, "w", encoding="utf-8", newline="")
        # CSV and Parquet: the rows wait in a spool (JSON Lines) until every column is known.
        spool = tempfile.TemporaryFile("w+b") if spooled else None  # noqa: SIM115  # closed by close()/abort()
        self._spool: IO[bytes] | None = spool
        if self.format == "json":
            self._out.write("[")

    def __enter__(self) -> ExportWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        else:
            self.abort()

    def write(self, job: Job) -> int:
        """Write the rows of one job (see `job_rows`); return how many."""
        rows = job_rows([job] if self._several else job, nested=self.format in ("json", "jsonl"))
        return self.write_rows(rows)

    def write_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Write rows already made by `job_rows`; return how many."""
        count = 0
        for row in rows:
            if self._spool is not None:
                self._columns.update(dict.fromkeys(row))
                self._spool.write(_json(row) + b"\n")
            elif self.format == "json":
                self._out.write(("\n" if self.rows + count == 0 else ",\n") + _json(row).decode())
            else:
                self._out.write(_json(row).decode() + "\n")
            count += 1
        self.rows += count
        return count

    def close(self) -> None:
        """Finish the file and move it to `path`."""
        try:
            if self.format == "json":
                self._out.write("\n]\n" if self.rows else "]\n")
            elif self.format == "csv":
                self._write_csv(self._out)
            self._out.close()
            if self.format == "parquet":
                self._write_parquet()
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        finally:
            if self._spool is not None:
                self._spool.close()

    def abort(self) -> None:
        """Drop what was written; `path` is left as it was."""
        self._out.close()
        if self._spool is not None:
            self._spool.close()
        self._temp.unlink(missing_ok=True)

    def _spooled(self) -> Iterator[dict[str, Any]]:
        assert self._spool is not None
        self._spool.seek(0)
        for line in self._spool:
            yield orjson.loads(line)

    def _write_csv(self, out: IO[str]) -> None:
        columns = list(self._columns)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in self._spooled():
            writer.writerow([_csv_cell(row.get(c)) for c in columns])

    def _chunks(self) -> Iterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        for row in self._spooled():
            chunk.append(row)
            if len(chunk) == PARQUET_ROW_GROUP:
                yield chunk
                chunk = []
        if chunk or not self.rows:
            yield chunk

    def _write_parquet(self) -> None:
        pa = require("pyarrow", "Parquet export", "parquet")
        pq = require("pyarrow.parquet", "Parquet export", "parquet")
        columns = list(self._columns)
        try:
            # Two passes over the spool: the types of every row group first, so all groups share one schema.
            schemas = [
                pa.Table.from_pylist([_filled(row, columns) for row in chunk]).schema for chunk in self._chunks()
            ]
            schema = pa.unify_schemas(schemas, promote_options="permissive")
            with pq.ParquetWriter(self._temp, schema) as writer:
                for chunk in self._chunks():
                    writer.write_table(pa.Table.from_pylist([_filled(row, columns) for row in chunk], schema=schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise ValidationError(
                f"Cannot write {str(self.path)!r} as Parquet: a column holds values of mixed types ({exc}); "
                "export it as CSV or JSON Lines instead"
            ) from exc


def export(jobs: JobsArgument, path: str | os.PathLike[str], format: str | None = None) -> int:
    """Write the results of a job (its items) or of several jobs (each row with its `job_id` and `job_url`) to
    `path`; return the number of rows. The format is `format` or the file name's: `.json` (an array), `.jsonl`,
    `.csv` (nested records flattened into `a.b` columns, lists as JSON text), `.parquet` (needs pyarrow:
    `meterlocal[parquet]`). A generator of jobs is read one job at a time.
    """
    single, stream = jobs_of(jobs)
    with ExportWriter(path, format, several=not single) as writer:
        for job in stream:
            writer.write(job)
    return writer.rows
