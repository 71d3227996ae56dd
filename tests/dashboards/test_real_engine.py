"""Dashboards on analytics' real query engine and cases' real open-case count:
the numbers a widget shows are the engine's, within the viewer's scope."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

import cxloop.analytics
import cxloop.cases
from tests.collection.support import FULL_ANSWERS, make_survey
from tests.factories import Org

pytestmark = pytest.mark.skipif(
    not hasattr(cxloop.analytics, "run_metrics_query") or not hasattr(cxloop.cases, "count_open_cases"),
    reason="analytics' run_metrics_query or cases' count_open_cases is not there yet",
)

SCORES = {"SH001": [10, 10, 9, 5, 3, 8], "SH002": [10, 9, 9, 9, 7], "GZ001": [0, 1, 2, 3, 4, 10]}


def nps(scores: list[int]) -> float:
    return (sum(s >= 9 for s in scores) - sum(s <= 6 for s in scores)) / len(scores) * 100


@pytest.fixture
def survey(client: TestClient, org: Org) -> str:
    survey_id = make_survey(client, org)
    for unit, scores in SCORES.items():
        for score in scores:
            # Ratings that vary with the score, so the driver analysis has something to explain.
            answers: dict[str, Any] = {
                **FULL_ANSWERS,
                "nps": score,
                "csat": 1 + score * 4 // 10,
                "ces": 7 - score // 2,
                "stars": 1 + (score * 7) % 4,
            }
            if score <= 6:
                answers["why"] = f"{unit} {score}"
            made = client.post(
                f"/api/v1/surveys/{survey_id}/responses",
                json={"answers": answers, "unit_code": unit},
                headers=org.auth("cx"),
            )
            assert made.status_code == 201, made.text
    return survey_id


def widgets(client: TestClient, org: Org, who: str, query: str) -> dict[str, Any]:
    got = client.get(f"/api/v1/dashboards/default/data{query}", headers=org.auth(who))
    assert got.status_code == 200, got.text
    result: dict[str, Any] = got.json()["widgets"]
    return result


def test_the_executive_tiles_and_regions_are_the_engines_numbers(
    client: TestClient, org: Org, survey: str
) -> None:
    found = widgets(client, org, "cx", "?period=all")
    everything = [s for scores in SCORES.values() for s in scores]
    tile = found["nps"]
    assert tile["error"] is None, tile
    assert tile["rows"][0]["nps"] == pytest.approx(nps(everything), abs=0.01)
    assert tile["rows"][0]["n"] == 17
    regions = {r["unit_code"]: r for r in found["regions"]["rows"]}
    assert set(regions) == {"EAST", "SOUTH"}
    assert regions["EAST"]["nps"] == pytest.approx(nps(SCORES["SH001"] + SCORES["SH002"]), abs=0.01)
    assert regions["EAST"]["unit_name"] == "华东区"
    assert regions["EAST"]["unit_leaf"] is False
    assert regions["SOUTH"]["nps"] == pytest.approx(nps(SCORES["GZ001"]), abs=0.01)


def test_the_regional_manager_sees_only_their_stores(client: TestClient, org: Org, survey: str) -> None:
    found = widgets(client, org, "east", "?period=all")
    ranking = {r["unit_code"]: r["nps"] for r in found["ranking"]["rows"]}
    assert ranking == {
        "SH001": pytest.approx(nps(SCORES["SH001"]), abs=0.01),
        "SH002": pytest.approx(nps(SCORES["SH002"]), abs=0.01),
    }
    assert found["nps"]["rows"][0]["n"] == 11


def test_drill_down_to_a_city_then_a_store(client: TestClient, org: Org, survey: str) -> None:
    city = widgets(client, org, "cx", "?period=all&unit_code=EAST&widget=regions")["regions"]
    assert [r["unit_code"] for r in city["rows"]] == ["SH"]
    store = widgets(client, org, "cx", "?period=all&unit_code=SH&widget=regions")["regions"]
    assert [r["unit_code"] for r in store["rows"]] == ["SH001", "SH002"]
    assert all(r["unit_leaf"] for r in store["rows"])


def test_the_store_manager_sees_open_cases_and_their_comments(
    client: TestClient, org: Org, survey: str
) -> None:
    found = widgets(client, org, "store", "?period=all")
    assert found["cases"]["rows"] == [{"open_cases": 0}]
    assert [c["text"] for c in found["comments"]["rows"] if c["question_id"] == "why"] == [
        "SH001 3",
        "SH001 5",
    ]
    assert found["nps"]["rows"][0]["n"] == 6


def test_a_group_below_the_anonymity_threshold_is_suppressed_not_an_error(
    client: TestClient, org: Org, survey: str
) -> None:
    # No response came through this channel: the tile has no number, and no error either.
    found = widgets(client, org, "cx", "?period=all&unit_code=GZ001&channel=none")
    assert found["nps"]["error"] is None
    assert all(r.get("nps") is None for r in found["nps"]["rows"])


@pytest.mark.parametrize("who", ["cx", "east", "store", "analyst"])
def test_every_default_widget_runs_on_the_real_engine(
    client: TestClient, org: Org, survey: str, who: str
) -> None:
    found = widgets(client, org, who, "?period=all")
    errors = {wid: w["error"]["code"] for wid, w in found.items() if w["error"]}
    assert errors == {}


def test_with_no_survey_chosen_the_drivers_are_those_of_the_most_answered_survey(
    client: TestClient, org: Org, survey: str
) -> None:
    default = widgets(client, org, "cx", "?period=all&widget=drivers")["drivers"]
    chosen = widgets(client, org, "cx", f"?period=all&survey_id={survey}&widget=drivers")["drivers"]
    assert default["error"] is None, default["error"]
    assert default["rows"] == chosen["rows"]
    assert {r["question_id"] for r in default["rows"]} == {"csat", "ces", "stars"}


def test_the_driver_quadrant_runs_analytics_key_drivers_for_the_chosen_survey(
    client: TestClient, org: Org, survey: str
) -> None:
    found = widgets(client, org, "cx", f"?period=all&survey_id={survey}&widget=drivers")["drivers"]
    assert found["error"] is None, found["error"]
    assert {r["question_id"] for r in found["rows"]} == {"csat", "ces", "stars"}
    assert {r["quadrant"] for r in found["rows"]} <= {"strength", "priority", "maintain", "low_priority"}
    assert 0 <= found["meta"]["r2"] <= 1
    assert found["meta"]["n"] == 17
