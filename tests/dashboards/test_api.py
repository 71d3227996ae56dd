"""The dashboards API: role defaults, CRUD, sharing within scope, bad input."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.collection.support import rows
from tests.factories import Org

KPI = {
    "id": "nps",
    "type": "kpi",
    "title": {"en": "NPS"},
    "query": {"metrics": ["nps"]},
    "position": {"x": 0, "y": 0, "w": 3, "h": 2},
}
TREND = {
    "id": "trend",
    "type": "trend",
    "query": {"metrics": ["nps", "csat"], "group_by": ["month"]},
    "position": {"x": 3, "y": 0, "w": 9, "h": 4},
}


def body(**extra: Any) -> dict[str, Any]:
    return {"name": "Mine", "definition": {"widgets": [copy.deepcopy(KPI), copy.deepcopy(TREND)]}, **extra}


def create(client: TestClient, org: Org, who: str, **extra: Any) -> dict[str, Any]:
    made = client.post("/api/v1/dashboards", json=body(**extra), headers=org.auth(who))
    assert made.status_code == 201, made.text
    result: dict[str, Any] = made.json()
    return result


def without_instance(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "instance"}


def count(database_url: str) -> int:
    return int(rows(database_url, "SELECT count(*) FROM dashboards")[0][0])


@pytest.mark.parametrize(
    ("who", "role", "first_widgets"),
    [
        (
            "admin",
            "executive",
            ["nps", "csat", "responses", "rate", "trend", "regions", "heatmap", "drivers"],
        ),
        ("cx", "executive", ["nps", "csat", "responses", "rate", "trend", "regions", "heatmap", "drivers"]),
        ("east", "regional", ["nps", "csat", "responses", "rate", "trend", "ranking", "children"]),
        ("store", "store", ["nps", "csat", "responses", "cases", "trend", "comments"]),
        ("agent", "store", ["nps", "csat", "responses", "cases", "trend", "comments"]),
        (
            "analyst",
            "analyst",
            [
                "nps",
                "csat",
                "ces",
                "responses",
                "trend",
                "channels",
                "distribution",
                "funnel",
                "topics",
                "impact",
                "rising",
                "comments",
            ],
        ),
    ],
)
def test_a_user_without_a_dashboard_gets_their_roles_default(
    client: TestClient, org: Org, who: str, role: str, first_widgets: list[str]
) -> None:
    got = client.get("/api/v1/dashboards/default", headers=org.auth(who))
    assert got.status_code == 200, got.text
    data = got.json()
    assert data["id"] == "default"
    assert data["role_default"] == role
    assert [w["id"] for w in data["definition"]["widgets"]] == first_widgets
    assert data["owned"] is False


def test_the_regional_default_ranks_the_stores_under_the_region(client: TestClient, org: Org) -> None:
    widgets = client.get("/api/v1/dashboards/default", headers=org.auth("east")).json()["definition"][
        "widgets"
    ]
    ranking = next(w for w in widgets if w["id"] == "ranking")
    # HQ is depth 0, so the stores under East are at level 3; the next level down from East is 2.
    assert ranking["query"]["group_by"] == ["unit_level:3"]
    assert next(w for w in widgets if w["id"] == "children")["query"]["group_by"] == ["unit_level:2"]


def test_another_role_default_can_be_previewed_and_unknown_roles_are_422(
    client: TestClient, org: Org
) -> None:
    got = client.get("/api/v1/dashboards/default?role=analyst", headers=org.auth("cx"))
    assert got.json()["role_default"] == "analyst"
    bad = client.get("/api/v1/dashboards/default?role=boss", headers=org.auth("cx"))
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


def test_create_read_update_delete(client: TestClient, org: Org, database_url: str) -> None:
    made = create(client, org, "east")
    assert made["name"] == "Mine"
    assert made["owned"] is True
    assert made["revision"] == 1
    assert made["shared"] is False
    assert made["definition"]["widgets"][0]["position"] == {"x": 0, "y": 0, "w": 3, "h": 2}
    got = client.get(f"/api/v1/dashboards/{made['id']}", headers=org.auth("east"))
    assert got.json() == made
    listed = client.get("/api/v1/dashboards", headers=org.auth("east")).json()
    assert [d["id"] for d in listed["items"]] == [made["id"]]
    assert listed["next_cursor"] is None

    moved = copy.deepcopy(made["definition"])
    moved["widgets"][0]["position"] = {"x": 6, "y": 4, "w": 6, "h": 3}
    patched = client.patch(
        f"/api/v1/dashboards/{made['id']}",
        json={"name": "Renamed", "definition": moved, "revision": 1},
        headers=org.auth("east"),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed"
    assert patched.json()["revision"] == 2
    assert patched.json()["definition"]["widgets"][0]["position"] == {"x": 6, "y": 4, "w": 6, "h": 3}

    stale = client.patch(
        f"/api/v1/dashboards/{made['id']}", json={"name": "Late", "revision": 1}, headers=org.auth("east")
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "dashboard_revision_conflict"
    assert rows(database_url, "SELECT name, revision FROM dashboards") == [("Renamed", 2)]

    assert client.delete(f"/api/v1/dashboards/{made['id']}", headers=org.auth("east")).status_code == 204
    assert count(database_url) == 0
    assert client.get(f"/api/v1/dashboards/{made['id']}", headers=org.auth("east")).status_code == 404


def test_idempotency_key_replays_the_first_dashboard(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("east"), "Idempotency-Key": "dash-1"}
    first = client.post("/api/v1/dashboards", json=body(), headers=headers)
    again = client.post("/api/v1/dashboards", json=body(), headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert count(database_url) == 1


def test_private_dashboards_are_404_to_others_exactly_like_missing_ones(client: TestClient, org: Org) -> None:
    made = create(client, org, "east")
    hidden = client.get(f"/api/v1/dashboards/{made['id']}", headers=org.auth("store"))
    missing = client.get("/api/v1/dashboards/01HZZZZZZZZZZZZZZZZZZZZZZZ", headers=org.auth("store"))
    assert hidden.status_code == missing.status_code == 404
    assert without_instance(hidden.json()) == without_instance(missing.json())
    assert hidden.json()["code"] == "dashboard_not_found"
    # Not even an admin sees a private dashboard of someone else.
    assert client.get(f"/api/v1/dashboards/{made['id']}", headers=org.auth("admin")).status_code == 404


def test_sharing_is_visible_inside_the_share_unit_only(client: TestClient, org: Org) -> None:
    east = create(client, org, "east", shared=True)
    assert east["share_unit_code"] == "EAST"
    store = create(client, org, "store", shared=True)
    assert store["share_unit_code"] == "SH001"

    def visible(who: str) -> set[str]:
        return {d["id"] for d in client.get("/api/v1/dashboards", headers=org.auth(who)).json()["items"]}

    # The store manager (SH001, inside East) sees East's share; East does not see the store's.
    assert visible("store") == {east["id"], store["id"]}
    assert visible("agent") == {east["id"], store["id"]}
    assert visible("east") == {east["id"]}
    assert visible("analyst") == {east["id"]}
    # Tenant-wide people see every shared dashboard.
    assert visible("cx") == {east["id"], store["id"]}
    # A shared dashboard is read-only to the people it is shared with.
    denied = client.patch(f"/api/v1/dashboards/{east['id']}", json={"name": "x"}, headers=org.auth("store"))
    assert denied.status_code == 403
    assert denied.json()["code"] == "not_owner"
    assert client.delete(f"/api/v1/dashboards/{east['id']}", headers=org.auth("store")).status_code == 403


def test_sharing_outside_ones_scope_is_404_and_saves_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    refused = client.post(
        "/api/v1/dashboards", json=body(shared=True, share_unit_code="SOUTH"), headers=org.auth("east")
    )
    assert refused.status_code == 404
    assert refused.json()["code"] == "unit_not_found"
    assert count(database_url) == 0
    narrower = create(client, org, "east", shared=True, share_unit_code="SH")
    assert narrower["share_unit_code"] == "SH"


def invalid_cases() -> list[tuple[dict[str, Any], str]]:
    wide = copy.deepcopy(KPI) | {"position": {"x": 8, "y": 0, "w": 6, "h": 2}}
    no_grain = copy.deepcopy(TREND)
    no_grain["query"]["group_by"] = ["channel"]
    bad_type = copy.deepcopy(KPI) | {"type": "pie"}
    no_query = {k: v for k, v in KPI.items() if k != "query"}
    extra = copy.deepcopy(KPI) | {"colour": "red"}
    return [
        ({"widgets": [wide]}, "definition.widgets[0].position"),
        ({"widgets": [no_grain]}, "definition.widgets[0]"),
        ({"widgets": [bad_type]}, "definition.widgets[0].type"),
        ({"widgets": [no_query]}, "definition.widgets[0]"),
        ({"widgets": [extra]}, "definition.widgets[0].colour"),
        ({"widgets": [KPI, KPI]}, "definition"),
        ({"widgets": [copy.deepcopy(KPI) | {"id": "Bad Id!"}]}, "definition.widgets[0].id"),
        ({"widgets": "nope"}, "definition.widgets"),
    ]


@pytest.mark.parametrize(("definition", "path"), invalid_cases())
def test_invalid_widget_definitions_are_422_with_paths(
    client: TestClient, org: Org, database_url: str, definition: dict[str, Any], path: str
) -> None:
    refused = client.post(
        "/api/v1/dashboards", json={"name": "x", "definition": definition}, headers=org.auth("east")
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    paths = [e["path"] for e in refused.json()["errors"]]
    assert any(p.startswith(path) for p in paths), paths
    assert count(database_url) == 0


def test_service_tokens_and_bad_bodies_never_500(client: TestClient, org: Org) -> None:
    for payload in (None, [], {"name": ""}, {"name": "x" * 201, "definition": {}}, {"definition": {}}):
        got = client.post("/api/v1/dashboards", json=payload, headers=org.auth("east"))
        assert got.status_code == 422, (payload, got.text)
    bad_id = client.get("/api/v1/dashboards/" + "x" * 300, headers=org.auth("east"))
    assert bad_id.status_code == 404
    assert client.get("/api/v1/dashboards").status_code == 401
