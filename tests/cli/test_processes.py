"""The installed `meterlocal` script and `python -m meterlocal serve` as real processes, as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from meter_sdk import MeterClient, MeterError

from support import STRATEGIES, Foreground, Site, clean_env, load_strategy

SCRIPT = Path(sys.executable).with_name("meterlocal")
BOOKS_PAGE = "/books_toscrape/catalogue_index.html"


def test_the_installed_entry_point_runs(tmp_path: Path) -> None:
    assert SCRIPT.exists(), "the meterlocal console script is installed with the package"
    db = tmp_path / "script.db"
    strategy = STRATEGIES / "books_toscrape_catalogue_index.json"
    added = subprocess.run(
        [SCRIPT, "strategy", "add", strategy, "--name", "Books", "--json"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=clean_env(METERLOCAL_DB=str(db)),
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["name"] == "Books"
    usage = subprocess.run(
        [SCRIPT, "jobs", "list", "--limit", "0"], capture_output=True, text=True, timeout=30, check=False
    )
    assert usage.returncode == 2 and "Invalid value for '--limit'" in usage.stderr


def test_missing_cli_extra_says_what_to_install() -> None:
    code = "import sys; sys.modules['rich'] = None; from meterlocal.cli import main; raise SystemExit(main(['--help']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "needs the 'rich' package: install meterlocal[cli]" in result.stderr
    assert "pip install 'meterlocal[cli]'" in result.stderr


class Served(Foreground):
    """`python -m meterlocal serve --port 0 ...`, with the address it listens on."""

    def __init__(self, *args: str | Path) -> None:
        super().__init__("serve", "--port", "0", *args, env=clean_env())
        self.base_url = self.wait_for("listening on ").split("listening on ", 1)[1].strip()


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.close()


def test_serve_speaks_to_meter_sdk_and_stops_on_sigterm(tmp_path: Path, pages: Site, served: list[Served]) -> None:
    db = tmp_path / "served.db"
    key = "sk_local_process_key"
    server = Served("--db", db, "--api-key", key, "--allow-host", "127.0.0.1")
    served.append(server)
    assert server.base_url.startswith("http://127.0.0.1:")
    server.wait_for("auth on")
    guard = server.wait_for("SSRF guard on")
    assert "except 127.0.0.1" in guard
    server.wait_for("request bodies up to 1048576 bytes")
    assert key not in "".join(server.seen)  # the key is never printed

    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}) as http:
        created = http.post(
            "/api/strategies", json={"name": "Books", "strategy": load_strategy("books_toscrape_catalogue_index")}
        )
    assert created.status_code == 201
    with MeterClient(key, base_url=server.base_url) as meter:
        job = meter.execute_job(created.json()["id"], pages.url(BOOKS_PAGE))
        assert job["status"] == "completed" and job["item_count"] == 20
        assert meter.list_jobs()[0]["id"] == job["id"]
    with (
        MeterClient("sk_wrong", base_url=server.base_url) as meter,
        pytest.raises(MeterError, match=r"^API error: Invalid or missing API key$"),
    ):
        meter.list_strategies()

    assert server.stop(signal.SIGTERM) == 0
    server.wait_for("stopped")
    with MeterClient(key, base_url=server.base_url) as meter, pytest.raises(MeterError, match=r"^Request failed: "):
        meter.list_jobs()
    listed = subprocess.run(
        [sys.executable, "-m", "meterlocal", "jobs", "list", "--json", "--db", db],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=clean_env(),
    )
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]  # the store outlived the server


def test_serve_without_a_key_says_so_refuses_a_busy_port_and_stops_on_ctrl_c(
    tmp_path: Path, served: list[Served]
) -> None:
    server = Served("--db", tmp_path / "open.db", "--allow-private-addresses")
    served.append(server)
    assert "this machine only" in server.wait_for("auth off")
    server.wait_for("SSRF guard off")
    with httpx.Client(base_url=server.base_url) as http:
        assert http.get("/api/jobs").json() == []
        assert http.get("/api/jobs/", follow_redirects=False).status_code == 404

    port = server.base_url.rsplit(":", 1)[1]
    second = subprocess.run(
        [sys.executable, "-m", "meterlocal", "serve", "--port", port, "--db", tmp_path / "b.db"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=clean_env(),
    )
    assert second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stderr

    assert server.stop(signal.SIGINT) == 0
    server.wait_for("stopped")
