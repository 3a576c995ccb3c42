"""The column lists of `tables.py`: they match the schema a new store gets, and everything derives from them."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import sqlite3
import traceback
from datetime import UTC, datetime

import pytest

from meterlocal.errors import ValidationError
from meterlocal.models import JobStatus, format_timestamp
from meterlocal.store import JobOutcome, PostgresStore, SQLiteStore
from meterlocal.store.tables import JOBS, STRATEGIES, TABLES, Column, Table, json_column, time_column


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
async def test_every_table_matches_the_schema_of_a_new_store(tmp_path, table):
    path = tmp_path / "store.db"
    async with SQLiteStore(path):
        pass
    with contextlib.closing(sqlite3.connect(path)) as raw:
        schema = [row[1] for row in raw.execute(f"PRAGMA table_info({table.name})")]
    assert set(table.unmapped) <= set(schema)
    assert [name for name in schema if name not in table.unmapped] == list(table.names)
    big = [c.name for c in table.columns if c.big and c.in_table]
    if big:  # the big columns are the last ones of the table itself, not only of the list
        assert schema[-len(big) :] == big


@pytest.mark.parametrize("table", TABLES, ids=[t.name for t in TABLES])
async def test_every_table_matches_the_schema_of_a_new_postgres_store(postgres_url, table):
    async with PostgresStore(postgres_url, pool_size=1) as store:
        rows = await store._rows(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            (table.name,),
        )
    schema = [row[0] for row in rows if row[0] != "seq"]  # seq: PostgreSQL's stand-in for SQLite's rowid
    assert set(table.unmapped) - {"seq"} <= set(schema)
    assert sorted(name for name in schema if name not in table.unmapped) == sorted(table.names)


def test_statements_derive_from_the_column_list():
    notes = Table(
        "notes",
        [Column("note_id"), Column("owner", read=False), time_column("at"), json_column("body", big=True)],
        build=dict,
        key="note_id",
        noun="note",
    )
    assert notes.insert() == "INSERT INTO notes (note_id, owner, at, body) VALUES (?, ?, ?, ?)"
    assert notes.select("WHERE note_id = ?") == "SELECT note_id, at, body FROM notes WHERE note_id = ?"
    assert notes.upsert().endswith(
        "ON CONFLICT (note_id) DO UPDATE SET owner = excluded.owner, at = excluded.at, body = excluded.body"
    )
    assert notes.assign(["at", "body"], keep_when_null=["body"]) == "at = ?, body = COALESCE(?, body)"

    @dataclasses.dataclass
    class Note:
        note_id: str
        at: datetime
        body: object

    at = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    row = notes.encode(Note("n1", at, {"k": [1]}), owner="me")
    assert row == ("n1", "me", "2025-01-15T10:30:00.000000Z", '{"k":[1]}')
    assert notes.decode(row[:1] + row[2:]) == {"note_id": "n1", "at": at, "body": {"k": [1]}}
    with pytest.raises(ValueError, match="no column nope"):
        notes.assign(["nope"])


def test_bad_declarations_are_refused():
    with pytest.raises(ValueError, match="big columns must come after"):
        Table("t", [Column("a"), json_column("b", big=True), Column("c")], build=dict, key="a", noun="t")
    with pytest.raises(ValueError, match="identifiers"):
        Table("t", [Column("a"), Column("b; DROP TABLE jobs")], build=dict, key="a", noun="t")
    with pytest.raises(ValueError, match="unique"):
        Table("t", [Column("a"), Column("a")], build=dict, key="a", noun="t")
    with pytest.raises(ValueError, match="key 'id'"):
        Table("t", [Column("a")], build=dict, key="id", noun="t")


def test_generated_functions_show_their_source():
    assert "decode_created_at(row[" in inspect.getsource(JOBS.decode)
    assert "record.structural_signature" in inspect.getsource(JOBS.encode)
    assert "record.results" not in inspect.getsource(JOBS.encode)  # results live in their own table
    try:
        JOBS.decode(
            ("j", "s", None, None, "u", "no such status", 1, None, None, None, "x", None, None, None, None, None, None)
        )
    except ValueError as exc:
        frames = traceback.format_exception(exc)
    assert any("return build(" in frame for frame in frames)  # the generated line, not "<unknown>"


async def test_values_that_are_not_json_are_refused_naming_what(store, make):
    with pytest.raises(ValidationError, match=r"The output_schema of strategy bad cannot be stored as JSON"):
        await store.add_strategy(make.strategy("bad", output_schema={"fields": {1, 2}}))
    await store.add_strategy(make.strategy("s"))
    with pytest.raises(ValidationError, match=r"The parameters of job j1 cannot be stored as JSON"):
        await store.add_jobs([make.job("s", job_id="j1", parameters={"a": {1}})], owner_id="owner")
    assert await store.get_job("j1") is None
    job = make.job("s", job_id="j2")
    await store.add_jobs([job], owner_id="owner")
    await store.claim_job("j2", owner_id="owner", started_at=make.at(1))
    unstorable = JobOutcome(JobStatus.COMPLETED, make.at(2), results=[{"a": 1}], structural_signature={"x": {2}})
    with pytest.raises(ValidationError, match=r"The structural signature of job j2 cannot be stored as JSON"):
        await store.finish_job("j2", unstorable, owner_id="owner")
    unstorable = JobOutcome(JobStatus.COMPLETED, make.at(2), results=[{"a": {1}}])
    with pytest.raises(ValidationError, match=r"The results of job j2 cannot be stored as JSON"):
        await store.finish_job("j2", unstorable, owner_id="owner")
    assert (await store.get_job("j2")).status is JobStatus.RUNNING


def test_the_store_writes_times_in_the_json_format():
    at = datetime(2025, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)
    column = next(c for c in STRATEGIES.columns if c.name == "created_at")
    assert column.encode is format_timestamp
    assert format_timestamp(at) == "2025-01-15T10:30:00.123456Z"
    assert format_timestamp(datetime(999, 1, 2)) == "0999-01-02T00:00:00.000000Z"  # fixed width, naive is UTC
