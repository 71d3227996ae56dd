"""The data endpoint: widgets' queries with the global filters merged in, run as
the viewer; drill-down; comments; one widget's error never fails the rest."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.collection.support import FULL_ANSWERS, make_survey
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org


def submit(client: TestClient, org: Org, survey_id: str, unit_code: str, **answers: Any) -> str:
    body = {"answers": {**FULL_ANSWERS, **answers}, "unit_code": unit_code}
    made = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth("cx"))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def data(client: TestClient, org: Org, who: str, query: str = "", dashboard: str = "default") -> Any:
    return client.get(f"/api/v1/dashboards/{dashboard}/data{query}", headers=org.auth(who))


def test_the_executive_default_runs_every_widget_as_the_viewer(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    got = data(client, org, "cx", "?period=all")
    assert got.status_code == 200, got.text
    widgets = got.json()["widgets"]
    assert widgets["nps"]["rows"] == [{"nps": 40.0, "n": 100, "delta": 2.5, "significant": False}]
    assert [r["month"] for r in widgets["nps"]["meta"]["sparkline"]] == ["2026-09", "2026-10", "2026-11"]
    assert [(r["unit_code"], r["unit_name"]) for r in widgets["regions"]["rows"]] == [
        ("EAST", "华东区"),
        ("SOUTH", "华南区"),
    ]
    assert len(widgets["heatmap"]["rows"]) == 6
    assert {label for label, _ in metrics.calls} == {"cx@acme.test"}
    regions = next(b for _, b in metrics.calls if b.get("group_by") == ["unit_level:1"])
    assert regions == {"metrics": ["nps"], "group_by": ["unit_level:1"], "compare": "company"}


def test_global_filters_are_merged_into_every_query(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    query = (
        "?date_from=2026-01-01&date_to=2026-06-30&unit_code=SH&channel=sms&touchpoint=checkout&survey_id=S1"
    )
    got = data(client, org, "east", query)
    assert got.status_code == 200, got.text
    assert got.json()["filters"] == {
        "date_from": "2026-01-01",
        "date_to": "2026-06-30",
        "unit_code": "SH",
        "channel": "sms",
        "touchpoint": "checkout",
        "survey_id": "S1",
    }
    trend = next(b for _, b in metrics.calls if b.get("group_by") == ["month"] and "compare" in b)
    assert trend == {
        "metrics": ["nps"],
        "filters": {
            "date_from": "2026-01-01",
            "date_to": "2026-06-30",
            "unit_code": "SH",
            "channel": "sms",
            "touchpoint": "checkout",
        },
        "survey_id": "S1",
        "group_by": ["month"],
        "compare": "company",
    }


def test_period_presets_become_dates(client: TestClient, org: Org, metrics: FakeMetrics) -> None:
    got = data(client, org, "cx", "?period=7d")
    filters = got.json()["filters"]
    from datetime import date

    assert (
        date.fromisoformat(filters["date_to"]).toordinal()
        - date.fromisoformat(filters["date_from"]).toordinal()
        == 6
    )


def test_drill_down_goes_one_level_below_the_clicked_unit(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    region = data(client, org, "cx", "?unit_code=EAST&period=all&widget=regions").json()["widgets"]
    assert list(region) == ["regions"]
    assert metrics.calls[-1][1]["group_by"] == ["unit_level:2"]
    assert "leaf" not in region["regions"]["meta"]
    data(client, org, "cx", "?unit_code=SH&period=all&widget=regions")
    assert metrics.calls[-1][1]["group_by"] == ["unit_level:3"]
    store = data(client, org, "cx", "?unit_code=SH001&period=all&widget=regions").json()["widgets"]
    # A store has no level below: the page goes on to its responses.
    assert store["regions"]["meta"]["leaf"] is True


def test_bad_filters_are_4xx_problems(client: TestClient, org: Org, metrics: FakeMetrics) -> None:
    outside = data(client, org, "east", "?unit_code=SOUTH")
    missing = data(client, org, "east", "?unit_code=NOPE")
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["code"] == missing.json()["code"] == "unit_not_found"
    reversed_dates = data(client, org, "east", "?date_from=2026-06-01&date_to=2026-01-01")
    assert reversed_dates.status_code == 422
    assert reversed_dates.json()["code"] == "invalid_filters"
    garbage = data(client, org, "east", "?date_from=yesterday")
    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["path"] == "date_from"
    assert data(client, org, "east", "?period=forever").status_code == 422
    assert data(client, org, "east", "?widget=nope").status_code == 404
    assert metrics.calls == []


def test_one_widgets_error_is_reported_on_it_alone(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    definition = {
        "widgets": [
            {
                "id": "good",
                "type": "kpi",
                "query": {"metrics": ["nps"]},
                "position": {"x": 0, "y": 0, "w": 3, "h": 2},
            },
            {
                "id": "bad",
                "type": "kpi",
                "query": {"metrics": ["wow"]},
                "position": {"x": 3, "y": 0, "w": 3, "h": 2},
            },
        ]
    }
    made = client.post(
        "/api/v1/dashboards", json={"name": "x", "definition": definition}, headers=org.auth("east")
    )
    got = data(client, org, "east", dashboard=made.json()["id"])
    assert got.status_code == 200
    widgets = got.json()["widgets"]
    assert widgets["good"]["error"] is None
    assert widgets["good"]["rows"][0]["nps"] == 40.0
    assert widgets["bad"]["rows"] == []
    assert widgets["bad"]["error"]["code"] == "unknown_metric"
    assert widgets["bad"]["error"]["status"] == 422


def test_comments_are_the_viewers_latest_text_answers(
    client: TestClient, org: Org, metrics: FakeMetrics
) -> None:
    survey = make_survey(client, org)
    submit(client, org, survey, "SH001", nps=3, why="排队太久了")
    submit(client, org, survey, "GZ001", nps=2, why="South only")
    submit(client, org, survey, "SH002", nps=10)
    got = data(client, org, "store", "?period=all&widget=comments")
    assert got.status_code == 200, got.text
    found = [
        (r["unit_code"], r["question_id"], r["text"], r["band"])
        for r in got.json()["widgets"]["comments"]["rows"]
    ]
    # The store manager (SH001) sees only SH001's comments (the text domain's masked
    # analyses); "code" is a text question too.
    # Every text the text domain analysed (also a choice's "other" text), in question-id order.
    assert found == [
        ("SH001", "code", "ABC", "detractor"),
        ("SH001", "via", "微信", "detractor"),
        ("SH001", "why", "排队太久了", "detractor"),
    ]
    cx = data(client, org, "analyst", "?period=all&widget=comments&q=排队").json()["widgets"]["comments"][
        "rows"
    ]
    assert [r["text"] for r in cx] == ["排队太久了"]
    promoters = data(client, org, "analyst", "?period=all&widget=comments&score=promoter").json()
    assert {r["unit_code"] for r in promoters["widgets"]["comments"]["rows"]} == {"SH002"}


def test_drill_responses_are_scoped(client: TestClient, org: Org) -> None:
    survey = make_survey(client, org)
    sh = submit(client, org, survey, "SH001")
    submit(client, org, survey, "GZ001")
    got = client.get("/api/v1/dashboards/drill/responses?unit_code=SH001", headers=org.auth("east"))
    assert got.status_code == 200, got.text
    assert [r["response_id"] for r in got.json()["items"]] == [sh]
    everything = client.get("/api/v1/dashboards/drill/responses", headers=org.auth("east")).json()
    assert [r["unit_code"] for r in everything["items"]] == ["SH001"]
    assert (
        client.get("/api/v1/dashboards/drill/responses?unit_code=GZ001", headers=org.auth("east")).status_code
        == 404
    )
    as_csv = client.get("/api/v1/dashboards/drill/responses?format=csv", headers=org.auth("east"))
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert (
        as_csv.content.decode("utf-8-sig").splitlines()[0]
        == "response_id,submitted_at,channel,touchpoint,unit_code"
    )
