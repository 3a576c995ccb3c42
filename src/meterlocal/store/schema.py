"""The SQLite schema of a store, as an ordered list of forward migrations.

A store file records every migration applied to it in `schema_version` (one row per version). Opening a store
applies the missing ones in one transaction; a file whose version is newer than `SCHEMA_VERSION` is refused,
because an older meterlocal cannot know what the newer columns mean.

Conventions every migration keeps:
- timestamps are TEXT, ISO-8601 UTC with microseconds and a `Z` (`2025-01-15T10:30:00.123456Z`), always 27
  characters wide, so text order is time order and `since` comparisons are exact (`models.format_timestamp`
  writes them, as it writes the JSON of the API);
- JSON documents are TEXT written by orjson;
- big columns (`results`, `structural_signature`, `parameters`) come last in `jobs`, so that queries reading
  only the small columns never walk a row's overflow pages;
- `jobs.seq` (the rowid) is the insertion order that breaks ties between equal creation times.

`tables.py` declares each table's columns again, as the records carry them; a test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One forward step of the schema: the statements that take a store from `version - 1` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]


_INITIAL = Migration(
    version=1,
    description="initial schema: strategies, jobs, owners",
    statements=(
        """
        CREATE TABLE strategies (
            strategy_id   TEXT PRIMARY KEY NOT NULL,
            name          TEXT NOT NULL,
            url           TEXT,
            description   TEXT NOT NULL DEFAULT '',
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL,
            deleted_at    TEXT,             -- set by delete_strategy; the row stays for its jobs
            strategy      TEXT NOT NULL,    -- JSON
            output_schema TEXT,             -- JSON
            filter_config TEXT              -- JSON
        )
        """,
        # list_strategies: live strategies newest first (the rowid, implicitly last, breaks ties).
        "CREATE INDEX strategies_live_created ON strategies (created_at) WHERE deleted_at IS NULL",
        """
        CREATE TABLE jobs (
            seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id               TEXT NOT NULL UNIQUE,
            strategy_id          TEXT NOT NULL REFERENCES strategies (strategy_id),
            batch_id             TEXT,
            url                  TEXT NOT NULL,
            status               TEXT NOT NULL
                                 CHECK (status IN ('pending', 'running', 'completed', 'failed')),
            owner_id             TEXT,
            item_count           INTEGER,
            content_hash         TEXT,
            error                TEXT,
            created_at           TEXT NOT NULL,
            started_at           TEXT,
            completed_at         TEXT,
            final_url            TEXT,
            warnings             TEXT,      -- JSON list of sentences, NULL for none
            parameters           TEXT,      -- JSON
            structural_signature TEXT,      -- JSON
            results              TEXT       -- JSON, possibly megabytes: keep it the last column
        )
        """,
        # list_jobs, one index per filter, each ordered like the listing (newest first, then insertion order).
        "CREATE INDEX jobs_created ON jobs (created_at, seq)",
        "CREATE INDEX jobs_strategy_created ON jobs (strategy_id, created_at, seq)",
        "CREATE INDEX jobs_strategy_status_created ON jobs (strategy_id, status, created_at, seq)",
        "CREATE INDEX jobs_status_created ON jobs (status, created_at, seq)",
        "CREATE INDEX jobs_batch_created ON jobs (batch_id, created_at, seq) WHERE batch_id IS NOT NULL",
        # adopt_jobs, release_owner, orphaned_owner_ids: an owner's unfinished jobs.
        "CREATE INDEX jobs_owner_status ON jobs (owner_id, status, created_at, seq)",
        # history's has_changes: the completed job of a strategy and URL before another.
        "CREATE INDEX jobs_strategy_url_status ON jobs (strategy_id, url, status, created_at, seq)",
        """
        CREATE TABLE owners (
            owner_id     TEXT PRIMARY KEY NOT NULL,
            pid          INTEGER NOT NULL,
            host         TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL
        )
        """,
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_INITIAL,)
"""Every migration, in order; versions are 1, 2, 3, ... without gaps."""

SCHEMA_VERSION: int = MIGRATIONS[-1].version
"""The schema version this code writes."""

# The table that records the applied migrations. Created outside the migrations so any version can read it.
VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY NOT NULL,
    description TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)
"""
