"""POST /api/v1/metrics/query: metrics, groups, filters, scope, anonymity, bad input."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.analytics.support import generate, make_survey, query, submit
from tests.factories import Org

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def data(client: TestClient, org: Org) -> dict[str, Any]:
    survey_id = make_survey(client, org)
    items = generate(300)
    submit(client, org, survey_id, items)
    return {"survey": survey_id, "items": items}


def local_day(item: dict[str, Any]) -> str:
    return datetime.fromisoformat(item["submitted_at"]).astimezone(SHANGHAI).date().isoformat()


def expected_nps(items: list[dict[str, Any]]) -> float:
    scores = np.array([i["answers"]["rec"] for i in items])
    return float(round(((scores >= 9).mean() - (scores <= 6).mean()) * 100, 2))


def test_company_kpis_match_an_independent_computation(
    client: TestClient, org: Org, data: dict[str, Any]
) -> None:
    got = query(client, org, metrics=["nps", "csat", "ces", "n"], survey_id=data["survey"])
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["source"] == "rollup"
    [row] = body["rows"]
    items = data["items"]
    assert row["n"] == 300
    assert row["nps"] == expected_nps(items)
    sat = np.array([i["answers"]["sat"] for i in items if "sat" in i["answers"]])
    assert row["csat_n"] == len(sat)
    assert row["csat"] == round(float((sat >= 4).mean() * 100), 2)
    assert row["csat_mean"] == round(float(sat.mean()), 3)
    effort = np.array([i["answers"]["effort"] for i in items if "effort" in i["answers"]])
    assert row["ces"] == round(float(effort.mean()), 3)
    assert row["ci_low"] < row["nps"] < row["ci_high"]


def test_by_month_and_unit(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(client, org, metrics=["nps"], group_by=["month", "unit"]).json()
    items = data["items"]
    for row in body["rows"]:
        mine = [i for i in items if local_day(i)[:7] == row["month"] and i["unit_code"] == row["unit_code"]]
        assert row["n"] == len(mine)
        assert row["nps"] == expected_nps(mine)
    assert {r["unit_code"] for r in body["rows"]} == {"SH001", "SH002", "GZ001"}
    assert body["rows"][0]["unit_name"]


def test_unit_level_groups_by_region(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(client, org, metrics=["nps", "n"], group_by=["unit_level:1"]).json()
    by_code = {r["unit_code"]: r for r in body["rows"]}
    assert by_code["EAST"]["n"] == sum(1 for i in data["items"] if i["unit_code"].startswith("SH"))
    assert by_code["SOUTH"]["n"] == sum(1 for i in data["items"] if i["unit_code"] == "GZ001")


def test_scope_limits_rows(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(client, org, "store", metrics=["n"], group_by=["unit"]).json()
    assert [r["unit_code"] for r in body["rows"]] == ["SH001"]
    east = query(client, org, "east", metrics=["n"]).json()
    assert east["rows"][0]["n"] == sum(1 for i in data["items"] if i["unit_code"].startswith("SH"))
    # A unit outside the caller's scope answers like a missing one.
    outside = query(client, org, "store", metrics=["n"], filters={"unit_code": "GZ001"})
    missing = query(client, org, "store", metrics=["n"], filters={"unit_code": "NOPE"})
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["code"] == missing.json()["code"] == "unit_not_found"


def test_filters(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    items = data["items"]
    body = query(
        client,
        org,
        metrics=["nps"],
        filters={"unit_code": "EAST", "channel": "web", "date_from": "2026-04-01", "date_to": "2026-04-30"},
    ).json()
    mine = [
        i
        for i in items
        if i["unit_code"].startswith("SH") and i["channel"] == "web" and local_day(i).startswith("2026-04")
    ]
    assert body["rows"][0]["n"] == len(mine)
    assert body["rows"][0]["nps"] == expected_nps(mine)
    raw = query(
        client,
        org,
        metrics=["nps"],
        filters={"answers": {"via": "app", "speed": {"gte": 4}}, "language": "en"},
    ).json()
    assert raw["source"] == "raw"
    mine = [
        i
        for i in items
        if i["answers"]["via"] == "app" and i["answers"]["speed"] >= 4 and i["language"] == "en"
    ]
    assert raw["rows"][0]["n"] == len(mine)
    attrs = query(client, org, metrics=["n"], filters={"attributes": {"tier": "gold"}}).json()
    assert attrs["rows"][0]["n"] == sum(1 for i in items if i["embedded"]["tier"] == "gold")


def test_other_metrics(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    items = data["items"]
    body = query(
        client,
        org,
        metrics=["mean:speed", "choices:via", "gap", "custom:service"],
        custom_metrics={"service": "(speed + staff) / 2"},
    ).json()
    [row] = body["rows"]
    assert row["mean:speed"] == round(float(np.mean([i["answers"]["speed"] for i in items])), 3)
    assert row["choices:via"]["app"] == round(sum(i["answers"]["via"] == "app" for i in items) / 300 * 100, 2)
    service = [(i["answers"]["speed"] + i["answers"]["staff"]) / 2 for i in items]
    assert row["custom:service"] == round(float(np.mean(service)), 3)
    gap1 = [i["answers"]["sq1"]["perception"] - i["answers"]["sq1"]["expectation"] for i in items]
    assert row["gap_items"]["sq1"] == round(float(np.mean(gap1)), 3)
    assert row["gap_dimensions"]["empathy"] == round(float(np.mean(gap1)), 3)


def test_weighting(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    items = data["items"]
    body = query(client, org, metrics=["nps"], weight="weight").json()
    w = np.array([float(i["embedded"]["weight"]) for i in items])
    s = np.array([i["answers"]["rec"] for i in items])
    expected = ((w * (s >= 9)).sum() - (w * (s <= 6)).sum()) / w.sum() * 100
    assert body["rows"][0]["nps"] == round(float(expected), 2)


def test_small_groups_are_suppressed(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(client, org, metrics=["n"], group_by=["day", "unit"]).json()
    assert body["suppressed_groups"] > 0
    assert all(r["n"] >= 5 for r in body["rows"])
    assert (
        client.put("/api/v1/metrics/settings", json={"min_n": 1}, headers=org.auth("admin")).status_code
        == 200
    )
    fewer = query(client, org, metrics=["n"], group_by=["day", "unit"]).json()
    assert fewer["suppressed_groups"] == 0 and fewer["min_n"] == 1
    assert (
        client.put("/api/v1/metrics/settings", json={"min_n": 1}, headers=org.auth("store")).status_code
        == 403
    )


def test_pagination(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    first = query(client, org, metrics=["n"], group_by=["week", "unit"], limit=5).json()
    assert len(first["rows"]) == 5 and first["next_cursor"] and "next_cursor" in first["message"]
    rest = query(
        client, org, metrics=["n"], group_by=["week", "unit"], limit=5000, cursor=first["next_cursor"]
    ).json()
    assert len(rest["rows"]) == first["total_rows"] - 5 and rest["next_cursor"] is None


@pytest.mark.parametrize(
    ("body", "code", "mentions"),
    [
        ({"metrics": ["npx"]}, "unknown_metric", "mean:QUESTION"),
        ({"metrics": ["nps"], "filters": {"colour": "red"}}, "unknown_filter", "touchpoint"),
        ({"metrics": ["nps"], "group_by": ["hour"]}, "unknown_group", "unit_level:N"),
        ({"metrics": ["nps"], "compare": "yesterday"}, "unknown_compare", "previous_period"),
        (
            {"metrics": ["nps"], "filters": {"date_from": "2026-05-01", "date_to": "2026-04-01"}},
            "reversed_dates",
            "after",
        ),
        ({"metrics": ["nps"], "filters": {"date_from": "yesterday"}}, "invalid_date", "date"),
        (
            {"metrics": ["custom:x"], "custom_metrics": {"x": "__import__('os')"}},
            "invalid_formula",
            "Formulas",
        ),
        ({"metrics": ["custom:x"]}, "unknown_metric", "custom_metrics"),
    ],
)
def test_bad_input_answers_422(
    client: TestClient, org: Org, body: dict[str, Any], code: str, mentions: str
) -> None:
    got = client.post("/api/v1/metrics/query", json=body, headers=org.auth("cx"))
    assert got.status_code == 422, got.text
    assert got.json()["code"] == code
    assert mentions in got.json()["detail"]


def test_needs_a_reader(client: TestClient, org: Org) -> None:
    assert client.post("/api/v1/metrics/query", json={"metrics": ["nps"]}).status_code == 401


def test_today_is_the_tenants_local_day_so_answers_after_1600_utc_count(
    client: TestClient, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16:40 UTC is 00:40 the next day in Shanghai: the answer of 16:30 UTC belongs to
    # 2 June there, and a query without dates must still include it.
    import cxloop.analytics.plan

    now = datetime(2026, 6, 1, 16, 40, tzinfo=ZoneInfo("UTC"))
    monkeypatch.setattr(cxloop.analytics.plan, "utc_now", lambda: now)
    survey_id = make_survey(client, org)
    item = generate(1)[0]
    submit(client, org, survey_id, [{**item, "submitted_at": "2026-06-01T16:30:00+00:00"}] * 5)
    for source in ("rollup", "raw"):
        got = query(client, org, metrics=["n"], group_by=["day"], source=source)
        assert got.status_code == 200, got.text
        assert [(r["day"], r["n"]) for r in got.json()["rows"]][-1:] == [("2026-06-02", 5)], source
