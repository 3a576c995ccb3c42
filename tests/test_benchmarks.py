"""The benchmarks run: every suite at tiny sizes writes its tables and figures. No timing is asserted.

`python -m benchmarks all --quick --out <tmp>` runs once for the module (about 20 s); the tests read what it wrote.
The extraction checks that can run in-process (benchmark strategies against the fixtures, the meterlocal/parsel
agreement guard) do so, on a few pages.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUITES = (
    "extract",
    "e2e",
    "memory",
    "store",
    "compare",
    "growth",
    "webhooks",
    "breakdown",
    "infer",
    "scaling",
    "crawl",
    "isolation",
)


@pytest.fixture(autouse=True)
def _importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "all", "--quick", "--quiet", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def _data(out: Path, suite: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / f"{suite}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("suite", SUITES)
def test_each_suite_writes_a_markdown_table_naming_the_machine(quick_run: tuple[Path, str], suite: str) -> None:
    out, stdout = quick_run
    text = (out / f"{suite}.md").read_text(encoding="utf-8")
    assert text.startswith("## ")
    assert "_Measured " in text and "cores" in text and "libxml2" in text
    assert "|---" in text
    data = _data(out, suite)
    assert data["suite"] == suite
    assert data["machine"]["cores"] >= 1
    assert data["targets"] and all(isinstance(v, bool) for v in data["targets"].values())
    assert text.splitlines()[0].removeprefix("## ") in stdout


def test_extract_measures_every_implementation_and_parsel_agrees(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "extract")
    pages = data["benchmark_strategies"]
    assert {p["page"] for p in pages} >= {"books_toscrape_catalogue_index", "listing_60"}
    for page in pages:
        assert set(page["ratio_to_floor"]) == {"meterlocal", "meterlocal-python", "parsel", "selectolax", "bs4"}
        assert all(r > 0 for r in page["ratio_to_floor"].values())
        assert page["median_thread_ms"]["floor"] > 0
        assert set(page["differences"]) == {"selectolax", "bs4"}  # parsel's items must be meterlocal's
        assert page["items"] > 0
    for page in data["fixture_strategies"]:
        assert set(page["ratio_to_floor"]) == {"meterlocal", "parsel"}
    assert {"meterlocal_vs_floor", "parsel_over_meterlocal", "meterlocal_over_selectolax"} <= set(data["summary_wall"])


def test_e2e_runs_both_sides_with_the_expected_items(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "e2e")
    mine, scrapy = data["meterlocal"], data["scrapy"]
    assert mine["completed"] == scrapy["completed"] == data["count"]
    assert mine["failed"] == 0
    assert mine["wrong_item_counts"] == scrapy["wrong_item_counts"] == 0
    assert scrapy["feed_items"] > 0
    for side in (mine, scrapy):
        assert side["pages_per_s"] > 0 and side["cpu_ms_per_page"] > 0
        assert 0 < side["p50_ms"] <= side["p95_ms"]


def test_memory_runs_two_batch_sizes_to_completion(quick_run: tuple[Path, str]) -> None:
    runs = _data(quick_run[0], "memory")["runs"]
    assert [r["count"] for r in runs] == [100, 1000]
    for r in runs:
        assert r["completed"] == r["count"]
        assert r["peak_rss_mib"] >= r["rss_before_mib"] > 0


def test_store_times_every_filter_and_shows_index_plans(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "store")
    assert set(data["timings"]) == set(data["plans"])
    assert len(data["timings"]) >= 8
    for name, plan in data["plans"].items():
        assert any("USING INDEX" in line for line in plan), name
        assert data["timings"][name]["rows"] == min(20, data["matching"][name]), name
    assert "EXPLAIN QUERY PLAN" in (quick_run[0] / "store.md").read_text(encoding="utf-8")


def test_growth_stores_an_unchanged_page_once(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "growth")
    assert data["unchanged"]["result_sets"] == 1 and data["unchanged"]["changed_runs"] == 0
    assert data["changing"]["changed_runs"] == data["changing"]["runs"]
    assert data["unchanged"]["bytes_per_run"] < data["changing"]["bytes_per_run"]


def test_webhooks_deliver_every_run_and_retry_a_failing_receiver(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "webhooks")
    assert data["healthy"]["attempts_mean"] == 1 and data["flaky"]["attempts_mean"] == 3
    assert data["flaky"]["attempts_recorded"] == 3 * data["flaky"]["deliveries"]


def test_compare_times_both_sizes(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "compare")
    small, large = data["best_ms"]["compare, signatures given"]
    assert small > 0 and large > 0
    assert len(data["notes"]) == 2


def test_benchmark_strategies_take_the_fixture_items_and_fields() -> None:
    from benchmarks.corpus import corpus_pages
    from benchmarks.peers import Meterlocal

    for page in corpus_pages():
        expected = json.loads((ROOT / "fixtures" / "expected" / f"{page.name}.json").read_text(encoding="utf-8"))
        assert page.fixture_strategy is not None
        assert list(page.strategy["fields"]) == list(page.fixture_strategy["fields"]), page.name
        items = Meterlocal().prepare(page, page.strategy)() or []
        assert len(items) == expected["item_count"], page.name


def test_every_peer_extracts_the_same_listing() -> None:
    from benchmarks.corpus import listing_page
    from benchmarks.peers import all_implementations

    page = listing_page(60)
    results = [impl.prepare(page, page.strategy)() for impl in all_implementations()[1:]]
    assert len(results[0] or []) == 60
    assert all(r == results[0] for r in results[1:])


def test_a_parsel_disagreement_stops_the_run() -> None:
    from benchmarks.corpus import listing_page
    from benchmarks.peers import LxmlFloor, Meterlocal, Parsel
    from benchmarks.suites.extract import BenchmarkMismatchError, measure

    class OffByOne(Parsel):
        def prepare(self, page: Any, strategy: dict[str, Any]) -> Any:
            run = super().prepare(page, strategy)
            return lambda: (run() or [])[1:]

    page = listing_page(60)
    with pytest.raises(BenchmarkMismatchError, match="listing_60"):
        measure(page, page.strategy, [LxmlFloor(), Meterlocal(), OffByOne()], rounds=1)


def test_quick_runs_refuse_the_committed_results_directory() -> None:
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit):
        main(["compare", "--quick"])


_TABLES = """<html><body>
<table>
 <thead>
  <tr><td>note</td><th>not the header row: it has a td</th></tr>
  <tr><th colspan="2">Name <script>var x = 1;</script></th><th> Directed
     by<sup>[1]</sup></th><th>Directed</th><th colspan="x">Year</th><th colspan="0">Code</th><th>STRASSE</th></tr>
  <tr><th>Name</th><th>Year</th></tr>
 </thead>
 <tbody>
  <tr class="r"><td>First</td><td>Last</td><td><a href="/d1">Dir One</a> and <a href="/d2">Two</a></td>
   <td>exact</td><td>1999</td><td>C1</td><td>n1</td></tr>
  <tr class="r"><td colspan="3">wide</td><td>exact2</td><td>2000</td><td>C2</td></tr>
  <tr class="r"><th>H</th><td>L2</td><td>D3<table><tr><th>Year</th></tr><tr class="r"><td>inner</td></tr></table></td>
   <td>e3</td><td>2001</td></tr>
  <tr class="r"><td>only</td></tr>
 </tbody>
</table>
<table><tr><td>x</td></tr><tr class="r"><td>no header row</td></tr></table>
<div class="r"><span>not in a table</span></div>
</body></html>"""


def test_every_peer_reads_table_columns_like_the_engine() -> None:
    from benchmarks.corpus import Page
    from benchmarks.peers import all_implementations

    strategy = {
        "container": ".r",
        "fields": {
            "name": {"column": "name"},
            "directed": {"column": "  Directed  by ", "regex": r"^(\w+)"},
            "links": {"column": "directed by", "css": "a::attr(href)", "all": True},
            "own": {"column": "Directed by", "xpath": "text()"},
            "exact": {"column": "Directed"},
            "year": {"column": "year", "html": True},
            "code": {"column": "Code", "default": "none"},
            "street": {"column": "straße", "all": True},
            "absent": {"column": "Nope", "default": "-"},
            "nested": {"column": "Directed by", "fields": {"first": "a"}},
        },
    }
    page = Page("tables", "http://example.com/x/", _TABLES.encode(), "text/html", strategy, charset="utf-8")
    results = [impl.prepare(page, strategy)() for impl in all_implementations()[1:]]
    items = results[0] or []
    assert [(i["name"], i["exact"], i["year"], i["code"]) for i in items] == [
        ("First", "exact", "<td>1999</td>", "C1"),
        ("wide", "exact2", "<td>2000</td>", "C2"),
        ("H", "e3", "<td>2001</td>", "none"),
        (None, None, "<td>inner</td>", "none"),  # the nested table's row: that table's own header row
        ("only", None, None, "none"),
        (None, None, None, "none"),  # a table without a header row
        (None, None, None, "none"),  # not in a table
    ]
    assert items[0]["links"] == ["http://example.com/d1", "http://example.com/d2"]
    assert items[0]["own"] == "and" and items[0]["street"] == ["n1"] and items[0]["absent"] == "-"
    assert items[0]["nested"] == {"first": "Dir One"} and items[1]["directed"] == "wide"
    assert all(r == items for r in results[1:])


def test_column_fields_take_the_fixture_strategy_values() -> None:
    from benchmarks.corpus import corpus_pages
    from benchmarks.peers import Meterlocal

    checked = 0
    for page in corpus_pages():
        columns = [
            name for name, spec in page.strategy["fields"].items() if isinstance(spec, dict) and "column" in spec
        ]
        if not columns:
            continue
        assert page.fixture_strategy is not None
        mine = Meterlocal().prepare(page, page.strategy)() or []
        fixture = Meterlocal().prepare(page, page.fixture_strategy)() or []
        assert [{k: i[k] for k in columns} for i in mine] == [{k: i[k] for k in columns} for i in fixture], page.name
        checked += 1
    assert checked >= 2


def test_breakdown_accounts_for_every_part_of_a_job(quick_run: tuple[Path, str]) -> None:
    data = _data(quick_run[0], "breakdown")
    parts = data["ms_per_page"]
    assert set(parts) == {"fetch", "parse", "extract", "hash", "signature", "store", "other"}
    assert data["failed"] == 0 and data["completed"] == data["jobs"]
    assert all(value >= 0 for value in parts.values()) and parts["parse"] > 0 and parts["store"] > 0
    # The parts measured alone fit inside the whole job (what is left is "other").
    assert sum(v for k, v in parts.items() if k != "other") <= data["whole_job_ms_per_page"] * 1.5


def test_profile_runs_the_whole_job_it_profiles(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.profile", "--jobs", "26"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "26 jobs completed, 0 failed" in done.stdout
