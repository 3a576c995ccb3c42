"""Results as DataFrames and files: flattening as json_normalize does, formats from file names, streaming export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import pandas
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import meterlocal
from meterlocal import JobManager, JobStateError, MissingDependencyError, ValidationError
from meterlocal.cli.commands import cli
from meterlocal.tabular import flatten, infer_format
from support import BOOKS, PAGES

BOOKS_URL = "http://books.toscrape.com/"
NESTED = {
    "container": "article.product_pod",
    "fields": {
        "title": {"css": "h3 > a", "attr": "title"},
        "offer": {"fields": {"price": "p.price_color", "stock": {"css": ".availability"}}},
        "links": {"css": "a", "attr": "href", "all": True},
    },
}

ITEMS: list[dict[str, Any]] = [
    {"a": 1, "b": {"c": {"d": 2}, "e": [1, {"x": 1}]}, "f": {}},
    {"a": None, "b": None, "g": "z"},
    {"b": {"c": {"d": 3, "h": True}}},
]


def test_flatten_makes_the_columns_and_values_json_normalize_makes() -> None:
    ours = pandas.DataFrame.from_records([flatten(i) for i in ITEMS])
    theirs = pandas.json_normalize(ITEMS)
    assert sorted(ours.columns) == sorted(theirs.columns)
    assert ours[sorted(ours.columns)].to_json() == theirs[sorted(theirs.columns)].to_json()


async def _jobs(tmp_path: Path) -> tuple[JobManager, list[meterlocal.Job]]:
    jm = JobManager(tmp_path / "t.db", fixtures=PAGES)
    s = await jm.strategy("Nested", NESTED, url=BOOKS_URL)
    return jm, [await jm.execute_job(s.strategy_id) for _ in range(2)]


async def test_to_dataframe_of_one_job_and_of_several(tmp_path: Path) -> None:
    jm, (first, second) = await _jobs(tmp_path)
    async with jm:
        frame = first.to_dataframe()
        assert frame.shape == (20, 4)
        assert list(frame.columns) == ["title", "offer.price", "offer.stock", "links"]
        assert frame["offer.price"][0] == "£51.77" and frame["title"][0] == "A Light in the Attic"
        assert isinstance(frame["links"][0], list)
        both = meterlocal.to_dataframe([first, second])
        assert both.shape == (40, 6) and list(both.columns[:2]) == ["job_id", "job_url"]
        assert set(both["job_id"]) == {first.job_id, second.job_id}
        failed = await jm.execute_job(first.strategy_id, "http://books.toscrape.com/missing")
        with pytest.raises(JobStateError, match="failed, it has no results: No saved page"):
            failed.to_dataframe()
        assert len(meterlocal.to_dataframe([first, failed])) == 20  # several: jobs without results are skipped


def test_a_missing_pandas_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what `import pandas` meets when it is not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'meterlocal\[pandas\]'") as caught:
        meterlocal.to_dataframe([])
    assert isinstance(caught.value, ImportError) and caught.value.extra == "pandas"


def test_formats_come_from_the_file_name() -> None:
    assert [infer_format(p) for p in ("a.json", "a.JSONL", "a.ndjson", "a.csv", "a.parquet")] == [
        "json",
        "jsonl",
        "jsonl",
        "csv",
        "parquet",
    ]
    assert infer_format("out.txt", "csv") == "csv"
    with pytest.raises(ValidationError, match=r"Cannot tell the export format of 'out.txt'.*\.csv"):
        infer_format("out.txt")
    with pytest.raises(ValidationError, match="Unknown export format 'xml'"):
        infer_format("out.csv", "xml")


async def test_export_writes_each_format_and_flattens_for_csv(tmp_path: Path) -> None:
    jm, (first, second) = await _jobs(tmp_path)
    async with jm:
        assert meterlocal.export(first, tmp_path / "one.json") == 20
        assert json.loads((tmp_path / "one.json").read_text(encoding="utf-8")) == first.results
        assert meterlocal.export([first, second], tmp_path / "two.jsonl") == 40
        lines = [json.loads(x) for x in (tmp_path / "two.jsonl").read_text(encoding="utf-8").splitlines()]
        assert lines[0] == {"job_id": first.job_id, "job_url": BOOKS_URL, **(first.results or [])[0]}
        meterlocal.export(first, tmp_path / "one.csv")
        rows = list(csv.DictReader(io.StringIO((tmp_path / "one.csv").read_text(encoding="utf-8"))))
        assert list(rows[0]) == ["title", "offer.price", "offer.stock", "links"]
        assert rows[0]["offer.price"] == "£51.77" and json.loads(rows[0]["links"])[0].startswith("http://")
        meterlocal.export([first, second], tmp_path / "two.parquet")
        table = pq.read_table(tmp_path / "two.parquet")
        assert table.num_rows == 40 and table.column_names[:3] == ["job_id", "job_url", "title"]
        assert table.column("offer.price")[0].as_py() == "£51.77"
        assert meterlocal.export([], tmp_path / "none.json") == 0
        assert json.loads((tmp_path / "none.json").read_text(encoding="utf-8")) == []


async def test_a_failed_export_leaves_no_file_and_keeps_an_old_one(tmp_path: Path) -> None:
    jm, (first, _) = await _jobs(tmp_path)
    async with jm:
        failed = await jm.execute_job(first.strategy_id, "http://books.toscrape.com/missing")
        out = tmp_path / "keep.csv"
        out.write_text("old\n", encoding="utf-8")
        with pytest.raises(JobStateError):
            meterlocal.export(failed, out)
        assert out.read_text(encoding="utf-8") == "old\n"
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".keep")) == []  # noqa: ASYNC240
        with pytest.raises(ValidationError, match="does not exist"):
            meterlocal.export(first, tmp_path / "nowhere" / "a.csv")


async def test_manager_export_reads_the_history_from_the_store_oldest_first(tmp_path: Path) -> None:
    async with JobManager(tmp_path / "h.db", fixtures=PAGES) as jm:
        s = await jm.strategy("Books", BOOKS, url=BOOKS_URL)
        jobs = [await jm.execute_job(s.strategy_id) for _ in range(3)]
        await jm.execute_job(s.strategy_id, "http://books.toscrape.com/missing")  # failed: not exported
        assert await jm.export(tmp_path / "h.csv", strategy_id=s.strategy_id) == 60
        rows = list(csv.DictReader(io.StringIO((tmp_path / "h.csv").read_text(encoding="utf-8"))))
        assert [rows[n]["job_id"] for n in (0, 20, 40)] == [j.job_id for j in jobs]
        assert await jm.export(tmp_path / "one.jsonl", job_ids=[jobs[1].job_id]) == 20
        assert "job_id" not in json.loads((tmp_path / "one.jsonl").read_text(encoding="utf-8").splitlines()[0])
        with pytest.raises(ValidationError, match="not both or neither"):
            await jm.export(tmp_path / "x.csv")


def test_cli_export_infers_the_format_from_the_output_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METERLOCAL_DB", raising=False)
    db = str(tmp_path / "c.db")

    async def make() -> list[str]:
        async with JobManager(db, fixtures=PAGES) as jm:
            s = await jm.strategy("Books", BOOKS, url=BOOKS_URL)
            return [(await jm.execute_job(s.strategy_id)).job_id for _ in range(2)]

    ids = asyncio.run(make())
    runner = CliRunner()
    done = runner.invoke(cli, ["export", ids[0][:8], "-o", str(tmp_path / "a.csv"), "--db", db])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "a.csv").read_text(encoding="utf-8").startswith("title,price,url\n")
    done = runner.invoke(cli, ["export", "--strategy", "Books", "-o", str(tmp_path / "a.parquet"), "--db", db])
    assert done.exit_code == 0, done.output
    assert pq.read_table(tmp_path / "a.parquet").num_rows == 40
    done = runner.invoke(cli, ["export", "--strategy", "Books", "--format", "parquet", "--db", db])
    assert done.exit_code == 2 and "Parquet is binary" in done.output
