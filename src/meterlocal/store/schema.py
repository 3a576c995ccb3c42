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


_V1_OWNER_INDEX = "CREATE INDEX jobs_owner_status ON jobs (owner_id, status, created_at, seq)"
_V1_JOB_INDEXES = (
    # list_jobs, one index per filter, each ordered like the listing (newest first, then insertion order).
    "CREATE INDEX jobs_created ON jobs (created_at, seq)",
    "CREATE INDEX jobs_strategy_created ON jobs (strategy_id, created_at, seq)",
    "CREATE INDEX jobs_strategy_status_created ON jobs (strategy_id, status, created_at, seq)",
    "CREATE INDEX jobs_status_created ON jobs (status, created_at, seq)",
    "CREATE INDEX jobs_batch_created ON jobs (batch_id, created_at, seq) WHERE batch_id IS NOT NULL",
    # adopt_jobs, release_owner, orphaned_owner_ids: an owner's unfinished jobs.
    _V1_OWNER_INDEX,
    # has_changes (history, finish_job): the completed job of a strategy and URL before another.
    "CREATE INDEX jobs_strategy_url_status ON jobs (strategy_id, url, status, created_at, seq)",
)

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
        *_V1_JOB_INDEXES,
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

_JOB_INDEXES = (
    # The rebuilt table gets the same indexes again, but the owner index covers unfinished jobs only: adoption
    # and release look for nothing else, and finished jobs (nearly all of them) cost it no bytes.
    *(statement for statement in _V1_JOB_INDEXES if statement != _V1_OWNER_INDEX),
    "CREATE INDEX jobs_owner_status ON jobs (owner_id, status, created_at, seq) WHERE status IN ('pending', 'running')",
    # list_jobs(schedule_id=...), and a schedule's unfinished jobs (is the previous run still going?).
    "CREATE INDEX jobs_schedule_created ON jobs (schedule_id, created_at, seq) WHERE schedule_id IS NOT NULL",
    # get_schedule_changes and the changelog: a schedule's changed runs, unseen first.
    "CREATE INDEX jobs_schedule_changes ON jobs (schedule_id, seen_at, created_at, seq) "
    "WHERE schedule_id IS NOT NULL AND has_changes = 1",
)

_MONITORING = Migration(
    version=2,
    description="schedules, webhook outbox, results stored once per distinct content",
    statements=(
        """
        CREATE TABLE schedules (
            schedule_id      TEXT PRIMARY KEY NOT NULL,
            strategy_id      TEXT NOT NULL REFERENCES strategies (strategy_id),
            url              TEXT,
            urls             TEXT,             -- JSON list; exactly one of url and urls is set
            schedule_type    TEXT NOT NULL CHECK (schedule_type IN ('interval', 'cron')),
            interval_seconds INTEGER,
            cron_expression  TEXT,
            timezone         TEXT NOT NULL DEFAULT 'UTC',
            enabled          INTEGER NOT NULL DEFAULT 1,
            parameters       TEXT,             -- JSON
            webhook_url      TEXT,
            webhook_metadata TEXT,             -- JSON
            webhook_secret   TEXT,
            webhook_type     TEXT,
            webhook_on       TEXT NOT NULL DEFAULT 'always' CHECK (webhook_on IN ('always', 'changes')),
            next_run_at      TEXT,
            last_run_at      TEXT,
            created_at       TEXT NOT NULL,
            updated_at       TEXT NOT NULL,
            deleted_at       TEXT              -- set by delete_schedule; the row stays for its jobs
        )
        """,
        # The schedule loop: enabled live schedules by due time.
        "CREATE INDEX schedules_due ON schedules (next_run_at) WHERE enabled = 1 AND deleted_at IS NULL",
        "CREATE INDEX schedules_live_created ON schedules (created_at) WHERE deleted_at IS NULL",
        # Results move out of `jobs`: one row per distinct content of a strategy, which every job with that
        # content hash reads. An unchanged page re-scraped a thousand times is stored once.
        """
        CREATE TABLE results (
            strategy_id          TEXT NOT NULL,
            content_hash         TEXT NOT NULL,
            structural_signature TEXT,             -- JSON, of the first job with this content
            results              TEXT NOT NULL,    -- JSON list of items, possibly megabytes
            PRIMARY KEY (strategy_id, content_hash)
        )
        """,
        "INSERT OR IGNORE INTO results (strategy_id, content_hash, structural_signature, results) "
        "SELECT strategy_id, content_hash, structural_signature, results FROM jobs "
        "WHERE results IS NOT NULL AND content_hash IS NOT NULL ORDER BY seq",
        # `jobs` is rebuilt rather than altered: ADD COLUMN would put the new small columns after the big ones.
        """
        CREATE TABLE jobs_v2 (
            seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id               TEXT NOT NULL UNIQUE,
            strategy_id          TEXT NOT NULL REFERENCES strategies (strategy_id),
            batch_id             TEXT,
            schedule_id          TEXT,      -- the schedule that created the job
            url                  TEXT NOT NULL,
            status               TEXT NOT NULL
                                 CHECK (status IN ('pending', 'running', 'completed', 'failed')),
            owner_id             TEXT,
            item_count           INTEGER,
            content_hash         TEXT,      -- with strategy_id, the key of the job's row in `results`
            has_changes          INTEGER,   -- completed: content differs from the previous completed job
            seen_at              TEXT,      -- a changed scheduled job marked seen by get_schedule_changes
            error                TEXT,
            created_at           TEXT NOT NULL,
            started_at           TEXT,
            completed_at         TEXT,
            final_url            TEXT,
            warnings             TEXT,      -- JSON list of sentences, NULL for none
            parameters           TEXT,      -- JSON
            structural_signature TEXT       -- JSON
        )
        """,
        # has_changes of existing jobs: the rule history applies, computed once here.
        """
        INSERT INTO jobs_v2 (seq, job_id, strategy_id, batch_id, url, status, owner_id, item_count, content_hash,
                             has_changes, error, created_at, started_at, completed_at, final_url, warnings,
                             parameters, structural_signature)
        SELECT j.seq, j.job_id, j.strategy_id, j.batch_id, j.url, j.status, j.owner_id, j.item_count,
               j.content_hash,
               CASE WHEN j.status = 'completed' THEN EXISTS (
                   SELECT 1 FROM (
                       SELECT p.content_hash AS hash FROM jobs AS p
                       WHERE p.strategy_id = j.strategy_id AND p.url = j.url AND p.status = 'completed'
                         AND (p.created_at, p.seq) < (j.created_at, j.seq)
                       ORDER BY p.created_at DESC, p.seq DESC LIMIT 1
                   ) WHERE hash IS NOT j.content_hash
               ) END,
               j.error, j.created_at, j.started_at, j.completed_at, j.final_url, j.warnings, j.parameters,
               -- kept in the row only when it differs from its result set's (see `results`)
               CASE WHEN j.structural_signature IS (
                   SELECT r.structural_signature FROM results AS r
                   WHERE r.strategy_id = j.strategy_id AND r.content_hash = j.content_hash
               ) THEN NULL ELSE j.structural_signature END
        FROM jobs AS j ORDER BY j.seq
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v2 RENAME TO jobs",
        *_JOB_INDEXES,
        """
        CREATE TABLE webhook_deliveries (
            delivery_id      TEXT PRIMARY KEY NOT NULL,
            schedule_id      TEXT NOT NULL,
            job_id           TEXT NOT NULL,
            webhook_url      TEXT NOT NULL,
            webhook_type     TEXT NOT NULL,
            webhook_secret   TEXT,             -- as it was when the job finished
            webhook_metadata TEXT,             -- JSON, as it was when the job finished
            has_changes      INTEGER NOT NULL,
            status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
            attempt_count    INTEGER NOT NULL DEFAULT 0,
            next_attempt_at  TEXT,             -- pending: when it may be tried
            claimed_by       TEXT,             -- the owner sending it now
            claimed_until    TEXT,             -- after this, another manager may retry it
            last_status_code INTEGER,
            last_error       TEXT,
            created_at       TEXT NOT NULL,
            delivered_at     TEXT
        )
        """,
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'",
        "CREATE INDEX webhook_deliveries_schedule ON webhook_deliveries (schedule_id, created_at)",
        "CREATE INDEX webhook_deliveries_job ON webhook_deliveries (job_id)",
        """
        CREATE TABLE webhook_attempts (
            delivery_id  TEXT NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
            attempt      INTEGER NOT NULL,
            attempted_at TEXT NOT NULL,
            status_code  INTEGER,
            error        TEXT,
            duration_ms  REAL NOT NULL,
            PRIMARY KEY (delivery_id, attempt)
        )
        """,
    ),
)

_WORKFLOWS = Migration(
    version=3,
    description="workflows (DAGs of strategies) and their runs",
    statements=(
        """
        CREATE TABLE workflows (
            workflow_id       TEXT PRIMARY KEY NOT NULL,
            name              TEXT NOT NULL,
            description       TEXT,
            enabled           INTEGER NOT NULL DEFAULT 1,
            max_urls_per_node INTEGER NOT NULL,
            created_at        TEXT NOT NULL,
            updated_at        TEXT NOT NULL,
            deleted_at        TEXT,
            nodes             TEXT NOT NULL,   -- JSON list of nodes
            edges             TEXT NOT NULL    -- JSON list of edges
        )
        """,
        "CREATE INDEX workflows_created ON workflows (created_at) WHERE deleted_at IS NULL",
        """
        CREATE TABLE workflow_runs (
            run_id          TEXT PRIMARY KEY NOT NULL,
            workflow_id     TEXT NOT NULL,
            status          TEXT NOT NULL
                            CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
            force           INTEGER NOT NULL,
            error           TEXT,
            owner_id        TEXT,             -- the manager executing it; another resumes it when that one is gone
            created_at      TEXT NOT NULL,
            started_at      TEXT,
            completed_at    TEXT,
            node_executions TEXT NOT NULL     -- JSON: each node's status, job ids and counts (never its results)
        )
        """,
        "CREATE INDEX workflow_runs_workflow ON workflow_runs (workflow_id, created_at)",
        "CREATE INDEX workflow_runs_unfinished ON workflow_runs (status) WHERE status IN ('pending', 'running')",
    ),
)

_CLAIM_INDEXES = (
    # claim_next: pending jobs in creation order (jobs_status_created serves it) and running jobs per host.
    "CREATE INDEX jobs_running_host ON jobs (host) WHERE status = 'running'",
)

_WORKERS = Migration(
    version=4,
    description="pull-based workers: each job's host (per-host limit across workers) and the worker that ran it",
    statements=(
        # Rebuilt, not altered: ADD COLUMN would put the new small columns after the big ones.
        """
        CREATE TABLE jobs_v4 (
            seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id               TEXT NOT NULL UNIQUE,
            strategy_id          TEXT NOT NULL REFERENCES strategies (strategy_id),
            batch_id             TEXT,
            schedule_id          TEXT,
            url                  TEXT NOT NULL,
            status               TEXT NOT NULL
                                 CHECK (status IN ('pending', 'running', 'completed', 'failed')),
            owner_id             TEXT,
            host                 TEXT,      -- the URL's host (tables.host_of); NULL for jobs stored before v4
            worker               TEXT,      -- host:pid of the worker that claimed the job last
            item_count           INTEGER,
            content_hash         TEXT,
            has_changes          INTEGER,
            seen_at              TEXT,
            error                TEXT,
            created_at           TEXT NOT NULL,
            started_at           TEXT,
            completed_at         TEXT,
            final_url            TEXT,
            warnings             TEXT,
            parameters           TEXT,
            structural_signature TEXT
        )
        """,
        """
        INSERT INTO jobs_v4 (seq, job_id, strategy_id, batch_id, schedule_id, url, status, owner_id, item_count,
                             content_hash, has_changes, seen_at, error, created_at, started_at, completed_at,
                             final_url, warnings, parameters, structural_signature)
        SELECT seq, job_id, strategy_id, batch_id, schedule_id, url, status, owner_id, item_count, content_hash,
               has_changes, seen_at, error, created_at, started_at, completed_at, final_url, warnings, parameters,
               structural_signature
        FROM jobs ORDER BY seq
        """,
        "DROP TABLE jobs",
        "ALTER TABLE jobs_v4 RENAME TO jobs",
        *_JOB_INDEXES,
        *_CLAIM_INDEXES,
    ),
)

_GENERATION = Migration(
    version=5,
    description="the page and examples each generated strategy was written from (refine re-infers on it)",
    statements=(
        """
        CREATE TABLE generation_inputs (
            strategy_id  TEXT PRIMARY KEY NOT NULL REFERENCES strategies (strategy_id),
            url          TEXT NOT NULL,
            final_url    TEXT,
            content_type TEXT,
            examples     TEXT NOT NULL,    -- JSON list of {field: value}
            exclude      TEXT NOT NULL,    -- JSON list of values no item may show
            created_at   TEXT NOT NULL,
            updated_at   TEXT NOT NULL,
            body         BLOB NOT NULL     -- the page as fetched, possibly megabytes: the last column
        )
        """,
    ),
)

_PAGES = Migration(
    version=6,
    description="jobs.page_urls: each page's URL of a job that walked a paginated listing",
    statements=(
        # Appended after the big columns, as it is one itself (up to max_pages URLs), so no rebuild is needed.
        "ALTER TABLE jobs ADD COLUMN page_urls TEXT",  # JSON list; NULL for a job of one page
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_INITIAL, _MONITORING, _WORKFLOWS, _WORKERS, _GENERATION, _PAGES)
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
