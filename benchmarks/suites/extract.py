"""Extraction against the lxml parse floor and the peers, on the saved real pages and on generated listings.

Per page, in one process: the lxml parse-only floor, `meterlocal.extract` (with its C extension, and on its
pure-Python path), idiomatic parsel, selectolax (Lexbor) and BeautifulSoup (lxml) do the same extraction (the page's
benchmark strategy), interleaved round by round; each timed run parses, extracts and frees the tree. meterlocal's two
paths and parsel must give identical items (the run stops if not); selectolax and BeautifulSoup are compared and
any difference is reported with its reason. A second table runs the fixture strategies (XPath-heavy ones included)
with meterlocal and parsel only.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

from benchmarks.corpus import Page, corpus_pages, listing_page
from benchmarks.options import Options, progress
from benchmarks.peers import Implementation, LxmlFloor, Meterlocal, Parsel, all_implementations
from benchmarks.report import SuiteResult, fmt, table
from benchmarks.timing import Timing, geomean, interleaved

__all__ = ["BenchmarkMismatchError", "run"]

LISTINGS = (60, 600, 6_000)
QUICK_LISTINGS = (60,)
QUICK_PAGES = ("books_toscrape_catalogue_index", "hackernews_front_2025-09-20_p1", "zoopla_london_1bed_rent_2015-07")
TARGET_FLOOR = 1.5  # geometric mean of meterlocal / floor over the real pages, at most
TARGET_PARSEL = 3.0  # meterlocal at least this many times faster than parsel (geometric mean)
TARGET_PAGE = 3.0  # no page above this many times its own floor

# Why a peer's items differ from meterlocal's on a page, when they do (checked by reading the differences).
KNOWN_DIFFERENCES = {
    ("yelp_gary_danko_reviews", "selectolax"): (
        "`text_html` (an `html` field): Lexbor serialises by the HTML5 algorithm and writes U+00A0 as `&nbsp;`; "
        "libxml2 writes the character. The text is the same."
    ),
    ("yelp_gary_danko_reviews", "bs4"): (
        "`text_html` (an `html` field): BeautifulSoup writes void elements as `<br/>`, libxml2 as `<br>`. "
        "The text is the same."
    ),
}
PEERS = ("selectolax", "bs4")


class BenchmarkMismatchError(AssertionError):
    """meterlocal and parsel gave different items for one page: the benchmark would compare unequal work."""


@dataclass(frozen=True, slots=True)
class PageMeasure:
    page: str
    kilobytes: float
    generated: bool
    items: int
    timings: dict[str, Timing]
    differences: dict[str, str | None]  # peer -> None when its items are meterlocal's

    def ratio(self, name: str, *, cpu: bool = False) -> float:
        floor = self.timings["floor"]
        mine = self.timings[name]
        return (mine.cpu / floor.cpu) if cpu else (mine.wall / floor.wall)

    def to_json(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "kilobytes": round(self.kilobytes, 1),
            "generated": self.generated,
            "items": self.items,
            "median_ms": {name: round(t.wall * 1000, 3) for name, t in self.timings.items()},
            "median_thread_ms": {name: round(t.cpu * 1000, 3) for name, t in self.timings.items()},
            "ratio_to_floor": {name: round(self.ratio(name), 3) for name in self.timings if name != "floor"},
            "thread_ratio_to_floor": {
                name: round(self.ratio(name, cpu=True), 3) for name in self.timings if name != "floor"
            },
            "rounds": next(iter(self.timings.values())).rounds,
            "differences": self.differences,
        }


def _difference(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> str | None:
    """None when equal, else a short account: how many items differ, in which fields."""
    if expected == got:
        return None
    if len(expected) != len(got):
        return f"{len(got)} items instead of {len(expected)}"
    differing = [(a, b) for a, b in zip(expected, got, strict=True) if a != b]
    fields = sorted({key for a, b in differing for key in a.keys() | b.keys() if a.get(key) != b.get(key)})
    return f"{len(differing)} of {len(expected)} items differ in {', '.join(fields)}"


def _first_difference(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    for index, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            keys = [key for key in a.keys() | b.keys() if a.get(key) != b.get(key)]
            return f"item {index}: " + "; ".join(f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in sorted(keys))
    return f"{len(expected)} items != {len(got)} items"


def measure(page: Page, strategy: dict[str, Any], implementations: list[Implementation], rounds: int) -> PageMeasure:
    """Check the implementations agree on `page`, then time them interleaved."""
    runs = {impl.name: impl.prepare(page, strategy) for impl in implementations}
    results = {name: run() for name, run in runs.items() if name != "floor"}  # also the warm-up
    mine = results["meterlocal"]
    assert mine is not None
    if "meterlocal-python" in results and results["meterlocal-python"] != mine:
        raise BenchmarkMismatchError(
            f"{page.name}: meterlocal's C extension and its pure-Python path extracted different items. "
            f"{_first_difference(mine, results['meterlocal-python'] or [])}"
        )
    if "parsel" in results and results["parsel"] != mine:
        raise BenchmarkMismatchError(
            f"{page.name}: meterlocal and parsel extracted different items, so timing them would compare unequal "
            f"work. {_first_difference(mine, results['parsel'] or [])}"
        )
    differences = {peer: _difference(mine, results[peer] or []) for peer in PEERS if peer in results}
    del results
    gc.collect()
    gc.freeze()  # what exists now lives through the run: keep it out of every collection we time
    try:
        timings = interleaved(runs, rounds)
    finally:
        gc.unfreeze()
    return PageMeasure(page.name, page.kilobytes, page.name.startswith("listing_"), len(mine), timings, differences)


def _pages(options: Options) -> list[Page]:
    real = [p for p in corpus_pages() if not options.quick or p.name in QUICK_PAGES]
    return real + [listing_page(n) for n in (QUICK_LISTINGS if options.quick else LISTINGS)]


def run(options: Options) -> SuiteResult:
    rounds = options.rounds(full=9, quick=2)
    implementations = all_implementations()
    bench: list[PageMeasure] = []
    for page in _pages(options):
        m = measure(page, page.strategy, implementations, rounds)
        bench.append(m)
        progress(
            options,
            f"extract {page.name}: floor {m.timings['floor'].wall * 1000:.2f} ms, "
            + ", ".join(f"{name} {m.ratio(name):.2f}x" for name in m.timings if name != "floor"),
        )
    fixture: list[PageMeasure] = []
    core = [LxmlFloor(), Meterlocal(), Parsel()]
    for page in _pages(options):
        if page.fixture_strategy is None:
            continue
        m = measure(page, page.fixture_strategy, list(core), rounds)
        fixture.append(m)
        progress(options, f"extract (fixture strategy) {page.name}: meterlocal {m.ratio('meterlocal'):.2f}x")
    return _result(bench, fixture, rounds)


# Reporting ----------------------------------------------------------------------------------------------------
_NAMES = {
    "meterlocal": "meterlocal",
    "meterlocal-python": "meterlocal, pure Python",
    "parsel": "parsel",
    "selectolax": "selectolax",
    "bs4": "BeautifulSoup",
}


def _x(value: float, *, flag: float | None = None) -> str:
    text = f"{value:.2f}×"
    return f"**{text}** ⚠" if flag is not None and value > flag else text


def _summary(rows: list[PageMeasure], *, cpu: bool) -> dict[str, float]:
    real = [m for m in rows if not m.generated]
    out = {f"{name}_vs_floor": geomean(m.ratio(name, cpu=cpu) for m in real) for name in rows[0].timings}
    names = rows[0].timings
    if "parsel" in names:
        out["parsel_over_meterlocal"] = geomean(
            m.ratio("parsel", cpu=cpu) / m.ratio("meterlocal", cpu=cpu) for m in real
        )
    if "selectolax" in names:
        out["meterlocal_over_selectolax"] = geomean(
            m.ratio("meterlocal", cpu=cpu) / m.ratio("selectolax", cpu=cpu) for m in real
        )
    if "bs4" in names:
        out["bs4_over_meterlocal"] = geomean(m.ratio("bs4", cpu=cpu) / m.ratio("meterlocal", cpu=cpu) for m in real)
    out["worst_page_ratio"] = max(m.ratio("meterlocal", cpu=cpu) for m in real)
    return out


def _bench_table(rows: list[PageMeasure], *, cpu: bool) -> str:
    peers = [name for name in rows[0].timings if name != "floor"]
    headers = ["page", "KB", "items", "floor (ms)" if not cpu else "floor CPU (ms)", *(_NAMES[p] for p in peers)]
    if not cpu:
        headers.append("selectolax / bs4 items")
    body = []
    for group in (False, True):
        for m in (r for r in rows if r.generated == group):
            floor = m.timings["floor"]
            cells = [
                f"`{m.page}`",
                fmt(m.kilobytes, 0),
                m.items,
                fmt((floor.cpu if cpu else floor.wall) * 1000),
                *(_x(m.ratio(p, cpu=cpu), flag=TARGET_PAGE if p == "meterlocal" else None) for p in peers),
            ]
            if not cpu:
                cells.append(" / ".join("same" if m.differences.get(p) is None else "differ¹" for p in PEERS))
            body.append(cells)
        if not group:
            real = [r for r in rows if not r.generated]
            row = [f"**geometric mean, {len(real)} real pages**", "", "", ""]
            row += [f"**{geomean(m.ratio(p, cpu=cpu) for m in real):.2f}×**" for p in peers]
            if not cpu:
                row.append("")
            body.append(row)
    return table(headers, body)


def _fixture_table(rows: list[PageMeasure]) -> str:
    body = [
        [
            f"`{m.page}`",
            fmt(m.timings["floor"].wall * 1000),
            _x(m.ratio("meterlocal"), flag=TARGET_PAGE),
            _x(m.ratio("parsel")),
            _x(m.ratio("parsel") / m.ratio("meterlocal")),
            _x(m.ratio("meterlocal", cpu=True)),
            _x(m.ratio("parsel", cpu=True)),
        ]
        for m in rows
    ]
    body.append(
        [
            f"**geometric mean, {len(rows)} pages**",
            "",
            f"**{geomean(m.ratio('meterlocal') for m in rows):.2f}×**",
            f"**{geomean(m.ratio('parsel') for m in rows):.2f}×**",
            f"**{geomean(m.ratio('parsel') / m.ratio('meterlocal') for m in rows):.2f}×**",
            f"**{geomean(m.ratio('meterlocal', cpu=True) for m in rows):.2f}×**",
            f"**{geomean(m.ratio('parsel', cpu=True) for m in rows):.2f}×**",
        ]
    )
    headers = [
        "page",
        "floor (ms)",
        "meterlocal",
        "parsel",
        "meterlocal faster by",
        "meterlocal (CPU)",
        "parsel (CPU)",
    ]
    return table(headers, body)


def _result(bench: list[PageMeasure], fixture: list[PageMeasure], rounds: int) -> SuiteResult:
    wall, cpu = _summary(bench, cpu=False), _summary(bench, cpu=True)
    real = [m for m in bench if not m.generated]
    over = [m for m in real if m.ratio("meterlocal") > TARGET_PAGE]
    over_cpu = [m for m in real if m.ratio("meterlocal", cpu=True) > TARGET_PAGE]
    passed = {
        f"meterlocal <= {TARGET_FLOOR}x floor (geomean)": wall["meterlocal_vs_floor"] <= TARGET_FLOOR,
        f"meterlocal >= {TARGET_PARSEL}x faster than parsel": wall["parsel_over_meterlocal"] >= TARGET_PARSEL,
        f"no page above {TARGET_PAGE}x its floor": not over,
    }
    verdict = {True: "met", False: "**missed**"}
    sx = wall["meterlocal_over_selectolax"]
    lines = [
        "Each figure is the median time of one run (parse + extract + free the tree) divided by the median time of "
        f"the lxml parse floor on the same page; {rounds} interleaved rounds. Lower is better; 1.00× is the floor.",
        "",
        "### Benchmark strategies (CSS-first, the same extraction in every library)",
        "",
        _bench_table(bench, cpu=False),
        "",
        "| target (real pages) | wall clock | thread CPU time | verdict (wall) |",
        "|---|---:|---:|---|",
        f"| meterlocal vs the floor (geometric mean), at most {TARGET_FLOOR}× | {wall['meterlocal_vs_floor']:.2f}× "
        f"| {cpu['meterlocal_vs_floor']:.2f}× | {verdict[wall['meterlocal_vs_floor'] <= TARGET_FLOOR]} |",
        f"| meterlocal faster than idiomatic parsel, at least {TARGET_PARSEL}× | "
        f"{wall['parsel_over_meterlocal']:.2f}× | {cpu['parsel_over_meterlocal']:.2f}× "
        f"| {verdict[wall['parsel_over_meterlocal'] >= TARGET_PARSEL]} |",
        f"| worst page vs its floor, at most {TARGET_PAGE}× | {wall['worst_page_ratio']:.2f}× "
        f"| {cpu['worst_page_ratio']:.2f}× | {verdict[not over]} |",
        f"| meterlocal vs selectolax (time ratio; below 1 means meterlocal is faster) | {sx:.2f}× "
        f"| {cpu['meterlocal_over_selectolax']:.2f}× | (reported) |",
        f"| BeautifulSoup vs meterlocal (time ratio) | {wall['bs4_over_meterlocal']:.2f}× "
        f"| {cpu['bs4_over_meterlocal']:.2f}× | (reported) |",
        "",
        "Pages above 3× their floor: "
        + (", ".join(f"`{m.page}` ({m.ratio('meterlocal'):.2f}×)" for m in over) or "none")
        + " (by thread CPU time: "
        + (", ".join(f"`{m.page}` ({m.ratio('meterlocal', cpu=True):.2f}×)" for m in over_cpu) or "none")
        + ").",
        "",
        "¹ Items differing from meterlocal's (parsel's must be identical, or the run stops):",
        "",
    ]
    differing = [(m.page, peer, text) for m in bench for peer, text in m.differences.items() if text is not None]
    lines += [
        f"- `{page}`, {_NAMES[peer]}: {text}. {KNOWN_DIFFERENCES.get((page, peer), '')}".rstrip()
        for page, peer, text in differing
    ] or ["- none: every peer extracted exactly meterlocal's items on every page."]
    lines += [
        "",
        "#### The same, by thread CPU time (what the code cost, whatever else the machine was doing)",
        "",
        _bench_table(bench, cpu=True),
        "",
        "### Fixture strategies (the XPath-heavy ones included), meterlocal and parsel",
        "",
        _fixture_table(fixture),
        "",
        "### How it is measured",
        "",
        "- **floor**: the engine's charset handling (BOM, HTTP charset, `<meta>`, UTF-8, else windows-1252) and "
        "`lxml.etree.fromstring(utf8, HTMLParser(encoding='utf-8'))`, then the tree is dropped.",
        "- **meterlocal**: `compile_strategy(strategy)` once, then `.run(body, url=..., charset=..., "
        "content_type=...)`; the Extraction (tree, containers) is dropped inside the timed run. "
        "**meterlocal, pure Python** is the same without the C extension (`meterlocal.extract.native.pure_python()`"
        ", what an install without a C compiler runs).",
        "- **parsel**: what a Scrapy callback does: decode like `TextResponse` (w3lib `html_to_unicode`), "
        "`Selector(text=...)`, `.css()`/`.xpath()` with `::attr()`, `.get()`/`.getall()`, Python whitespace "
        "normalisation; text leaves out `<script>`/`<style>` with an XPath predicate.",
        "- **selectolax**: `LexborHTMLParser(utf8)`, `strip_tags(['script', 'style'])` when a field reads text, "
        "`css()`/`css_first()`, `.text()`, `.attributes`; XPath fields are hand-written walks "
        "(`.next`, `.parent`, own text nodes).",
        "- **BeautifulSoup**: `BeautifulSoup(utf8, 'lxml')`, `select()`/`select_one()`, `get_text()`; XPath "
        "fields are hand-written (`find_next_sibling`, `find_parent`). A soup is full of reference cycles, so "
        "its timed run ends with `gc.collect()` (otherwise the cost of freeing it lands on whatever runs next).",
        "- **`column` fields** (a table cell found by its header): each peer finds the row and its table "
        "(parsel with `ancestor-or-self::tr[1]` and `ancestor::table[1]`, selectolax by `.parent`, BeautifulSoup "
        "by `find_parent()`), reads the table's header row once per page into a dict of header positions, then "
        "picks the row's cell, counting `colspan`; the field's selector runs inside that cell.",
        "- Every run frees its tree before the clock stops; the cycle collector runs between runs, outside the "
        "timing, and objects alive before the rounds are frozen out of it (`gc.freeze()`).",
        "- Generated listings (`listing_60`, `listing_600`, `listing_6000`) are product cards from "
        "`benchmarks/listing.py`; they are not in the geometric means.",
    ]
    data = {
        "rounds": rounds,
        "summary_wall": wall,
        "summary_thread": cpu,
        "pages_above_target": [m.page for m in over],
        "benchmark_strategies": [m.to_json() for m in bench],
        "fixture_strategies": [m.to_json() for m in fixture],
    }
    return SuiteResult(
        "extract", "Extraction: meterlocal vs the lxml parse floor and peers", "\n".join(lines), data, passed
    )
