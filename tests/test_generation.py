"""The manager's strategy writing: generate, refine on the kept page, the generator hook, repair after a redesign.

Pages are served by a real local aiohttp server; the store is a real SQLite file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from meterlocal import (
    GeneratorMissingError,
    JobManager,
    Settings,
    UnavailableError,
    ValidationError,
)
from meterlocal.generation import GenerationRequest
from support import LAMPS, PAGES, Site

BOOKS = (PAGES / "books_toscrape" / "catalogue_index.html").read_bytes()
LIST = LAMPS
REDESIGNED = """<html><body><table class="catalogue">
 <tr class="row"><td class="n">Desk lamp</td><td class="p">$10</td></tr>
 <tr class="row"><td class="n">Floor lamp</td><td class="p">$20</td></tr>
 <tr class="row"><td class="n">Wall lamp</td><td class="p">$30</td></tr>
</table></body></html>"""


async def test_refine_keeps_the_id_and_reuses_the_kept_page(tmp_path: Path, site: Site) -> None:
    url = site.page("/lamps.html", LIST)
    async with JobManager(tmp_path / "s.db") as jm:
        generated = await jm.generate_strategy(url, examples=[{"name": "Desk lamp"}], name="Lamps")
        assert [i["name"] for i in generated.preview_data] == ["Sponsored lamp", "Desk lamp", "Floor lamp"]
        site.page("/lamps.html", "gone", status=404)  # refine must not fetch again
        refined = await jm.refine_strategy(generated.strategy_id, {"exclude": ["Sponsored lamp"]})
        assert refined.strategy_id == generated.strategy_id
        assert [i["name"] for i in refined.preview_data] == ["Desk lamp", "Floor lamp"]
        assert refined.exclude == ["Sponsored lamp"] and refined.examples == [{"name": "Desk lamp"}]
        saved = await jm.get_strategy(generated.strategy_id)
        assert saved.strategy == refined.strategy != generated.strategy
        # More examples, as meter-sdk sends them (JSON text); the exclusion is kept.
        more = await jm.refine_strategy(generated.strategy_id, json.dumps([{"name": "Floor lamp", "price": "$20"}]))
        assert more.preview_data == [{"name": "Desk lamp", "price": "$10"}, {"name": "Floor lamp", "price": "$20"}]
    assert site.hits["/lamps.html"] == 1
    async with JobManager(tmp_path / "s.db") as jm:  # the page and examples outlive the process
        again = await jm.refine_strategy(generated.strategy_id, {"examples": [{"name": "Desk lamp", "price": "$10"}]})
        # An example of an item already given adds to it rather than repeating the item.
        assert again.examples == [{"name": "Desk lamp", "price": "$10"}, {"name": "Floor lamp", "price": "$20"}]
        assert len(again.preview_data) == 2


async def test_bad_feedback_is_refused_in_words(tmp_path: Path, site: Site) -> None:
    url = site.page("/lamps.html", LIST)
    async with JobManager(tmp_path / "s.db") as jm:
        generated = await jm.generate_strategy(url, examples=[{"name": "Desk lamp"}])
        for feedback, message in [
            ("", "feedback is empty"),
            (42, "feedback must be examples"),
            ({"exclude": []}, "gives no examples and nothing to exclude"),
            ({"exclude": {"a": 1}}, "'exclude' must be a list"),
            ({"examples": [{"name": "Not on the page"}]}, "'Not on the page' of field 'name' is not on the page"),
        ]:
            with pytest.raises(ValidationError, match=message):
                await jm.refine_strategy(generated.strategy_id, feedback)
        with pytest.raises(GeneratorMissingError, match='send "examples"'):
            await jm.refine_strategy(generated.strategy_id, "leave out the sponsored lamp")
        hand = await jm.create_strategy("Hand", {"container": "li", "fields": {"name": "b"}})
        with pytest.raises(ValidationError, match="has no url"):
            await jm.refine_strategy(hand.strategy_id, [{"name": "Desk lamp"}])
        assert (await jm.get_strategy(generated.strategy_id)).strategy == generated.strategy  # nothing lost


async def test_a_description_goes_to_the_plugged_in_generator(tmp_path: Path, site: Site) -> None:
    url = site.page("/lamps.html", LIST)
    asked: list[GenerationRequest] = []

    async def generator(request: GenerationRequest) -> dict[str, Any]:
        asked.append(request)
        container = "ul.main > li" if request.feedback else "li.item"
        return {"container": container, "fields": {"name": "b.name", "price": "i.price"}}

    async with JobManager(tmp_path / "s.db", Settings(strategy_generator=generator)) as jm:
        generated = await jm.generate_strategy(url, description="lamps and their prices", name="Lamps")
        assert generated.item_count == 3 and generated.fill_rate == {"name": 1.0, "price": 1.0}
        assert asked[0].description == "lamps and their prices" and asked[0].page == LIST.encode()
        refined = await jm.refine_strategy(generated.strategy_id, "not the sponsored one")
        assert refined.strategy_id == generated.strategy_id and refined.item_count == 2
        assert asked[1].feedback == "not the sponsored one" and asked[1].strategy == generated.strategy
    async with JobManager(tmp_path / "t.db") as jm:
        with pytest.raises(GeneratorMissingError, match="strategy_generator"):
            await jm.generate_strategy(url, description="lamps")
    assert site.hits["/lamps.html"] == 1  # refused before fetching


@pytest.mark.parametrize(
    ("generator", "error", "message"),
    [
        (lambda request: ["not", "a", "document"], ValidationError, "must return a strategy document"),
        (lambda request: {"container": "li[", "fields": {"a": "b"}}, ValidationError, "not valid CSS"),
        (lambda request: 1 / 0, UnavailableError, "strategy generator failed: ZeroDivisionError"),
    ],
)
async def test_a_failing_generator_is_reported_not_saved(
    tmp_path: Path, site: Site, generator: Any, error: type[Exception], message: str
) -> None:
    url = site.page("/lamps.html", LIST)
    async with JobManager(tmp_path / "s.db", Settings(strategy_generator=generator)) as jm:
        with pytest.raises(error, match=message):
            await jm.generate_strategy(url, description="lamps")
        assert await jm.list_strategies() == []


async def test_suggest_repair_proposes_and_applies_nothing(tmp_path: Path, site: Site) -> None:
    url = site.page("/shop.html", LIST)
    async with JobManager(tmp_path / "s.db") as jm:
        strategy = await jm.create_strategy(
            "Lamps", {"container": "ul.main > li", "fields": {"name": "b.name", "price": "i.price"}}, url=url
        )
        good = await jm.execute_job(strategy.strategy_id, url)
        assert good.item_count == 2
        site.page("/shop.html", REDESIGNED)
        broken = await jm.execute_job(strategy.strategy_id, url)
        assert broken.item_count == 0
        suggestion = await jm.suggest_repair(broken.job_id)
        assert suggestion.good_job_id == good.job_id and suggestion.strategy_id == strategy.strategy_id
        assert suggestion.repair.recovered == {"name": 1.0, "price": 1.0}
        assert suggestion.repair.proposal.items[:2] == good.results
        assert "Item count changed: 2 -> 3" in suggestion.comparison.changes
        assert (await jm.get_strategy(strategy.strategy_id)).strategy == strategy.strategy  # not applied
        await jm.update_strategy(strategy.strategy_id, strategy=suggestion.strategy)
        fixed = await jm.execute_job(strategy.strategy_id, url)
        assert fixed.results is not None and fixed.results[2] == {"name": "Wall lamp", "price": "$30"}
        # A run with no good run before it has nothing to repair from.
        other = await jm.create_strategy("Other", {"container": "li", "fields": {"name": "b"}})
        first = await jm.execute_job(other.strategy_id, url)
        with pytest.raises(ValidationError, match="no earlier completed run"):
            await jm.suggest_repair(first.job_id)
