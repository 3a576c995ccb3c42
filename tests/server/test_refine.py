"""Generate with examples over REST, then refine with the real meter-sdk 0.8.0 `refine_strategy`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from meter_sdk import MeterClient, MeterError

from support import LAMPS

LIST = LAMPS


@pytest.fixture
def client(live: Any) -> Iterator[MeterClient]:
    with MeterClient(live.api_key, base_url=live.base_url) as meter:
        yield meter


def _generate(live: Any) -> dict[str, Any]:
    url = live.serve("/refine/lamps.html", LIST)
    with live.http() as http:
        response = http.post(
            "/api/strategies/generate", json={"url": url, "name": "Lamps", "examples": [{"name": "Desk lamp"}]}
        )
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_the_sdks_refine_takes_feedback_as_json_text_and_keeps_the_id(client: MeterClient, live: Any) -> None:
    generated = _generate(live)
    assert generated["item_count"] == 3
    refined = client.refine_strategy(generated["strategy_id"], json.dumps({"exclude": ["Sponsored lamp"]}))
    assert refined["strategy_id"] == refined["id"] == generated["strategy_id"]
    assert [item["name"] for item in refined["preview_data"]] == ["Desk lamp", "Floor lamp"]
    assert refined["attempts"] == 1 and refined["scraper_type"] == "css"
    assert client.get_strategy(generated["strategy_id"])["strategy"] == refined["strategy"]
    # Examples as a list, in an object body (REST callers can send JSON, not only text).
    with live.http() as http:
        response = http.post(
            f"/api/strategies/{generated['strategy_id']}/refine",
            json={"feedback": [{"name": "Floor lamp", "price": "$20"}]},
        )
    assert response.status_code == 200, response.text
    assert response.json()["preview_data"][0] == {"name": "Desk lamp", "price": "$10"}


def test_refine_errors_reach_the_sdk_as_sentences(client: MeterClient, live: Any) -> None:
    generated = _generate(live)
    with pytest.raises(MeterError, match=r"^API error: Generating a strategy from a description needs"):
        client.refine_strategy(generated["strategy_id"], "leave out the sponsored lamp")
    with pytest.raises(MeterError, match=r"^API error: Strategy not found: nope$"):
        client.refine_strategy("nope", json.dumps([{"name": "Desk lamp"}]))
    with pytest.raises(MeterError, match=r"^API error: example value 'Lamp X' of field 'name' is not on the page"):
        client.refine_strategy(generated["strategy_id"], json.dumps([{"name": "Lamp X"}]))
    with live.http() as http:
        response = http.post(f"/api/strategies/{generated['strategy_id']}/refine", json={})
    assert response.status_code == 400 and "feedback" in response.json()["detail"]
