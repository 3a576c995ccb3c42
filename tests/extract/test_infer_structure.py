"""Inference on structures beyond one element per item: sibling rows, nested repeats, defaults, exclusions."""

from __future__ import annotations

import pytest

import support
from meterlocal import ValidationError, extract, infer_strategy

accuracy_tool = support.accuracy_tool()
CASES = {name: (expected, body) for name, expected, _, body in accuracy_tool.cases()}


def test_an_item_spread_over_sibling_rows_is_one_item() -> None:
    # Hacker News: the title row, then the subtext row with score and user; the container is the first row.
    expected, body = CASES["hackernews_front_2025-08-11"]
    first = expected["items"]["0"]
    example = {f: first[f] for f in ("title", "score", "user")}
    proposal = infer_strategy(body, [example], expected["url"])
    assert proposal.item_count == 30
    assert proposal.strategy["fields"]["score"].startswith(":scope + tr")
    second = expected["items"]["1"]
    assert {f: proposal.items[1][f] for f in example} == {f: second[f] for f in example}


def test_items_nested_by_broken_markup_are_still_a_list() -> None:
    # Zoopla's unclosed <li>s nest every listing inside the one before it.
    expected, body = CASES["zoopla_london_1bed_rent_2014-10"]
    proposal = infer_strategy(body, accuracy_tool.examples(expected, 1), expected["url"])
    assert proposal.item_count == 100
    assert proposal.items[99]["title"] == expected["items"]["99"]["title"]


def test_two_examples_agree_on_where_a_number_sits() -> None:
    # IMDb rows hold many small numbers (ratings widgets); the rank is where both examples have theirs.
    expected, body = CASES["imdb_top250_2014"]
    proposal = infer_strategy(body, accuracy_tool.examples(expected, 2), expected["url"])
    assert [item["rank"] for item in proposal.items[:3]] == ["1", "2", "3"]
    assert proposal.items[249]["rank"] == "250"


PAGE = """<html><body>
<ul class="featured"><li class="item"><b class="name">Sponsored lamp</b><i class="price">$999</i></li></ul>
<ul class="main">
 <li class="item"><b class="name">Desk lamp</b><i class="price">$150,000 of $200,000</i><span class="votes">3</span>
 </li>
 <li class="item"><b class="name">Floor lamp</b><i class="price">$240,750 of $300,000</i></li>
 <li class="item"><b class="name">Wall lamp</b><i class="price">$1,000 of $2,000</i><span class="votes">7</span></li>
</ul></body></html>"""


def test_an_excluded_value_leaves_its_items_out() -> None:
    examples = [{"name": "Desk lamp"}]
    assert infer_strategy(PAGE, examples).item_count == 4  # every li.item, the sponsored one too
    proposal = infer_strategy(PAGE, examples, exclude=["Sponsored lamp"])
    assert [item["name"] for item in proposal.items] == ["Desk lamp", "Floor lamp", "Wall lamp"]
    assert any("excluded value 'Sponsored lamp'" in r.reason for r in proposal.rejected)


def test_an_exclusion_nothing_avoids_is_said_plainly() -> None:
    with pytest.raises(ValidationError, match="excluded value 'Floor lamp'"):
        infer_strategy(PAGE, [{"name": "Desk lamp"}], exclude=["Floor lamp"])
    with pytest.raises(ValidationError, match="exclude must be a list"):
        infer_strategy(PAGE, [{"name": "Desk lamp"}], exclude="Floor lamp")


def test_a_value_the_page_leaves_out_becomes_the_default() -> None:
    # The second example shows "0" votes where the page writes no count at all.
    examples = [{"name": "Desk lamp", "votes": "3"}, {"name": "Floor lamp", "votes": "0"}]
    proposal = infer_strategy(PAGE, examples, exclude=["Sponsored lamp"])
    assert proposal.strategy["fields"]["votes"]["default"] == "0"
    assert [item["votes"] for item in proposal.items] == ["3", "0", "7"]


def test_money_inside_a_text_keeps_its_sign_in_a_general_pattern() -> None:
    examples = [{"name": "Desk lamp", "raised": "$150,000"}, {"name": "Floor lamp", "raised": "$240,750"}]
    proposal = infer_strategy(PAGE, examples, exclude=["Sponsored lamp"])
    assert [item["raised"] for item in proposal.items] == ["$150,000", "$240,750", "$1,000"]
    assert extract(proposal.strategy, PAGE) == proposal.items
