"""`meterlocal.testing`: a pytest plugin for testing your scrapers against saved pages.

Installed with meterlocal (a `pytest11` entry point), or named with `-p meterlocal.testing`. It gives

- `meterlocal_manager`: a `SyncJobManager` over a fresh SQLite store in the test's `tmp_path`, fetching from the
  fixture directory (so the test runs offline), closed after the test. Blocking calls, so it needs no async test
  plugin and works in sync and async tests alike;
- `meterlocal_async_manager` (with pytest-asyncio): the same as an open `JobManager`, for `await`;
- `meterlocal_fixtures`: that directory; `meterlocal_settings`: the `Settings` both use (override it to change).

Where the pages come from, the first one given wins:

    @pytest.mark.meterlocal(fixtures="tests/pages", record_missing=True)   on a test, module or class
    --meterlocal-fixtures DIR / --meterlocal-record-missing                 on the command line
    meterlocal_fixtures = DIR / meterlocal_record_missing = true            in the ini file (relative to rootdir)
    pages/ beside the test module                                          by default

Without record mode a page that is not saved fails its job (`No saved page for ...`). With it (vcrpy's
`record_mode="once"`, per URL), what is saved is replayed and what is not is fetched and saved, so the next run is
offline: commit the directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from meterlocal.manager import JobManager
    from meterlocal.settings import Settings
    from meterlocal.sync import SyncJobManager

__all__ = [
    "meterlocal_fixtures",
    "meterlocal_manager",
    "meterlocal_settings",
    "pytest_addoption",
    "pytest_configure",
]

DEFAULT_DIRECTORY = "pages"
"""The fixture directory, beside the test module, when nothing else names one."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meterlocal", "meterlocal: scrapers against saved pages")
    group.addoption("--meterlocal-fixtures", metavar="DIR", help="Directory of saved pages (manifest.json).")
    group.addoption(
        "--meterlocal-record-missing",
        action="store_true",
        default=None,
        help="Fetch and save the pages the fixture directory does not hold yet (vcrpy's record_mode='once').",
    )
    parser.addini("meterlocal_fixtures", "Directory of saved pages, relative to rootdir.", default=None)
    parser.addini("meterlocal_record_missing", "Record pages that are not saved yet.", type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "meterlocal(fixtures=DIR, record_missing=False): where meterlocal_manager's pages come from"
    )


def _sources(request: pytest.FixtureRequest) -> tuple[Path, bool]:
    config = request.config
    marker = request.node.get_closest_marker("meterlocal")
    given: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = set(given) - {"fixtures", "record_missing"}
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.meterlocal takes fixtures= and record_missing=, not {sorted(unknown)}")
    directory = given.get("fixtures") or config.getoption("meterlocal_fixtures")
    base = config.rootpath
    if directory is None and config.getini("meterlocal_fixtures"):
        directory = config.getini("meterlocal_fixtures")
    if directory is None:
        directory, base = DEFAULT_DIRECTORY, request.path.parent
    record = given.get("record_missing")
    if record is None:
        record = config.getoption("meterlocal_record_missing")
    if record is None:
        record = bool(config.getini("meterlocal_record_missing"))
    path = Path(directory)
    return (path if path.is_absolute() else base / path), bool(record)


@pytest.fixture
def meterlocal_settings() -> Settings:
    """The `Settings` of `meterlocal_manager` (defaults); override this fixture to change them."""
    from meterlocal.settings import Settings

    return Settings()


@pytest.fixture
def meterlocal_fixtures(request: pytest.FixtureRequest) -> Path:
    """The directory `meterlocal_manager` replays pages from (and records into, in record mode)."""
    return _sources(request)[0]


@pytest.fixture
def meterlocal_manager(
    request: pytest.FixtureRequest, tmp_path: Path, meterlocal_settings: Settings
) -> Iterator[SyncJobManager]:
    """An open `SyncJobManager` over `tmp_path/meterlocal.db`, fetching from the fixture directory."""
    from meterlocal.sync import SyncJobManager

    directory, record_missing = _sources(request)
    with SyncJobManager(
        tmp_path / "meterlocal.db", meterlocal_settings, fixtures=directory, record_missing=record_missing
    ) as jm:
        yield jm


try:
    import pytest_asyncio
except ImportError:  # no async fixture without an async test plugin; meterlocal_manager works anyway
    pass
else:

    @pytest_asyncio.fixture
    async def meterlocal_async_manager(
        request: pytest.FixtureRequest, tmp_path: Path, meterlocal_settings: Settings
    ) -> AsyncIterator[JobManager]:
        """An open `JobManager` over `tmp_path/meterlocal.db`, fetching from the fixture directory."""
        from meterlocal.manager import JobManager

        directory, record_missing = _sources(request)
        async with JobManager(
            tmp_path / "meterlocal.db", meterlocal_settings, fixtures=directory, record_missing=record_missing
        ) as jm:
            yield jm

    __all__ += ["meterlocal_async_manager"]
