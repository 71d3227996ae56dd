"""SLA deadlines in business hours of the unit's time zone, policies,
calendars per tenant and unit, and escalation up the tree by the scheduled
job, all with the injected clock (no sleeping)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from cxloop.cases.escalation import escalate_due
from cxloop.cases.sla import Calendar, add_business_minutes, parse_hours
from cxloop.kit.db import Database
from tests.cases.support import Clock, open_one, recording, run_jobs
from tests.collection.support import rows
from tests.factories import Org
from tests.identity.support import assert_problem

OFFICE = {day: [["09:00", "12:00"], ["13:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def escalate(database_url: str) -> int:
    async def work() -> int:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                count = await escalate_due(session)
                await session.commit()
                return count
        finally:
            await db.dispose()

    count: int = asyncio.run(work())
    run_jobs(database_url)
    return count


def test_business_minutes_skip_nights_lunch_weekends_and_holidays() -> None:
    shanghai = Calendar("Asia/Shanghai", parse_hours(OFFICE))
    # Fri 17:30 local + 60 min -> Mon 09:30 local.
    assert add_business_minutes(utc(2026, 12, 4, 9, 30), 60, shanghai) == utc(2026, 12, 7, 1, 30)
    # Tue 11:30 + 60 -> lunch skipped -> 13:30.
    assert add_business_minutes(utc(2026, 12, 1, 3, 30), 60, shanghai) == utc(2026, 12, 1, 5, 30)
    # Before opening counts from 09:00.
    assert add_business_minutes(utc(2026, 12, 1, 0, 0), 30, shanghai) == utc(2026, 12, 1, 1, 30)
    from datetime import date

    holiday = Calendar(
        "Asia/Shanghai",
        parse_hours(OFFICE),
        holidays=frozenset({date(2026, 12, 7)}),
        workdays=frozenset({date(2026, 12, 5)}),
    )
    # Fri 17:30 + 60: Saturday is a make-up working day (调休), so Sat 09:30.
    assert add_business_minutes(utc(2026, 12, 4, 9, 30), 60, holiday) == utc(2026, 12, 5, 1, 30)
    # Sat 17:30 + 60: Sunday closed, Monday a holiday -> Tue 09:30.
    assert add_business_minutes(utc(2026, 12, 5, 9, 30), 60, holiday) == utc(2026, 12, 8, 1, 30)
    # New York over the DST change (Sun 8 Mar 2026): 9-17 local both sides.
    new_york = Calendar(
        "America/New_York", parse_hours({"fri": [["09:00", "17:00"]], "mon": [["09:00", "17:00"]]})
    )
    assert add_business_minutes(utc(2026, 3, 6, 21, 30), 60, new_york) == utc(2026, 3, 9, 13, 30)


def test_calendars_and_policies_set_the_deadlines(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch, utc(2026, 12, 4, 9, 30))  # Fri 17:30 in Shanghai
    put = client.put(
        "/api/v1/case-calendar", json={"hours": OFFICE, "holidays": ["2026-12-07"]}, headers=org.auth("cx")
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"unit_code": None, "hours": OFFICE, "holidays": ["2026-12-07"], "workdays": []}
    policy = client.put(
        "/api/v1/case-sla-policies/high",
        json={"acknowledge_minutes": 60, "resolve_minutes": 600, "escalate_every_minutes": 30},
        headers=org.auth("cx"),
    )
    assert policy.status_code == 200, policy.text
    case_id, _ = open_one(database_url, org)
    due = rows(database_url, f"SELECT ack_due_at, resolve_due_at FROM cases WHERE id = '{case_id}'")
    # Ack: Fri 17:30-18:00, then Tue 09:00-09:30 (Mon a holiday); resolve 600 min:
    # Fri 30 + Tue 480 (lunch excluded) + Wed 90 -> Wed 10:30 local.
    got = client.get(f"/api/v1/cases/{case_id}", headers=org.auth("cx")).json()
    assert (got["ack_due_at"], got["resolve_due_at"]) == ("2026-12-08T01:30:00Z", "2026-12-09T02:30:00Z")
    assert len(due) == 1
    # A store open every day 10-22 in its own calendar (under SH) wins over the tenant's.
    store_hours = {d: [["10:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    assert (
        client.put(
            "/api/v1/case-calendars/SH", json={"hours": store_hours}, headers=org.auth("cx")
        ).status_code
        == 200
    )
    clock.advance(minutes=1)
    store_case, _ = open_one(database_url, org)
    got = client.get(f"/api/v1/cases/{store_case}", headers=org.auth("cx")).json()
    assert got["ack_due_at"] == "2026-12-04T10:31:00Z"  # 18:31 local the same evening
    listed = client.get("/api/v1/case-sla-policies", headers=org.auth("store")).json()["items"]
    assert [(p["priority"], p["acknowledge_minutes"], p["default"]) for p in listed] == [
        ("low", 480, True),
        ("normal", 240, True),
        ("high", 60, False),
        ("urgent", 30, True),
    ]
    assert client.get("/api/v1/case-calendars/SH", headers=org.auth("east")).json()["hours"] == store_hours


def test_bad_policies_and_calendars_are_refused(client: TestClient, org: Org, database_url: str) -> None:
    bad = client.put(
        "/api/v1/case-sla-policies/high",
        json={"acknowledge_minutes": 60, "resolve_minutes": 30},
        headers=org.auth("cx"),
    )
    assert assert_problem(bad, 422, "validation_failed")["errors"][0]["path"] == "resolve_minutes"
    assert_problem(
        client.put(
            "/api/v1/case-sla-policies/high",
            json={"acknowledge_minutes": 1, "resolve_minutes": 2},
            headers=org.auth("store"),
        ),
        403,
        "permission_denied",
    )
    assert_problem(
        client.put(
            "/api/v1/case-sla-policies/soon",
            json={"acknowledge_minutes": 1, "resolve_minutes": 2},
            headers=org.auth("cx"),
        ),
        404,
        "priority_not_found",
    )
    for hours, path in (
        ({"mon": [["18:00", "09:00"]]}, "hours.mon[0]"),
        ({"funday": []}, "hours.funday"),
        ({"mon": [["9:00", "18:00"]]}, "hours.mon[0]"),
    ):
        answer = client.put("/api/v1/case-calendar", json={"hours": hours}, headers=org.auth("cx"))
        assert assert_problem(answer, 422, "validation_failed")["errors"][0]["path"] == path
    answer = client.put(
        "/api/v1/case-calendar", json={"hours": {}, "holidays": ["2026-13-01"]}, headers=org.auth("cx")
    )
    assert assert_problem(answer, 422, "validation_failed")["errors"][0]["path"] == "holidays[0]"
    assert_problem(client.get("/api/v1/case-calendar", headers=org.auth("cx")), 404, "calendar_not_found")
    assert rows(database_url, "SELECT count(*) FROM case_sla_policies") == [(0,)]
    assert rows(database_url, "SELECT count(*) FROM case_calendars") == [(0,)]


def test_escalation_climbs_the_tree_on_breach(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)  # no calendar: every minute counts
    case_id, _ = open_one(database_url, org)  # high: ack in 60, then every 120
    run_jobs(database_url)
    clock.advance(minutes=59)
    assert escalate(database_url) == 0
    with recording() as seen:
        clock.advance(minutes=2)
        assert escalate(database_url) == 1
        assert escalate(database_url) == 0  # not again until the next step
        clock.advance(minutes=120)
        assert escalate(database_url) == 1
        clock.advance(minutes=120)
        assert escalate(database_url) == 1
        clock.advance(minutes=120)
        assert escalate(database_url) == 0  # nobody left above
    targets = [(p["escalated_to_id"], p["escalation_level"], p["breach"]) for _, p in seen]
    assert [e for e, _ in seen] == ["case.escalated"] * 3
    assert targets == [
        (org.user_ids["store"], 1, "acknowledge"),
        (org.user_ids["east"], 2, "acknowledge"),
        (org.user_ids["cx"], 3, "acknowledge"),
    ]
    kinds = [k for (k,) in rows(database_url, "SELECT kind FROM case_entries ORDER BY id")]
    assert kinds == ["created", "assigned", "escalated", "escalated", "escalated", "escalation_exhausted"]
    # The last manager escalated to finds it in "mine", marked overdue.
    mine = client.get("/api/v1/cases", params={"mine": "true"}, headers=org.auth("cx")).json()["items"]
    assert [c["id"] for c in mine] == [case_id]
    assert mine[0]["overdue"] is True


def test_acknowledging_in_time_moves_escalation_to_the_resolve_deadline(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    case_id, _ = open_one(database_url, org)
    clock.advance(minutes=30)
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/transitions", json={"to": "acknowledged"}, headers=org.auth("agent")
        ).status_code
        == 200
    )
    clock.advance(minutes=100)
    assert escalate(database_url) == 0
    clock.advance(minutes=351)  # 481 minutes after opening: resolve (480) breached
    assert escalate(database_url) == 1
    (row,) = rows(database_url, "SELECT escalated_to_id, escalation_level FROM cases")
    assert row == (org.user_ids["store"], 1)
    entry = rows(database_url, "SELECT details FROM case_entries WHERE kind = 'escalated'")
    assert '"resolve"' in str(entry[0][0]) or "'resolve'" in str(entry[0][0])
    # Resolved cases never escalate.
    clock.advance(minutes=1)
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/transitions", json={"to": "resolved"}, headers=org.auth("agent")
        ).status_code
        == 200
    )
    clock.advance(days=3)
    assert escalate(database_url) == 0
