"""Alert rules over the API: create, list, change, enable/disable, dry run, bad input."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.alerts.support import DETRACTOR, make_survey, rows, rule, submit
from tests.factories import Org


def test_create_list_get_update_enable_disable(client: TestClient, org: Org, database_url: str) -> None:
    created = rule(client, org, DETRACTOR)
    assert created["kind"] == "response"
    assert created["enabled"] is True
    assert created["version"] == 1
    assert created["definition"]["condition"] == {"source": "answers", "field": "nps", "op": "le", "value": 6}
    assert created["definition"]["filters"] == {"surveys": [], "touchpoints": [], "channels": [], "units": []}
    assert created["definition"]["priority"] == "normal"

    listed = client.get("/api/v1/alert-rules", headers=org.auth("analyst")).json()
    assert [r["id"] for r in listed["items"]] == [created["id"]]
    assert listed["next_cursor"] is None

    rid = created["id"]
    off = client.post(f"/api/v1/alert-rules/{rid}/disable", headers=org.auth("cx"))
    assert off.status_code == 200
    assert (off.json()["enabled"], off.json()["version"]) == (False, 2)
    assert client.get("/api/v1/alert-rules?enabled=true", headers=org.auth("cx")).json()["items"] == []
    on = client.post(f"/api/v1/alert-rules/{rid}/enable", headers=org.auth("cx")).json()
    assert (on["enabled"], on["version"]) == (True, 3)

    changed = client.patch(
        f"/api/v1/alert-rules/{rid}",
        json={"name": "Angry", "definition": {**DETRACTOR, "priority": "high"}},
        headers=org.auth("cx"),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["version"]) == ("Angry", 4)
    assert changed.json()["definition"]["priority"] == "high"
    assert client.get(f"/api/v1/alert-rules/{rid}", headers=org.auth("cx")).json()["name"] == "Angry"
    # Every change bumped the tenant's config version (the compiled-rule caches see it).
    assert rows(database_url, "SELECT version FROM alert_config_versions") == [(4,)]


def test_invalid_definitions_answer_422_with_paths_and_write_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    bad = {
        "kind": "response",
        "condition": {
            "all": [
                {"source": "answers", "field": "nps", "op": "between", "value": 6},
                {"not": {"words": {"lists": ["nope"]}}},
                {"source": "answers", "field": "nps", "op": "in", "value": 3},
            ]
        },
        "actions": {"notify": [{"to": "user"}]},
    }
    answer = client.post("/api/v1/alert-rules", json={"name": "x", "definition": bad}, headers=org.auth("cx"))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    paths = [e["path"] for e in answer.json()["errors"]]
    assert paths == [
        "definition.condition.all[0].op",
        "definition.condition.all[1].not.words",
        "definition.condition.all[2]",
        "definition.actions.notify[0]",
    ]
    unknown_unit = {**DETRACTOR, "filters": {"units": ["SH001", "NOWHERE"]}}
    answer = client.post(
        "/api/v1/alert-rules", json={"name": "x", "definition": unknown_unit}, headers=org.auth("cx")
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"path": "definition.filters.units[1]", "message": "There is no unit 'NOWHERE'."}
    ]
    for junk in ({"kind": "nope"}, [], "x", {"kind": "metric", "metric": "nps", "unit": "HQ", "when": {}}):
        answer = client.post(
            "/api/v1/alert-rules", json={"name": "x", "definition": junk}, headers=org.auth("cx")
        )
        assert answer.status_code == 422, junk
    assert rows(database_url, "SELECT count(*) FROM alert_rules") == [(0,)]
    assert rows(database_url, "SELECT count(*) FROM alert_config_versions") == [(0,)]


def test_who_may_configure_rules(client: TestClient, org: Org, database_url: str) -> None:
    for who in ("east", "store", "agent", "analyst"):
        answer = client.post(
            "/api/v1/alert-rules", json={"name": "x", "definition": DETRACTOR}, headers=org.auth(who)
        )
        assert answer.status_code == 403, who
        assert answer.json()["code"] == "permission_denied"
    created = rule(client, org, DETRACTOR, who="admin")
    assert (
        client.post(f"/api/v1/alert-rules/{created['id']}/disable", headers=org.auth("east")).status_code
        == 403
    )
    # Another tenant's rule and a made-up id answer alike.
    missing = client.get("/api/v1/alert-rules/01HZZZZZZZZZZZZZZZZZZZZZZZ", headers=org.auth("cx"))
    assert missing.status_code == 404
    assert missing.json()["code"] == "alert_rule_not_found"
    assert rows(database_url, "SELECT count(*) FROM alert_rules") == [(1,)]


def test_idempotency_key_replays_the_first_rule(client: TestClient, org: Org, database_url: str) -> None:
    headers = {**org.auth("cx"), "Idempotency-Key": "rule-1"}
    body = {"name": "Detractor", "definition": DETRACTOR}
    first = client.post("/api/v1/alert-rules", json=body, headers=headers)
    again = client.post("/api/v1/alert-rules", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert rows(database_url, "SELECT count(*) FROM alert_rules") == [(1,)]


def test_dry_run_counts_past_responses_and_fires_nothing(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey = make_survey(client, org)
    low = [submit(client, org, survey, {"nps": n}) for n in (0, 6)]
    submit(client, org, survey, {"nps": 9})
    submit(client, org, survey, {"nps": 3}, unit="GZ001")
    body = {"definition": {**DETRACTOR, "filters": {"units": ["EAST"]}}}
    answer = client.post("/api/v1/alert-rules/dry-run", json=body, headers=org.auth("cx"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"evaluated": 4, "would_fire": 2, "response_ids": low[::-1]}
    saved = rule(client, org, {**DETRACTOR, "filters": {"units": ["SOUTH"]}})
    by_id = client.post("/api/v1/alert-rules/dry-run", json={"rule_id": saved["id"]}, headers=org.auth("cx"))
    assert by_id.json()["would_fire"] == 1
    assert rows(database_url, "SELECT count(*) FROM alerts") == [(0,)]
    both = client.post(
        "/api/v1/alert-rules/dry-run", json={**body, "rule_id": saved["id"]}, headers=org.auth("cx")
    )
    assert both.status_code == 422
    assert client.post("/api/v1/alert-rules/dry-run", json=body, headers=org.auth("store")).status_code == 403
