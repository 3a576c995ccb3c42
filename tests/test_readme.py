"""The README's quick-start code runs as written and prints what the README shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("From Python (this block is run by `tests/test_readme.py`):", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_quickstart_runs_offline_and_prints_the_first_book(tmp_path: Path) -> None:
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / "quickstart.py").write_text(quickstart(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "quickstart.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    status, count, digest = done.stdout.splitlines()[0].split()
    assert (status, count) == ("completed", "20")
    assert re.fullmatch(r"[0-9a-f]{32}", digest)
    assert "'title': 'A Light in the Attic', 'price': '£51.77'" in done.stdout
    assert (tmp_path / "scrapes.db").exists()


def test_quickstart_is_short() -> None:
    assert len(quickstart().strip().splitlines()) <= 18


def test_the_monitoring_example_runs_and_prints_what_the_readme_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("Monitoring example (run by `tests/test_readme.py`):", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None
    (tmp_path / "monitor.py").write_text(match.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "monitor.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "False True",
        "1 0",
        "[{'title': 'Beloved', 'price': '£9'}] [('£7', '£8')]",
    ]


def test_the_generating_example_runs_generate_refine_repair_and_the_hook(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Generating strategies", 1)[1]
    after = section.split("(this block is run by `tests/test_readme.py`, offline on the saved pages):", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / "generating.py").write_text(match.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "generating.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    same_id, rest = done.stdout.splitlines()[0].split(" ", 1)
    assert same_id == "True"
    assert "{'name': 'Greater London Built-up area', 'rank': '1'}" in rest
    recovered = done.stdout.splitlines()[1]
    assert "'rank': 1.0" in recovered
    assert done.stdout.splitlines()[2] == "{'name': 'Greater London Built-up area'}"


def test_the_crawling_example_runs_offline_and_prints_what_the_readme_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("Crawling example (run by `tests/test_readme.py`", 1)[1]
    code = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    shown = re.search(r"It prints:\n\n```\n(.*?)```", after, re.DOTALL)
    assert code is not None and shown is not None
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / "crawl.py").write_text(code.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "crawl.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == shown.group(1).splitlines()


def test_the_workflow_example_runs_and_prints_what_the_readme_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("Workflow example (run by `tests/test_readme.py`):", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    printed = re.search(r"It prints:\n\n```\n(.*?)```", after, re.DOTALL)
    assert match is not None and printed is not None
    (tmp_path / "books.py").write_text(match.group(1), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "books.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == printed.group(1).splitlines()
    assert (tmp_path / "books.db").exists()
