"""The C extension and the pure-Python path agree: on every saved page, and on generated documents.

(conftest.py runs every extraction test on both paths; these tests compare the two directly.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from meterlocal.errors import MeterlocalError
from meterlocal.extract import compile_strategy, native
from meterlocal.extract.document import Page, parse_html
from meterlocal.extract.selectors import CssQuery, compile_css
from meterlocal.fetch import load_manifest
from reliability.test_properties import html_strategies, pages

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
MANIFEST = load_manifest(FIXTURES / "pages")
BENCH = ROOT / "benchmarks" / "strategies"


def _cases() -> list[tuple[str, dict[str, Any], bytes, str]]:
    cases = []
    for url, page in MANIFEST.items():
        if not page.file.endswith((".html", ".htm")):
            continue
        name = page.file.rsplit(".", 1)[0].replace("/", "_")
        for kind, folder in (("fixture", FIXTURES / "strategies"), ("bench", BENCH)):
            path = folder / f"{name}.json"
            if path.is_file():
                strategy = json.loads(path.read_text(encoding="utf-8"))
                cases.append((f"{kind}:{name}", strategy, (FIXTURES / "pages" / page.file).read_bytes(), url))
    return cases


CASES = _cases()


pytestmark = pytest.mark.compares_backends


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_native_and_python_extract_the_same_items(case: tuple[str, dict[str, Any], bytes, str]) -> None:
    _, strategy, body, url = case
    compiled = compile_strategy(strategy)
    assert compiled.fields.record.__globals__.get("WALK") is not None or not _walks(compiled)  # type: ignore[attr-defined]
    with native.pure_python():
        expected = compile_strategy(strategy).run(body, url=url).items
    assert compiled.run(body, url=url).items == expected


def _walks(compiled: Any) -> bool:
    return any(isinstance(f.query, CssQuery) and f.column is None for f in compiled.fields.fields)


def test_the_comparison_covers_every_saved_page_with_both_kinds_of_strategy() -> None:
    assert len(CASES) >= 50
    assert {c[0].split(":")[0] for c in CASES} == {"fixture", "bench"}


# Text with every kind of whitespace Python's split() knows, code elements, comments and entities.
WORDS = ["a", "Bé", "x\u00a0y", "\u3000z", "\x1cq", "\t", " ", "\n", "&amp;", "&nbsp;", "\u2028", "日本"]
TAGS = ["div", "p", "span", "script", "style", "template", "b"]


@st.composite
def fragments(draw: Any, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "element", "comment"] if depth < 4 else ["text", "comment"]))
        if kind == "text":
            parts.append("".join(draw(st.lists(st.sampled_from(WORDS), max_size=4))))
        elif kind == "comment":
            parts.append("<!-- c -->")
        else:
            tag = draw(st.sampled_from(TAGS))
            cls = draw(st.sampled_from(["", ' class="k"', ' class="k\u00a0m"', ' class="m\tk"', ' class="kk"']))
            parts.append(f"<{tag}{cls}>{draw(fragments(depth + 1))}</{tag}>")
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(html=fragments())
def test_native_text_and_class_matching_agree_with_python(html: str) -> None:
    root = parse_html(f"<html><body><div>{html}</div></body></html>")
    module = native.module()
    assert module is not None
    with native.pure_python():
        page = Page(root, None)
        python_select = compile_css(".k")
    native_select = compile_css(".k")
    assert native_select.native is not None and python_select.native is None
    for el in root.iter(etree.Element):
        assert module.text(el) == page.text(el), etree.tostring(el)
    assert native_select.native.select(root) == list(python_select.select(root))


def test_the_extension_is_built_and_loaded() -> None:
    # The project's install builds it (setup.py); a silent fallback to Python would leave half the suite untested.
    assert native.IMPORT_ERROR is None or native.IMPORT_ERROR == "METERLOCAL_PURE_PYTHON is set"


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **env},
        cwd=ROOT,
    )


BLOCK_EXTENSION = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "meterlocal.extract._native":
            raise ImportError("blocked by the test")
sys.meta_path.insert(0, Block())
"""
SCRAPE = """
from meterlocal.extract import extract, native, native_available
items = extract({"container": "li", "fields": {"t": "b", "u": "a::attr(href)"}},
                b"<ul><li><b> x </b><a href=/a>y</a></li></ul>", "http://example.com/p")
print(native_available(), native.IMPORT_ERROR, items)
"""


def test_without_the_extension_extraction_runs_in_python_and_says_why() -> None:
    done = _python(BLOCK_EXTENSION + SCRAPE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "False the C extension did not load: blocked by the test [{'t': 'x', 'u': 'http://example.com/a'}]"
    )
    forced = _python(SCRAPE, METERLOCAL_PURE_PYTHON="1")
    assert forced.stdout.strip().startswith("False METERLOCAL_PURE_PYTHON is set [{'t': 'x'"), forced.stderr


def test_a_failed_c_compile_does_not_fail_the_build(tmp_path: Path) -> None:
    # cythonize() drops Extension(optional=True); setup.py sets it again. Without it, no compiler = no install.
    done = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--build-lib", str(tmp_path / "lib"), "--build-temp", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "CC": "/bin/false"},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'building extension "meterlocal.extract._native" failed' in done.stdout + done.stderr
    assert not list((tmp_path / "lib").rglob("_native*.so"))


def _outcome(strategy: Any, page: bytes | str, url: str | None) -> Any:
    try:
        return repr(compile_strategy(strategy).run(page, url=url).items)  # repr: NaN equals NaN
    except MeterlocalError as exc:
        return f"{type(exc).__name__}: {exc}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(strategy=html_strategies(), page=pages(), url=st.sampled_from([None, "http://example.com/a/b"]))
def test_native_and_python_agree_on_any_strategy_and_page(strategy: Any, page: bytes | str, url: str | None) -> None:
    # The reliability suite's grammar of strategies and of broken, multi-encoding pages.
    record, _ = strategy
    with native.pure_python():
        expected = _outcome(record, page, url)
    assert _outcome(record, page, url) == expected


def test_a_record_of_more_fields_than_one_c_walk_takes_is_walked_in_python() -> None:
    module = native.module()
    assert module is not None
    count = module.MAX_FIELDS + 1
    strategy = {"container": "li", "fields": {f"f{i}": f"b.c{i % 7}" for i in range(count)}}
    page = "<ul>" + "".join(f"<li><b class=c{i}>v{i}</b></li>" for i in range(7)) + "</ul>"
    compiled = compile_strategy(strategy)
    assert "WALK" not in compiled.fields.source  # type: ignore[attr-defined]
    with native.pure_python():
        expected = compile_strategy(strategy).run(page).items
    items = compiled.run(page).items
    assert items == expected and items[3]["f3"] == "v3" and len(items[0]) == count


def test_a_long_walk_in_c_lets_other_threads_run() -> None:
    # Extraction runs in worker threads beside the event loop; the C walk releases the GIL now and then, as Python
    # code would. `*:has(b.never)` makes every element scan its subtree: a call of a few tenths of a second here.
    # What matters is how long the other thread waits for its turn, not how many turns it gets.
    chain = "<div>" * 100 + "<span>x</span>" + "</div>" * 100
    root = etree.fromstring(f"<html><body>{chain * 3600}</body></html>", etree.HTMLParser())
    query = compile_css("*:has(b.never)")
    assert query.native is not None
    done = threading.Event()
    thread = threading.Thread(target=lambda: (query.native.select(root), done.set()))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        started = last = time.perf_counter()
        thread.start()
        longest = 0.0
        while not done.is_set():
            time.sleep(0)  # let the worker have the GIL; note how long it takes to get it back
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        thread.join()
        walk = time.perf_counter() - started
    finally:
        sys.setswitchinterval(interval)
    assert walk > 0.1, f"the walk took {walk:.3f} s: too short to tell"
    assert longest < min(0.05, walk / 2), (
        f"the main thread waited {longest:.3f} s for the GIL during a {walk:.3f} s walk"
    )


@pytest.mark.parametrize("selector", ["li:nth-child(99999999999n+1)", "li:nth-last-child(-3000000000n+2)"])
def test_positions_beyond_c_integers_stay_on_the_python_path(selector: str) -> None:
    strategy = {"container": selector, "fields": {"t": "b"}}
    page = b"<ul><li><b>x</b></li><li><b>y</b></li></ul>"
    with native.pure_python():
        expected = compile_strategy(strategy).run(page).items
    assert compile_strategy(strategy).run(page).items == expected
    assert expected in ([{"t": "x"}], [{"t": "y"}])
