"""The C template walker (`_native.TemplateWalker`) against the Python walk: the same fingerprints, always.

Page and item templates are stored with every job and compared across runs, so the two paths must agree to the
bit: on every saved page, on generated trees with comments, processing instructions, namespaces, crowded
siblings, nested items and the element limit, and when one walker goes from page to page.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree, html

from meterlocal.detect import template
from meterlocal.detect.template import container_template, page_template
from meterlocal.extract import compile_strategy, native

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

pytestmark = pytest.mark.skipif(not native.native_available(), reason=f"no C extension: {native.IMPORT_ERROR}")


def _both(root: Any, containers: list[Any]) -> tuple[Any, Any]:
    fast = (page_template(root), container_template(containers))
    with native.pure_python():
        slow = (page_template(root), container_template(containers))
    return fast, slow


def _saved_pages() -> list[tuple[str, dict[str, Any]]]:
    manifest = json.loads((FIXTURES / "pages" / "manifest.json").read_text(encoding="utf-8"))
    pages = []
    for url, entry in manifest["pages"].items():
        name = entry["file"].rsplit(".", 1)[0].replace("/", "_")
        strategy = FIXTURES / "strategies" / f"{name}.json"
        if entry["file"].endswith((".html", ".htm")) and strategy.is_file():
            pages.append((url, {"file": entry["file"], "strategy": json.loads(strategy.read_text(encoding="utf-8"))}))
    return pages


@pytest.mark.parametrize(("url", "page"), _saved_pages(), ids=lambda v: v if isinstance(v, str) else "")
def test_saved_pages_have_the_same_templates_on_both_paths(url: str, page: dict[str, Any]) -> None:
    body = (FIXTURES / "pages" / page["file"]).read_bytes()
    extraction = compile_strategy(page["strategy"]).run(body, url=url, content_type="text/html")
    fast, slow = _both(extraction.root, list(extraction.containers))
    assert fast == slow
    assert fast[0] is not None and fast[0]["shingles"] > 10


# Generated trees: tags, class attributes (some generated-looking, some repeated), comments and PIs among
# the children, crowded parents (more than SIBLING_SAMPLE children of one label).
_TAGS = st.sampled_from(["div", "span", "li", "a", "p", "ul"])
_CLASSES = st.sampled_from([None, "", "card", "card big", "big  card", "post-81723", "x\tcard", "é ü"])


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    element = etree.Element(draw(_TAGS))
    classes = draw(_CLASSES)
    if classes is not None:
        element.set("class", classes)
    if depth < 4:
        width = draw(st.integers(0, 9))
        for _ in range(width):
            kind = draw(st.integers(0, 9))
            if kind == 0:
                element.append(etree.Comment("note"))
            elif kind == 1:
                element.append(etree.ProcessingInstruction("php", "echo 1"))
            else:
                element.append(draw(_trees(depth + 1)))
    return element


@settings(max_examples=150, deadline=None)
@given(tree=_trees(), limit=st.integers(1, 60), pick=st.integers(0, 5))
def test_generated_trees_walk_alike(tree: etree._Element, limit: int, pick: int) -> None:
    elements = [e for e in tree.iter() if isinstance(e.tag, str)]
    containers = elements[pick :: pick + 2]  # nested inside each other sometimes: the walks stop at the next item
    start = (template._Labeller()(tree),)
    fast: set[int] = set()
    slow: set[int] = set()
    skip = frozenset(containers)
    visited_fast = template._walk(tree, start, template._Labeller(), fast, limit, skip, template._walker())
    visited_slow = template._walk(tree, start, template._Labeller(), slow, limit, skip)
    assert (visited_fast, fast) == (visited_slow, slow)
    assert _both(tree, containers)[0] == _both(tree, containers)[1]


def test_namespaced_elements_are_labelled_like_lxml_tags() -> None:
    root = etree.fromstring(
        b'<root xmlns:s="urn:s"><s:item class="a"><s:name/></s:item><item class="a"><name/></item></root>'
    )
    fast, slow = _both(root, list(root))
    assert fast == slow
    assert fast[0] is not None and fast[0]["shingles"] == 5  # {urn:s}item differs from item


def test_one_walker_carries_from_page_to_page_and_forgets_when_full() -> None:
    walker = template._walker()
    assert walker is not None
    one = html.fromstring("<div class='a'><p class='b'>x</p><p class='c'>y</p></div>")
    two = html.fromstring("<div class='a'><p class='c'>y</p><span class='d'>z</span></div>")
    for root in (one, two, one):
        fast, slow = _both(root, [])
        assert fast == slow
    labels, paths = walker.sizes
    assert labels >= 5 and paths >= 4
    # Pages with thousands of distinct labels each: past MAX_LABELS // 2 the walker forgets and starts again.
    sizes = []
    for page in range(20):
        names = [_letters(page * 2000 + i) for i in range(2000)]
        root = html.fromstring("<div>" + "".join(f"<i class='{name}'></i>" for name in names) + "</div>")
        fast, slow = _both(root, [])
        assert fast == slow
        sizes.append(walker.sizes[0])
    assert max(sizes) <= walker.MAX_LABELS
    assert any(later < earlier for earlier, later in itertools.pairwise(sizes))


def _letters(number: int) -> str:
    """A class name of letters only (digits would make it look generated, and labels would drop it)."""
    text = ""
    for _ in range(4):
        number, digit = divmod(number, 26)
        text += chr(97 + digit)
    return "k" + text
