"""The SQLite store's tables, each declared once as a list of columns.

A `Table` lists its columns in schema order, each with how its value is written and read back. Everything the
store says about a table's columns derives from that list: the SQL column lists, placeholders and `SET`
clauses, and the functions that turn a record into a row and a row back into a record. Those functions are
generated once per table (as dataclasses and attrs generate `__init__`), so reading a row costs what a
hand-written `Job(job_id=row[0], ...)` costs; their source is registered in `linecache`, so tracebacks and
debuggers show it.

To add a table: write its `CREATE TABLE` in a new migration in `schema.py` (an applied migration never
changes), declare it below with one `Column` per column a record carries, in schema order, name the columns
no record carries (a rowid alias, a column only one statement writes) in `unmapped`, and add it to `TABLES`.
To add a column: the field on the record, a migration that adds the column, and its `Column` in the same
place. `ALTER TABLE ... ADD COLUMN` appends, which suits a table without big columns; in one with big
columns (`jobs`), a small column goes before them, so the migration rebuilds the table (create the new one,
copy, drop, rename). `tests/store/test_tables.py` holds every table to the schema a new store gets.

Conventions (see `schema.py`): times are `format_timestamp` text, documents are orjson text, and big
columns come last so that a query reading only the small ones never walks a row's overflow pages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import linecache
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import orjson

from meterlocal.errors import ValidationError
from meterlocal.models import (
    Job,
    JobStatus,
    Schedule,
    Strategy,
    WebhookAttempt,
    WebhookDelivery,
    format_timestamp,
)
from meterlocal.store.base import GenerationInput, OwnerInfo
from meterlocal.workflows.records import (
    NodeExecution,
    RunStatus,
    Workflow,
    WorkflowEdge,
    WorkflowNode,
    WorkflowRun,
)

__all__ = [
    "GENERATION_INPUTS",
    "JOBS",
    "OWNERS",
    "SCHEDULES",
    "STRATEGIES",
    "TABLES",
    "WEBHOOK_ATTEMPTS",
    "WEBHOOK_DELIVERIES",
    "WORKFLOWS",
    "WORKFLOW_RUNS",
    "Column",
    "Table",
    "decode_json",
    "host_of",
    "json_column",
    "list_column",
    "optional_time_column",
    "time_column",
]

_R = TypeVar("_R")
_Codec = Callable[[Any], Any]
_Row = Sequence[Any]

# Rows whose big values pass this many characters of JSON (a few ms of decoding per MB) are decoded off the loop.
_DECODE_IN_THREAD_BYTES = 256 * 1024

_generated = itertools.count(1)


@dataclasses.dataclass(frozen=True, slots=True)
class Column:
    """One column and the record attribute of the same name: how its value is written and read back.

    `encode` and `decode` default to storing and reading the value as it is; they also receive None. A column
    with `read=False` is one the record does not carry (`jobs.owner_id`): its value is given when a row is
    written, and it is not read back. A `big` column may hold megabytes: it comes after every small one, and
    rows whose big values are long are decoded in a worker thread. `label` names the value in error messages.
    A column with an `expression` is read through that SQL expression instead of by name (a value of another
    table, such as a job's results). Such a column is not `stored` in the table, and never written by `insert()`
    or `encode()`, unless it says `stored=True` (a value kept in the row only when it differs from the shared one,
    read with `COALESCE(column, shared)`).
    """

    name: str
    encode: _Codec | None = None
    decode: _Codec | None = None
    read: bool = True
    big: bool = False
    label: str = ""
    expression: str | None = None
    stored: bool | None = None  # default: stored unless read through an expression
    source: str | None = None  # written from this attribute of the record (encoded), not from `name`

    @property
    def in_table(self) -> bool:
        """Whether the table has a column of this name (written by `insert()`)."""
        return self.expression is None if self.stored is None else self.stored


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def _optional_datetime(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


def _dumps_list(values: Sequence[Any] | None) -> str | None:
    return orjson.dumps(list(values)).decode() if values else None


def _loads_list(text: str | None) -> Any:
    return [] if text is None else orjson.loads(text)


def _status(status: JobStatus | str) -> str:
    return JobStatus(status).value


def _optional_flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _optional_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def host_of(url: str) -> str:
    """The host a job's URL names, lower case (`""` for a URL without one): the per-host limit's key."""
    parts = urlsplit(url)
    return (parts.hostname or parts.scheme or "").lower()


def decode_json(text: str | None) -> Any:
    """A JSON document stored by a `json_column` (None for NULL)."""
    return _loads(text)


def time_column(name: str) -> Column:
    """A time that is always set, stored as `format_timestamp` text."""
    return Column(name, format_timestamp, datetime.fromisoformat)


def optional_time_column(name: str) -> Column:
    """A time or NULL."""
    return Column(name, _optional_time, _optional_datetime)


def json_column(name: str, *, big: bool = False, label: str = "") -> Column:
    """A JSON document (or NULL), stored as orjson text."""
    return Column(name, _dumps, _loads, big=big, label=label)


def list_column(name: str, *, label: str = "") -> Column:
    """A list stored as JSON text; an empty list is stored as NULL and NULL reads back as `[]`."""
    return Column(name, _dumps_list, _loads_list, label=label)


class Table(Generic[_R]):
    """A table as one list of columns, and what derives from it: SQL text and the record <-> row mapping.

    `build` makes a record from the decoded values by keyword (`Job.model_construct` skips validation, for rows
    the store wrote itself). `key` is the primary key column; `noun` and `key` name a record in error messages.
    """

    def __init__(
        self,
        name: str,
        columns: Sequence[Column],
        *,
        build: Callable[..., _R],
        key: str,
        noun: str,
        unmapped: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.columns = tuple(columns)
        self.names = tuple(column.name for column in self.columns if column.in_table)
        """The stored columns, in schema order: what `insert()` writes."""
        self.key = key
        self.noun = noun
        self.unmapped = tuple(unmapped)
        """Columns of the SQL table that no record carries; only statements of their own touch them."""
        self._by_name = {column.name: column for column in self.columns}
        if not all(part.isidentifier() for part in (name, *self.names, *self.unmapped)):
            raise ValueError(f"table {name!r}: table and column names must be identifiers")
        if len(self._by_name) != len(self.columns) or key not in self.names:
            raise ValueError(f"table {name}: column names must be unique, and the key {key!r} one of them")
        big = [column.big for column in self.columns]
        if big != sorted(big):
            raise ValueError(f"table {name}: the big columns must come after every small one")
        self.read_names = tuple(column.name for column in self.columns if column.read)
        """The columns a record is read from, in the order of `select_list`."""
        self.select_list = ", ".join(
            name if self._by_name[name].expression is None else f"({self._by_name[name].expression}) AS {name}"
            for name in self.read_names
        )
        self._big = tuple(i for i, name in enumerate(self.read_names) if self._by_name[name].big)
        self.encode: Callable[..., tuple[Any, ...]] = self.encoder(self.names)
        """`encode(record, **given)`: the row of `record` for `insert()`; `given` holds the columns the record
        does not carry (`owner_id=`)."""
        self.decode: Callable[[_Row], _R] = self.reader(self.read_names, build)
        """`decode(row)`: the record of a row of `select_list`."""

    def __repr__(self) -> str:
        return f"<Table {self.name} ({', '.join(self.names)})>"

    # SQL: built from the names, which are identifiers (checked above), and the callers' fixed clauses ---------
    def insert(self, suffix: str = "") -> str:
        """`INSERT INTO name (every column) VALUES (?, ...)`, then `suffix`; its values are `encode(record)`."""
        placeholders = ", ".join("?" * len(self.names))
        sql = f"INSERT INTO {self.name} ({', '.join(self.names)}) VALUES ({placeholders})"  # noqa: S608
        return f"{sql} {suffix}" if suffix else sql

    def upsert(self) -> str:
        """An `insert()` that overwrites every other column of the row with the same key."""
        others = ", ".join(f"{name} = excluded.{name}" for name in self.names if name != self.key)
        return self.insert(f"ON CONFLICT ({self.key}) DO UPDATE SET {others}")

    def select(self, rest: str) -> str:
        """`SELECT select_list FROM name rest`; `decode` reads its rows."""
        return f"SELECT {self.select_list} FROM {self.name} {rest}"  # noqa: S608

    def assign(self, names: Sequence[str], *, keep_when_null: Sequence[str] = ()) -> str:
        """The `SET` list `a = ?, b = ?` of `names`, for the values of `encoder(names)`; a `keep_when_null`
        column keeps its stored value when given NULL."""
        self._columns(names)
        return ", ".join(f"{n} = COALESCE(?, {n})" if n in keep_when_null else f"{n} = ?" for n in names)

    # Rows ----------------------------------------------------------------------------------------------------
    async def decode_all(self, rows: Sequence[_Row]) -> list[_R]:
        """The records of rows of `select_list`; in a worker thread when their big values are long, so that
        decoding a 30,000-item job never stalls the event loop."""
        decode = self.decode
        if self._big and sum(len(row[i] or "") for row in rows for i in self._big) > _DECODE_IN_THREAD_BYTES:
            return await asyncio.to_thread(lambda: [decode(row) for row in rows])
        return [decode(row) for row in rows]

    def encoder(self, names: Sequence[str], *, given: Sequence[str] | None = None) -> Callable[..., tuple[Any, ...]]:
        """A function `(record, **given) -> values` of the `names` columns, in order, each value encoded.

        A value is the record's attribute of the column's name, or, for a `given` column (by default those the
        record does not carry), the keyword argument of that name. A value that cannot be stored as JSON raises
        `ValidationError` naming the column and the record.
        """
        columns = self._columns(names)
        given = [c.name for c in columns if not c.read and c.source is None] if given is None else list(given)
        if not set(given) <= set(names):
            raise ValueError(f"table {self.name}: given columns {list(given)} must be among {list(names)}")
        namespace: dict[str, Any] = {
            "JSONEncodeError": orjson.JSONEncodeError,
            "unstorable": self._unstorable,
            "columns": tuple(columns),
        }
        values = []
        for c in columns:
            value = c.name if c.name in given else f"record.{c.source or c.name}"
            if c.encode is not None:
                namespace[f"encode_{c.name}"] = c.encode
                value = f"encode_{c.name}({value})"
            values.append(value)
        source = (
            f"def encode({', '.join(['record', *(['*', *given] if given else [])])}):\n"
            "    try:\n"
            f"        return ({', '.join(values)},)\n"
            "    except JSONEncodeError as exc:\n"
            f"        raise unstorable(record, columns, {{{', '.join(f'{n!r}: {n}' for n in given)}}}, exc) from exc\n"
        )
        return self._generate("encode", source, namespace)

    def reader(
        self, names: Sequence[str], build: Callable[..., Any], *, extra: Sequence[str] = ()
    ) -> Callable[[_Row], Any]:
        """A function `row -> build(**values)` for rows that hold the `names` columns (decoded) and then the
        `extra` values (as they are: computed by the statement, such as history's `has_changes`)."""
        namespace: dict[str, Any] = {"build": build}
        arguments = []
        for i, c in enumerate(self._columns(names)):
            value = f"row[{i}]"
            if c.decode is not None:
                namespace[f"decode_{c.name}"] = c.decode
                value = f"decode_{c.name}({value})"
            arguments.append(f"{c.name}={value}")
        if not all(name.isidentifier() for name in extra):
            raise ValueError(f"table {self.name}: extra names must be identifiers, not {list(extra)}")
        arguments += [f"{name}=row[{i}]" for i, name in enumerate(extra, len(names))]
        return self._generate("read", f"def read(row):\n    return build({', '.join(arguments)})\n", namespace)

    def _columns(self, names: Sequence[str]) -> list[Column]:
        unknown = [name for name in names if name not in self._by_name]
        if unknown:
            raise ValueError(f"table {self.name} has no column {', '.join(unknown)}")
        return [self._by_name[name] for name in names]

    def _generate(self, function: str, source: str, namespace: dict[str, Any]) -> Callable[..., Any]:
        """Compile generated `source` defining `function`; register it in `linecache` so tracebacks show it."""
        filename = f"<meterlocal.store.tables {self.name}.{function} #{next(_generated)}>"
        # Only column names (checked to be identifiers) and fixed text go into the source.
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        generated: Callable[..., Any] = namespace[function]
        return generated

    def _unstorable(
        self, record: Any, columns: Sequence[Column], given: dict[str, Any], exc: Exception
    ) -> ValidationError:
        """Say which value of `record` cannot be stored as JSON (the slow path: encode each value again)."""
        what = f"{self.noun} {getattr(record, self.key, given.get(self.key, '?'))}"
        for c in columns:
            if c.encode is None:
                continue
            try:
                c.encode(given[c.name] if c.name in given else getattr(record, c.source or c.name))
            except orjson.JSONEncodeError as failed:
                return ValidationError(f"The {c.label or c.name} of {what} cannot be stored as JSON: {failed}")
        return ValidationError(f"A value of {what} cannot be stored as JSON: {exc}")


STRATEGIES: Table[Strategy] = Table(
    "strategies",
    [
        Column("strategy_id"),
        Column("name"),
        Column("url"),
        Column("description"),
        time_column("created_at"),
        time_column("updated_at"),
        json_column("strategy", label="document"),
        json_column("output_schema"),
        json_column("filter_config"),
    ],
    build=Strategy,  # validated on read, so the document is rebuilt exactly as the API builds it
    key="strategy_id",
    noun="strategy",
    unmapped=("deleted_at",),  # set by delete_strategy alone; no lookup or listing reads a deleted strategy
)

JOBS: Table[Job] = Table(
    "jobs",
    [
        Column("job_id"),
        Column("strategy_id"),
        Column("batch_id"),
        Column("schedule_id"),
        Column("url"),
        Column("status", _status, JobStatus),
        Column("owner_id", read=False),  # the manager that holds the job; a Job does not carry it
        # The URL's host, for the per-host limit that claims keep across every worker of the store.
        Column("host", host_of, read=False, source="url"),
        Column("worker"),  # the worker that ran (or runs) the job: "host:pid", set when it is claimed
        Column("item_count"),
        Column("content_hash"),
        Column("has_changes", _optional_flag, _optional_bool),
        Column("error"),
        time_column("created_at"),
        optional_time_column("started_at"),
        optional_time_column("completed_at"),
        Column("final_url"),
        list_column("warnings"),
        json_column("parameters", big=True),
        # Kept with the result set when it is the same (an unchanged page re-scraped); in the row only otherwise.
        Column(
            "structural_signature",
            _dumps,
            _loads,
            big=True,
            label="structural signature",
            stored=True,
            expression="COALESCE(structural_signature, (SELECT r.structural_signature FROM results AS r "
            "WHERE r.strategy_id = jobs.strategy_id AND r.content_hash = jobs.content_hash))",
        ),
        Column("page_urls", _dumps_list, _loads_list, big=True),  # a paginated job's pages, in order
        # Results are stored once per distinct content of a strategy (table `results`); a job reads them by its
        # content hash. Possibly megabytes: the last value read.
        Column(
            "results",
            decode=_loads,
            big=True,
            expression="SELECT r.results FROM results AS r "
            "WHERE r.strategy_id = jobs.strategy_id AND r.content_hash = jobs.content_hash",
        ),
    ],
    # Not validated again: the store wrote these values itself, and validating 30,000 result items costs ~10 ms.
    build=Job.model_construct,
    key="job_id",
    noun="job",
    # seq: the rowid, insertion order, which breaks ties between equal creation times; seen_at: set by
    # schedule_changes alone.
    unmapped=("seq", "seen_at"),
)

SCHEDULES: Table[Schedule] = Table(
    "schedules",
    [
        Column("schedule_id"),
        Column("strategy_id"),
        Column("url"),
        json_column("urls"),
        Column("schedule_type"),
        Column("interval_seconds"),
        Column("cron_expression"),
        Column("timezone"),
        Column("enabled", int, bool),
        json_column("parameters"),
        Column("webhook_url"),
        json_column("webhook_metadata"),
        Column("webhook_secret"),
        Column("webhook_type"),
        Column("webhook_on"),
        optional_time_column("next_run_at"),
        optional_time_column("last_run_at"),
        time_column("created_at"),
        time_column("updated_at"),
    ],
    build=Schedule.model_construct,
    key="schedule_id",
    noun="schedule",
    unmapped=("deleted_at",),
)

WEBHOOK_DELIVERIES: Table[WebhookDelivery] = Table(
    "webhook_deliveries",
    [
        Column("delivery_id"),
        Column("schedule_id"),
        Column("job_id"),
        Column("webhook_url"),
        Column("webhook_type"),
        Column("status"),
        Column("attempt_count"),
        optional_time_column("next_attempt_at"),
        Column("last_status_code"),
        Column("last_error"),
        time_column("created_at"),
        optional_time_column("delivered_at"),
    ],
    build=WebhookDelivery.model_construct,
    key="delivery_id",
    noun="webhook delivery",
    # Written when the job finishes (a copy of the schedule's webhook as it was) and by the claim, read by the
    # outbox alone.
    unmapped=("webhook_secret", "webhook_metadata", "has_changes", "claimed_by", "claimed_until"),
)

WEBHOOK_ATTEMPTS: Table[WebhookAttempt] = Table(
    "webhook_attempts",
    [
        Column("delivery_id", read=False),
        Column("attempt"),
        time_column("attempted_at"),
        Column("status_code"),
        Column("error"),
        Column("duration_ms"),
    ],
    build=WebhookAttempt.model_construct,
    key="delivery_id",
    noun="webhook attempt",
)

OWNERS: Table[OwnerInfo] = Table(
    "owners",
    [Column("owner_id"), Column("pid"), Column("host"), time_column("heartbeat_at")],
    build=OwnerInfo,
    key="owner_id",
    noun="owner",
)

GENERATION_INPUTS: Table[GenerationInput] = Table(
    "generation_inputs",
    [
        Column("strategy_id"),
        Column("url"),
        Column("final_url"),
        Column("content_type"),
        json_column("examples"),
        json_column("exclude"),
        time_column("created_at"),
        time_column("updated_at"),
        Column("body", big=True),
    ],
    build=GenerationInput,
    key="strategy_id",
    noun="generation input",
)


def _records_column(name: str, record: type[Any], *, exclude: frozenset[str] = frozenset()) -> Column:
    """A list of pydantic records stored as JSON (`exclude`: fields computed on read, never stored)."""

    def encode(values: Sequence[Any]) -> str:
        return orjson.dumps([v.model_dump(mode="json", exclude=set(exclude)) for v in values]).decode()

    def decode(text: str) -> list[Any]:
        return [record.model_validate(value) for value in orjson.loads(text)]

    return Column(name, encode, decode, big=True)


WORKFLOWS: Table[Workflow] = Table(
    "workflows",
    [
        Column("workflow_id"),
        Column("name"),
        Column("description"),
        Column("enabled", int, bool),
        Column("max_urls_per_node"),
        time_column("created_at"),
        time_column("updated_at"),
        _records_column("nodes", WorkflowNode),
        _records_column("edges", WorkflowEdge),
    ],
    build=Workflow.model_construct,
    key="workflow_id",
    noun="workflow",
    unmapped=("deleted_at",),
)

WORKFLOW_RUNS: Table[WorkflowRun] = Table(
    "workflow_runs",
    [
        Column("run_id"),
        Column("workflow_id"),
        Column("status", str, RunStatus),
        Column("force", int, bool),
        Column("error"),
        Column("owner_id", read=False),  # the manager executing the run; a run does not carry it
        time_column("created_at"),
        optional_time_column("started_at"),
        optional_time_column("completed_at"),
        _records_column("node_executions", NodeExecution, exclude=frozenset({"results"})),
    ],
    build=WorkflowRun.model_construct,
    key="run_id",
    noun="workflow run",
)

TABLES: tuple[Table[Any], ...] = (
    STRATEGIES,
    JOBS,
    OWNERS,
    SCHEDULES,
    WEBHOOK_DELIVERIES,
    WEBHOOK_ATTEMPTS,
    GENERATION_INPUTS,
    WORKFLOWS,
    WORKFLOW_RUNS,
)
"""Every table whose rows are records."""
