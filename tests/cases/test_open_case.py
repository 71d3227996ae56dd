"""open_case as alerts call it: one case per response, dedupe per contact,
numbering, auto-assignment round-robin, deadlines, and events after commit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tests.cases.support import T0, Clock, open_one, recording, run_jobs, submit, survey
from tests.collection.support import rows
from tests.factories import Org
from tests.identity.support import add_user


def test_one_case_per_response_and_an_event_after_commit(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Clock(monkeypatch)
    survey_id = survey(client, org)
    response_id = submit(client, org, survey_id, nps=2)
    with recording() as seen:
        first = open_one(database_url, org, response_id=response_id, contact_id="C1")
        again = open_one(database_url, org, response_id=response_id, contact_id="C1")
        assert seen == []  # nothing before the jobs run
        run_jobs(database_url)
    assert first[1] is True
    assert again == (first[0], False)
    assert rows(database_url, "SELECT count(*) FROM cases") == [(1,)]
    ((event, payload),) = seen
    assert event == "case.created"
    assert payload == {
        "tenant_id": org.tenant_id,
        "case_id": first[0],
        "number": 1,
        "title": "NPS 2 at SH001",
        "status": "new",
        "priority": "high",
        "unit_id": org.unit_ids["SH001"],
        "owner_id": org.user_ids["agent"],
        "escalated_to_id": None,
        "escalation_level": 0,
        "response_id": response_id,
        "contact_id": "C1",
        "rule_id": None,
        # high: 60 business minutes; no calendar configured counts every minute.
        "due_at": datetime(2026, 12, 1, 3, 0, tzinfo=UTC).isoformat(),
        "url_path": f"/cases/{first[0]}",
    }
    (score,) = rows(database_url, "SELECT initial_score FROM cases")
    assert score == (2,)


def test_dedupe_attaches_the_alert_to_the_open_case_of_the_contact(
    org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    case_id, created = open_one(database_url, org, contact_id="C9", dedupe_days=7)
    run_jobs(database_url)
    clock.advance(days=3)
    with recording() as seen:
        attached = open_one(database_url, org, contact_id="C9", dedupe_days=7, title="Again")
        run_jobs(database_url)
    assert (created, attached) == (True, (case_id, False))
    assert [e for e, _ in seen] == ["case.updated"]
    entries = rows(database_url, "SELECT kind FROM case_entries ORDER BY at, id")
    assert entries == [("created",), ("assigned",), ("alert_attached",)]
    clock.advance(days=5)  # 8 days after the first: a new case
    later, created_later = open_one(database_url, org, contact_id="C9", dedupe_days=7)
    assert created_later and later != case_id
    assert rows(database_url, "SELECT number FROM cases ORDER BY number") == [(1,), (2,)]


def test_round_robin_inside_the_team_then_up_the_tree(org: Org, database_url: str) -> None:
    second = add_user(database_url, org, "agent2@acme.test", "agent", "SH001")
    owners = [
        rows(database_url, f"SELECT owner_id FROM cases WHERE id = '{open_one(database_url, org)[0]}'")[0][0]
        for _ in range(3)
    ]
    team = sorted([org.user_ids["agent"], second])
    assert owners == [team[0], team[1], team[0]]
    # SH002 has nobody: its city SH neither; East's manager gets it.
    case_id, _ = open_one(database_url, org, unit_id=org.unit_ids["SH002"])
    assert rows(database_url, f"SELECT owner_id FROM cases WHERE id = '{case_id}'") == [
        (org.user_ids["east"],)
    ]


def test_bad_priority_is_refused_and_leaves_nothing(org: Org, database_url: str) -> None:
    from cxloop.kit.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        open_one(database_url, org, priority="whenever")
    assert rows(database_url, "SELECT count(*) FROM cases") == [(0,)]
    assert T0.tzinfo is UTC
