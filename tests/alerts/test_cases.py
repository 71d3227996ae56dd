"""Alerts open cases through the cases domain: one case per response however many rules
fire, the case number in the message, and case events as signed webhooks."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import cxloop.cases as cases_api
from cxloop.alerts import verify_webhook
from tests.alerts.support import DETRACTOR, make_survey, receiver, rows, rule, submit
from tests.factories import Org

pytestmark = pytest.mark.skipif(
    getattr(cases_api, "open_case", None) is None, reason="the cases domain offers no open_case yet"
)

SECRET = "case-secret-0123456789abcdef"


def test_two_rules_one_response_one_case_and_case_created_is_delivered(
    client: TestClient, org: Org, database_url: str
) -> None:
    with receiver() as server:
        answer = client.post(
            "/api/v1/webhooks",
            json={"url": server.url, "events": ["case.created"], "secret": SECRET},
            headers=org.auth("cx"),
        )
        assert answer.status_code == 201
        survey = make_survey(client, org)
        opening = {"open_case": {"priority": "high"}}
        first = rule(client, org, {**DETRACTOR, "actions": opening}, name="Detractor")
        rule(
            client,
            org,
            {"kind": "response", "condition": {"words": {}}, "actions": opening},
            name="Complaint",
        )
        rid = submit(client, org, survey, {"nps": 2, "comment": "要投诉"})
        assert rows(database_url, "SELECT count(*) FROM cases") == [(1,)]
        ((case_id, response_id, priority, source, rule_id),) = rows(
            database_url, "SELECT id, response_id, priority, source, rule_id FROM cases"
        )
        assert (response_id, priority, source) == (rid, "high", "alert")
        assert rule_id is not None
        alerts = rows(database_url, "SELECT case_id FROM alerts")
        assert alerts == [(case_id,), (case_id,)]
        alert = client.get(f"/api/v1/alerts?rule_id={first['id']}", headers=org.auth("cx")).json()["items"][0]
        assert alert["summary"]["link"] == f"/cases/{case_id}"
        assert alert["summary"]["case_number"] == 1

        (got,) = server.wait(1)
        headers = {k.lower(): v for k, v in got.headers.items()}
        assert headers["x-cxloop-event"] == "case.created"
        assert verify_webhook(SECRET, headers["x-cxloop-timestamp"], got.body, headers["x-cxloop-signature"])
        assert got.json()["data"]["case_id"] == case_id
        assert got.json()["data"]["response_id"] == rid


@pytest.mark.parametrize("batch", [False, True], ids=["one-response", "batch"])
def test_a_rule_that_reads_no_contact_attribute_still_gives_its_alert_and_case_the_contact(
    client: TestClient, org: Org, database_url: str, batch: bool
) -> None:
    """The case's follow-up and its per-contact dedupe need the contact even when the rule
    looks only at the score."""
    survey = make_survey(client, org)
    rule(client, org, {**DETRACTOR, "actions": {"open_case": {"dedupe_days": 7}}}, name="Detractor")
    contact = {"email": "wang.fang@example.com"}
    if batch:
        answer = client.post(
            f"/api/v1/surveys/{survey}/responses/batch",
            json={
                "responses": [
                    {"answers": {"nps": 2}, "unit_code": "SH001", "contact": contact},
                    {"answers": {"nps": 3}, "unit_code": "SH001", "contact": contact},
                    {"answers": {"nps": 1}, "unit_code": "SH001"},
                ]
            },
            headers=org.auth("cx"),
        )
        assert answer.status_code == 200, answer.text
    else:
        submit(client, org, survey, {"nps": 2}, contact=contact)
        submit(client, org, survey, {"nps": 3}, contact=contact)
        submit(client, org, survey, {"nps": 1})
    (linked,) = rows(database_url, "SELECT DISTINCT contact_id FROM contact_responses")
    alerts = rows(database_url, "SELECT contact_id FROM alerts ORDER BY contact_id IS NULL, id")
    assert alerts == [linked, linked, (None,)]
    # The second detractor of the same contact joined the first one's open case.
    cases = rows(database_url, "SELECT contact_id FROM cases ORDER BY contact_id IS NULL")
    assert cases == [linked, (None,)]
