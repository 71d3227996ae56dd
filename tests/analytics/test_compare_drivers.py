"""Comparisons (periods, parent, company, target), significance, anomalies, drivers and targets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from fastapi.testclient import TestClient
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from tests.analytics.support import generate, make_survey, query, submit
from tests.factories import Org


@pytest.fixture
def data(client: TestClient, org: Org) -> dict[str, Any]:
    survey_id = make_survey(client, org)
    items = generate(240, seed=11)
    submit(client, org, survey_id, items)
    return {"survey": survey_id, "items": items}


def points(items: list[dict[str, Any]]) -> np.ndarray:
    s = np.array([i["answers"]["rec"] for i in items])
    return np.where(s >= 9, 1.0, np.where(s <= 6, -1.0, 0.0))


def test_compare_with_company_is_tested_and_corrected(
    client: TestClient, org: Org, data: dict[str, Any]
) -> None:
    body = query(client, org, metrics=["nps"], group_by=["unit"], compare="company", correction="holm").json()
    items = data["items"]
    everyone = points(items)
    raw_p = []
    for row in body["rows"]:
        mine = points([i for i in items if i["unit_code"] == row["unit_code"]])
        assert row["compare_value"] == round(everyone.mean() * 100, 2)
        assert row["delta"] == round(row["nps"] - row["compare_value"], 2)
        _, p = CompareMeans(DescrStatsW(mine), DescrStatsW(everyone)).ztest_ind(usevar="unequal")
        raw_p.append(p)
        assert row["compare"]["nps"]["p_value"] == pytest.approx(p, abs=1e-6)
    adjusted = multipletests(raw_p, method="holm")[1]
    for row, q in zip(body["rows"], adjusted, strict=True):
        assert row["p_value"] == pytest.approx(q, abs=1e-6)
        assert row["significant"] == bool(q < 0.05)


def test_compare_with_parent_unit(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(
        client, org, "store", metrics=["nps"], compare="parent_unit", filters={"unit_code": "SH001"}
    ).json()
    [row] = body["rows"]
    city = [i for i in data["items"] if i["unit_code"].startswith("SH")]
    # The store manager sees its parent's aggregate, not the other store's rows.
    assert row["compare_value"] == round(points(city).mean() * 100, 2)


def test_previous_period_and_last_year(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(
        client,
        org,
        metrics=["n"],
        compare="previous_period",
        filters={"date_from": "2026-05-01", "date_to": "2026-05-31"},
    ).json()
    assert body["comparison_period"] == {"date_from": "2026-03-31", "date_to": "2026-04-30"}
    assert body["rows"][0]["compare_value"] is not None
    empty = query(client, org, metrics=["nps"], group_by=["month"], compare="last_year").json()
    assert all(r["compare_value"] is None for r in empty["rows"])
    refused = query(client, org, metrics=["nps"], group_by=["month"], compare="previous_period")
    assert refused.status_code == 422


def test_targets(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    put = client.put(
        "/api/v1/metrics/targets",
        json={"unit_code": "EAST", "metric": "nps", "value": 30},
        headers=org.auth("cx"),
    )
    assert put.status_code == 200, put.text
    tenant = client.put(
        "/api/v1/metrics/targets", json={"metric": "nps", "value": 10}, headers=org.auth("cx")
    )
    assert tenant.status_code == 200
    body = query(client, org, metrics=["nps"], group_by=["unit"], compare="target").json()
    goals = {r["unit_code"]: r["compare_value"] for r in body["rows"]}
    assert goals == {"SH001": 30.0, "SH002": 30.0, "GZ001": 10.0}
    assert all(r["delta"] == round(r["nps"] - r["compare_value"], 2) for r in body["rows"])
    listed = client.get("/api/v1/metrics/targets", headers=org.auth("store")).json()["items"]
    assert {(t["unit_code"], t["value"]) for t in listed} == {("EAST", 30.0), (None, 10.0)}
    refused = client.put(
        "/api/v1/metrics/targets", json={"metric": "nps", "value": 1}, headers=org.auth("store")
    )
    assert refused.status_code == 403
    bad = client.put("/api/v1/metrics/targets", json={"metric": "nope", "value": 1}, headers=org.auth("cx"))
    assert bad.status_code == 422
    assert (
        client.delete(f"/api/v1/metrics/targets/{put.json()['id']}", headers=org.auth("cx")).status_code
        == 204
    )
    assert len(client.get("/api/v1/metrics/targets", headers=org.auth("cx")).json()["items"]) == 1


def test_trend_anomalies_are_flagged(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    body = query(client, org, metrics=["nps"], group_by=["month"], anomalies=True).json()
    assert body["rows"] and all(isinstance(r["anomaly"], bool) for r in body["rows"])


def test_drivers(client: TestClient, org: Org, data: dict[str, Any]) -> None:
    got = client.post(
        "/api/v1/metrics/drivers",
        json={"survey_id": data["survey"], "outcome": "nps", "drivers": ["speed", "staff", "clean"]},
        headers=org.auth("cx"),
    )
    assert got.status_code == 200, got.text
    body = got.json()
    items = data["items"]
    x = np.array([[i["answers"][k] for k in ("speed", "staff", "clean")] for i in items], dtype=float)
    y = np.array([i["answers"]["rec"] for i in items], dtype=float)
    assert body["r2"] == pytest.approx(sm.OLS(y, sm.add_constant(x)).fit().rsquared, abs=1e-4)
    assert body["method"] == "shapley" and body["n"] == 240
    assert sum(d["importance"] for d in body["drivers"]) == pytest.approx(body["r2"], abs=1e-3)
    assert {d["quadrant"] for d in body["drivers"]} <= {"strength", "priority", "maintain", "low_priority"}
    speed = next(d for d in body["drivers"] if d["question_id"] == "speed")
    assert speed["performance"] == round((x[:, 0].mean() - 1) / 4 * 100, 2)
    bad = client.post(
        "/api/v1/metrics/drivers",
        json={"survey_id": data["survey"], "drivers": ["via"]},
        headers=org.auth("cx"),
    )
    assert bad.status_code == 422 and "speed" in bad.json()["detail"]
