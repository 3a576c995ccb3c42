"""The example notebook and the README's notebook code run, offline, in a real IPython kernel (nbclient)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from support import ROOT

NOTEBOOK = ROOT / "examples" / "exploring_a_site.ipynb"


def execute(notebook: Any, cwd: Path) -> Any:
    """Run every cell in a fresh ipykernel (this interpreter's), in `cwd`; a cell that raises fails the test."""
    client = NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, allow_errors=False
    )
    client.execute()
    return notebook


def outputs(cell: Any, kind: str) -> str:
    """Everything a cell showed as `kind`: "stdout", "stderr", or a MIME type such as "text/html"."""
    found = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream" and out["name"] == kind:
            found.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data") and kind in out["data"]:
            found.append(out["data"][kind])
    return "".join(found)


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel is a child process: it imports meterlocal from this checkout, as the tests do.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def test_the_example_notebook_runs_offline_and_shows_tables_bars_and_a_timeline(
    tmp_path: Path, kernel_env: None
) -> None:
    (tmp_path / "examples").mkdir()
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    shutil.copy(NOTEBOOK, tmp_path / "examples")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code")  # saved clean
    cells = [c for c in execute(notebook, tmp_path / "examples").cells if c.cell_type == "code"]
    by_source = {c.source.splitlines()[-1]: c for c in cells}

    assert "Books" in outputs(by_source["books"], "text/html")
    assert "completed" in outputs(by_source["job"], "text/html") and "A Light in the Attic" in outputs(
        by_source["job"], "text/html"
    )
    table = outputs(by_source['df.sort_values("price", ascending=False).head()'], "text/html")
    assert "<table" in table and "57.25" in table  # the dearest book on the page, as a float
    assert outputs(by_source['print(Path("books.csv").read_text().splitlines()[0])'], "stdout") == (
        "title,price,rating,url\n"
    )
    assert (tmp_path / "examples" / "books.csv").exists()
    batch_cell = by_source["[(j.status.value, j.item_count) for j in jobs]"]
    assert "3/3" in outputs(batch_cell, "stderr")  # tqdm's bar (text: no ipywidgets in the test kernel)
    assert "('completed', 20), ('completed', 20), ('failed', None)" in outputs(batch_cell, "text/plain")
    progress = outputs(by_source["await jm.get_batch_progress(batch.batch_id)"], "text/html")
    assert "3/3" in progress and "currentColor" in progress
    comparison = outputs(by_source["await jm.compare_jobs(before.job_id, after.job_id)"], "text/html")
    assert "content_hash_match" in comparison and "30 items added" in comparison, comparison
    timeline = outputs(by_source["history  # newest first; changed runs are marked"], "text/html")
    assert "4 runs, 2 changed (●)" in timeline
    plot = next(c for c in cells if "import matplotlib" in c.source)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in outputs(plot, "stdout")
    else:
        assert outputs(plot, "image/png")


def readme_notebook() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    after = readme.split("Notebook example (run in a kernel by `tests/test_notebook.py`):", 1)[1]
    match = re.search(r"```python\n(.*?)```", after, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_notebook_code_runs_in_a_kernel(tmp_path: Path, kernel_env: None) -> None:
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    cells = [nbformat.v4.new_code_cell(block.strip()) for block in readme_notebook().split("\n\n") if block.strip()]
    ran = execute(nbformat.v4.new_notebook(cells=cells), tmp_path).cells
    shown = [outputs(c, "text/html") or outputs(c, "text/plain") for c in ran]
    assert any("A Light in the Attic" in s and "<table" in s for s in shown)
    assert any("3 runs" in s for s in shown)
    assert (tmp_path / "books.csv").read_text(encoding="utf-8").startswith("job_id,job_url,title,price\n")
