"""Regenerate or verify fixtures/expected/*.json with an independent, parsel-based reference extractor.

    .venv/bin/python tools/fixtures_check.py             # verify every expected file, one line per page
    .venv/bin/python tools/fixtures_check.py --write     # rewrite expected files, keeping `checked_by_hand`
    .venv/bin/python tools/fixtures_check.py --variants  # also list values that depend on a debatable reading
    .venv/bin/python tools/fixtures_check.py --show books_toscrape_catalogue_index 0 1 -1

This file does not import meterlocal: it re-implements the strategy-document contract (DESIGN.md, "Strategy
documents") in plain parsel, so the engine's results can be checked against it and the benchmarks have an
"idiomatic parsel" reading of every strategy. The contract, as implemented here:

- The page's bytes are decoded as Scrapy does (w3lib: BOM, else <meta charset>, else UTF-8; bytes that do not
  decode become U+FFFD) and parsed with lxml's HTML parser (parsel.Selector).
- container: a CSS string or {"xpath": ...}; every match, in document order, is one item.
- A string field is a CSS selector relative to the container (parsel's `sel.css()`, descendant-or-self). Its
  value is the normalised text of the FIRST match: all descendant text nodes concatenated, leaving out text
  inside <script>/<style> descendants, runs of whitespace (Python's Unicode notion, so NBSP too) collapsed to
  one space, stripped. No match, or empty text -> None.
- {"css"|"xpath": sel, "attr": name}: the attribute of the first match that has it; {"attr": name} alone reads
  the container. Values are whitespace-normalised; link attributes (LINK_ATTRS) are stripped and made
  absolute against the page URL, honouring <base href>. An empty value -> None.
- "sel::text": the element's own text nodes (direct children), concatenated and normalised, of the first
  match whose own text is not empty. "sel::attr(x)" is {"css": "sel", "attr": "x"}.
- An XPath result that is an element gives its normalised text; a string result (an attribute, text(),
  string()) gives the normalised string, as it is: XPath attribute results are NOT made absolute.
- "html": true gives the first match's outer markup as lxml serialises it (parsel's `.get()`).
- "all": true gives every match's value with empty values dropped; [] when nothing matched.
- "regex" is searched in the value: group 1 if the pattern has a group, else the whole match; no match ->
  None (with "all", values that do not match are dropped).
- "default" replaces None. "fields" makes a nested record of the first match (with "all", one per match).
- API strategies: "items" and every field are JMESPath (jmespath.search); fields are relative to an item.

A few points could be read two ways; --variants re-runs each page under the other reading of each point and
names the expected values that would change, so fixtures can avoid those values or say why they rely on them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jmespath
import parsel
from w3lib.encoding import html_to_unicode

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "fixtures" / "pages"
STRATEGIES = ROOT / "fixtures" / "strategies"
EXPECTED = ROOT / "fixtures" / "expected"
CORPUS = ROOT.parent / "shared" / "corpus"

# Attributes whose value is a URL and is therefore made absolute.
LINK_ATTRS = frozenset(
    {"href", "src", "action", "formaction", "cite", "poster", "background", "longdesc", "usemap", "codebase"}
)
PSEUDO = re.compile(r"^(?P<sel>.*?)::(?:(?P<text>text)|attr\((?P<attr>[^)]+)\))\s*$", re.S)
ASCII_WS = re.compile(r"[ \t\n\r\f]+")

# Expected files whose name is not "<site>_<file stem>" of an HTML page: (strategy, page file).
API_EXPECTED = {
    "reddit_api_front_hot": ("reddit_api_front_hot", "reddit_api/front_hot_2016-03-01.json"),
    "github_api_search_repositories": (
        "github_api_search_repositories",
        "github_api/search_repositories_p1_2014-03-03.json",
    ),
    "github_api_search_repositories_p2": (
        "github_api_search_repositories",
        "github_api/search_repositories_p2_2014-03-03.json",
    ),
    "hn_algolia_search_hits": ("hn_algolia_search_hits", "hn_algolia/api_v1_fixtures_2014-06.json"),
}


@dataclass(frozen=True)
class Reading:
    """One reading of the contract's debatable points; the defaults are the ones the fixtures follow."""

    unicode_ws: bool = True  # NBSP and other Unicode spaces are whitespace
    text_joiner: str = ""  # how descendant text nodes are joined
    own_text_joiner: str = ""  # how an element's own text nodes are joined (::text)
    strict_first: bool = True  # text and html: the FIRST match only, not the first non-empty one
    normalise_attrs: bool = True  # attribute values are whitespace-normalised
    skip_script_style: bool = True  # text inside <script>/<style> descendants does not count
    empty_link_is_page: bool = False  # href="" -> the page URL (as in a browser) instead of None
    html_inner: bool = False  # "html" gives the inner markup instead of the outer


VARIANTS = {
    "ASCII whitespace only, as XPath normalize-space()": Reading(unicode_ws=False),
    "descendant text nodes joined with a space": Reading(text_joiner=" "),
    "own text nodes (::text) joined with a space": Reading(own_text_joiner=" "),
    "text of the first NON-EMPTY match": Reading(strict_first=False),
    "attribute values not normalised": Reading(normalise_attrs=False),
    "script/style text counted": Reading(skip_script_style=False),
    'href="" gives the page URL': Reading(empty_link_is_page=True),
    '"html" gives inner markup': Reading(html_inner=True),
}


def normalise(text: str, reading: Reading) -> str:
    if reading.unicode_ws:
        return " ".join(text.split())
    return ASCII_WS.sub(" ", text).strip(" \t\n\r\f")


class Extractor:
    """Apply CSS/XPath strategy documents to one parsed page."""

    def __init__(self, document: str, url: str, reading: Reading = Reading()) -> None:
        self.sel = parsel.Selector(text=document, base_url=url)
        self.reading = reading
        base = self.sel.css("base[href]::attr(href)").get()
        self.base_url = urljoin(url, base.strip()) if base else url

    def containers(self, strategy: dict[str, Any]) -> parsel.SelectorList[parsel.Selector]:
        return self.select(self.sel, strategy["container"])

    def run(self, strategy: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.record(c, strategy["fields"]) for c in self.containers(strategy)]

    @staticmethod
    def select(sel: parsel.Selector, spec: str | dict[str, str]) -> parsel.SelectorList[parsel.Selector]:
        return sel.css(spec) if isinstance(spec, str) else sel.xpath(spec["xpath"])

    def record(self, sel: parsel.Selector, fields: dict[str, Any]) -> dict[str, Any]:
        return {name: self.field(sel, spec) for name, spec in fields.items()}

    def field(self, sel: parsel.Selector, spec: str | dict[str, Any]) -> Any:
        if isinstance(spec, str):
            spec = {"css": spec}
        mode, attr = "text", spec.get("attr")
        if "css" in spec:
            css = spec["css"]
            pseudo = PSEUDO.match(css)
            if pseudo:  # Scrapy's ::text / ::attr(x), with the contract's meaning
                css = pseudo["sel"]
                mode, attr = ("own", None) if pseudo["text"] else ("attr", pseudo["attr"].strip())
            nodes = list(sel.css(css))
        elif "xpath" in spec:
            nodes = list(sel.xpath(spec["xpath"]))
        else:
            nodes = [sel]  # no selector: the container itself
        if attr:
            mode = "attr"
        if spec.get("html"):
            mode = "html"

        value: Any
        if "fields" in spec:
            records = [self.record(node, spec["fields"]) for node in nodes]
            value = records if spec.get("all") else (records[0] if records else None)
        elif spec.get("all"):
            values = (self.apply_regex(self.value(node, mode, attr), spec) for node in nodes)
            value = [v for v in values if v]
        else:
            value = self.apply_regex(self.first(nodes, mode, attr), spec)
        return spec.get("default") if value is None else value

    def first(self, nodes: list[parsel.Selector], mode: str, attr: str | None) -> str | None:
        if mode in ("text", "html") and self.reading.strict_first:
            return self.value(nodes[0], mode, attr) if nodes else None
        # attr: the first match that has it; ::text: the first match with own text
        for node in nodes:
            value = self.value(node, mode, attr)
            if value:
                return value
        return None

    def value(self, node: parsel.Selector, mode: str, attr: str | None) -> str | None:
        reading = self.reading
        if isinstance(node.root, str):  # an XPath string result
            if mode == "attr":
                raise ValueError("'attr' on an XPath expression that returns strings")
            text = normalise(str(node.root), reading)
        elif mode == "attr" and attr:
            raw = node.attrib.get(attr)
            if raw is None:
                return None
            if attr in LINK_ATTRS:
                raw = raw.strip(" \t\n\r\f")
                return urljoin(self.base_url, raw) if raw or reading.empty_link_is_page else None
            text = normalise(raw, reading) if reading.normalise_attrs else raw
        elif mode == "own":
            text = normalise(reading.own_text_joiner.join(node.xpath("text()").getall()), reading)
        elif mode == "html":
            text = node.get()
            if reading.html_inner:
                text = (node.root.text or "") + "".join(
                    child.get() + (child.root.tail or "") for child in node.xpath("*")
                )
        else:
            text = normalise(reading.text_joiner.join(self.texts(node)), reading)
        return text or None

    def texts(self, node: parsel.Selector) -> list[str]:
        """Descendant text nodes, leaving out those inside <script>/<style> descendants."""
        if not self.reading.skip_script_style:
            return node.xpath(".//text()").getall()
        # A text node is inside a script/style descendant when it has more script/style ancestors than
        # the element itself has (so selecting a <script> element still gives its code).
        depth = int(float(node.xpath("count(ancestor-or-self::script | ancestor-or-self::style)").get() or 0))
        return node.xpath(".//text()[count(ancestor::script | ancestor::style) = $d]", d=depth).getall()

    @staticmethod
    def apply_regex(value: str | None, spec: dict[str, Any]) -> str | None:
        if value is None or "regex" not in spec:
            return value
        match = re.search(spec["regex"], value)
        if not match:
            return None
        return match.group(1) if match.re.groups else match.group(0)


def extract_api(strategy: dict[str, Any], document: Any) -> list[dict[str, Any]]:
    items = jmespath.search(strategy["items"], document) or []
    return [{name: jmespath.search(path, item) for name, path in strategy["fields"].items()} for item in items]


def decode(page: Path) -> str:
    _, text = html_to_unicode("text/html", page.read_bytes())
    return text


def extract(strategy: dict[str, Any], page: Path, url: str, reading: Reading = Reading()) -> list[dict[str, Any]]:
    if strategy.get("type") == "api":
        return extract_api(strategy, json.loads(page.read_bytes()))
    return Extractor(decode(page), url, reading).run(strategy)


# --- fixtures bookkeeping ----------------------------------------------------------------------------


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def targets() -> dict[str, tuple[str, str, str]]:
    """Expected-file name -> (strategy name, manifest URL, page file)."""
    by_file = {entry["file"]: url for url, entry in load_json(PAGES / "manifest.json")["pages"].items()}
    out = {}
    for file, url in by_file.items():
        if file.endswith(".html"):
            site, stem = file.removesuffix(".html").split("/")
            out[f"{site}_{stem}"] = (f"{site}_{stem}", url, file)
    for name, (strategy, file) in API_EXPECTED.items():
        out[name] = (strategy, by_file[file], file)
    return dict(sorted(out.items()))


def sample(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The first two items and the last one, keyed by index."""
    return {str(i): items[i] for i in sorted({0, 1, len(items) - 1}) if 0 <= i < len(items)}


def check_pages() -> list[str]:
    """Every corpus file is in fixtures/pages byte for byte, and the manifest names each one once."""
    problems = []
    manifest = load_json(PAGES / "manifest.json")
    files = [entry["file"] for entry in manifest["pages"].values()]
    if manifest.get("version") != 1:
        problems.append("manifest version is not 1")
    if len(files) != len(set(files)):
        problems.append("manifest names a file twice")
    problems += [f"manifest names a missing file: {f}" for f in files if not (PAGES / f).is_file()]
    if CORPUS.is_dir():
        for src in sorted(CORPUS.glob("*/*")):
            rel = src.relative_to(CORPUS).as_posix()
            if not (PAGES / rel).is_file() or (PAGES / rel).read_bytes() != src.read_bytes():
                problems.append(f"not a byte-exact copy of the corpus: {rel}")
            if rel not in files:
                problems.append(f"not in the manifest: {rel}")
    return problems


def warnings(strategy: dict[str, Any], page: Path, url: str, items: list[dict[str, Any]]) -> list[str]:
    """Things about a page's result that a reader of the expected file should know."""
    if strategy.get("type") == "api":
        return []
    notes = []
    extractor = Extractor(decode(page), url)
    roots = [c.root for c in extractor.containers(strategy)]
    members = set(roots)
    nested = sum(1 for root in roots if any(a in members for a in root.iterancestors()))
    if nested:
        notes.append(f"{nested} of {len(roots)} containers are nested inside another container")
    if "\ufffd" in json.dumps(sample(items), ensure_ascii=False):
        notes.append("an expected value holds U+FFFD (bytes that did not decode)")
    return notes


def variant_report(strategy: dict[str, Any], page: Path, url: str, items: list[dict[str, Any]]) -> list[str]:
    if strategy.get("type") == "api":
        return []
    notes, base = [], sample(items)
    for label, reading in VARIANTS.items():
        other = sample(extract(strategy, page, url, reading))
        changed = [f"{i}.{k}" for i in base for k in base[i] if base[i][k] != other.get(i, {}).get(k)]
        if changed:
            notes.append(f"{label}: would change {', '.join(changed)}")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite expected files, keeping checked_by_hand")
    parser.add_argument("--variants", action="store_true", help="name values that depend on a debatable reading")
    parser.add_argument("--show", nargs="+", metavar="NAME [INDEX ...]", help="print the items of one page")
    args = parser.parse_args()

    if args.show:
        name, *indexes = args.show
        strategy_name, url, file = targets()[name]
        items = extract(load_json(STRATEGIES / f"{strategy_name}.json"), PAGES / file, url)
        print(f"{name}: {len(items)} items from {file}")
        for i in [int(x) for x in indexes] or range(len(items)):
            print(f"[{i}]", json.dumps(items[i], ensure_ascii=False, indent=1))
        return 0

    problems = check_pages()
    for problem in problems:
        print(f"PAGES    {problem}")
    failures = len(problems)
    for name, (strategy_name, url, file) in targets().items():
        strategy_path, expected_path = STRATEGIES / f"{strategy_name}.json", EXPECTED / f"{name}.json"
        if not strategy_path.is_file():
            print(f"MISSING  {name}: no strategy {strategy_path.name}")
            failures += 1
            continue
        strategy = load_json(strategy_path)
        items = extract(strategy, PAGES / file, url)
        old = load_json(expected_path) if expected_path.is_file() else {}
        fresh = {
            "url": url,
            "strategy": strategy_name,
            "item_count": len(items),
            "items": sample(items),
            "checked_by_hand": old.get("checked_by_hand", "TODO"),
        }
        if args.write:
            expected_path.write_text(json.dumps(fresh, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            status = "WROTE"
        elif old == fresh:
            status = "OK"
        else:
            status, failures = "DIFFERS", failures + 1
        if fresh["checked_by_hand"] == "TODO":
            status, failures = f"{status}, not checked by hand", failures + 1
        print(f"{status:8} {name}: {len(items)} items, {len(strategy['fields'])} fields ({url})")
        notes = warnings(strategy, PAGES / file, url, items)
        if args.variants:
            notes += variant_report(strategy, PAGES / file, url, items)
        for note in notes:
            print(f"         - {note}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
