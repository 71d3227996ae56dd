"""Case metrics through POST /api/v1/metrics/query: cases registers a provider
with analytics (which sits below it), and the query API answers case volume,
time to acknowledge and resolve, SLA compliance, recovery rate and root
causes by time and unit, within the caller's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.cases import Case
from cxloop.kit.db import Database
from cxloop.kit.ids import new_id
from tests.analytics.support import query
from tests.factories import Org, run

MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
ALL = [
    "cases.opened",
    "cases.time_to_acknowledge",
    "cases.time_to_resolve",
    "cases.sla_compliance",
    "cases.recovery_rate",
    "cases.root_causes",
]


@pytest.fixture
def cases(org: Org, database_url: str) -> None:
    def at(month: int, day: int) -> datetime:
        return datetime(2026, month, day, 2, 0, tzinfo=UTC)

    # unit, source, created, ack after (min), ack due (min), resolved after, resolve due, scores, cause
    specs: list[tuple[Any, ...]] = [
        ("SH001", "alert", at(3, 2), 30, 60, 300, 240, (3, 8), "staff"),
        ("SH001", "manual", at(3, 5), 90, 60, 100, 240, (5, 4), "staff"),
        ("SH001", "alert", at(3, 20), None, 60, None, 240, (6, None), "price"),
        ("SH002", "alert", at(4, 1), 10, 60, None, None, (9, None), None),
        ("GZ001", "alert", at(3, 10), 20, 60, 60, 240, (2, 10), "delivery"),
    ]

    async def seed() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                for number, (unit, source, created, ack, ack_due, done, done_due, scores, cause) in enumerate(
                    specs, start=1
                ):

                    def plus(minutes: int | None, start: datetime = created) -> datetime | None:
                        return start + timedelta(minutes=minutes) if minutes is not None else None

                    session.add(
                        Case(
                            id=new_id(),
                            tenant_id=org.tenant_id,
                            number=number,
                            title=f"case {number}",
                            status="resolved" if done is not None else ("acknowledged" if ack else "new"),
                            priority="normal",
                            source=source,
                            unit_id=org.unit_ids[unit],
                            escalation_level=0,
                            root_cause_code=cause,
                            tags=[],
                            initial_score=scores[0],
                            later_score=scores[1],
                            created_at=created,
                            updated_at=created,
                            acknowledged_at=plus(ack),
                            resolved_at=plus(done),
                            ack_due_at=plus(ack_due),
                            resolve_due_at=plus(done_due),
                        )
                    )
                await session.commit()
        finally:
            await db.dispose()

    run(seed())


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_case_metric_over_the_caller_scope(client: TestClient, org: Org, cases: None) -> None:
    body = ok(query(client, org, metrics=ALL, filters=MARCH))
    assert body["source"] == "provider:cases"
    assert body["rows"] == [
        {
            "n": 4,
            "cases.opened": 4,
            "alert_cases": 3,
            "cases.time_to_acknowledge": 30.0,
            "cases.time_to_acknowledge_p90": 90.0,
            "cases.time_to_acknowledge_n": 3,
            "cases.time_to_resolve": 100.0,
            "cases.time_to_resolve_p90": 300.0,
            "cases.time_to_resolve_n": 3,
            "cases.sla_compliance": 50.0,
            "sla_due": 8,
            "sla_acknowledge": 50.0,
            "sla_resolve": 50.0,
            "cases.recovery_rate": 66.67,
            "recovery_detractor_cases": 4,
            "recovery_with_later_score": 3,
            "recovered": 2,
            "cases.root_causes": {"staff": 2, "delivery": 1, "price": 1},
        }
    ]


def test_grouped_by_region_and_month(client: TestClient, org: Org, cases: None) -> None:
    regions = ok(query(client, org, metrics=["cases.opened"], filters=MARCH, group_by=["unit_level:1"]))
    assert [(r["unit_code"], r["cases.opened"], r["alert_cases"]) for r in regions["rows"]] == [
        ("EAST", 3, 2),
        ("SOUTH", 1, 1),
    ]
    months = ok(
        query(
            client,
            org,
            metrics=["cases.sla_compliance"],
            filters={"date_from": "2026-03-01", "date_to": "2026-04-30"},
            group_by=["month"],
        )
    )
    assert [(r["month"], r["n"], r["cases.sla_compliance"]) for r in months["rows"]] == [
        ("2026-03", 4, 50.0),
        ("2026-04", 1, 100.0),
    ]


def test_a_manager_sees_only_their_units_cases(client: TestClient, org: Org, cases: None) -> None:
    mine = ok(query(client, org, "east", metrics=["cases.opened", "cases.recovery_rate"], filters=MARCH))
    row = mine["rows"][0]
    assert (row["cases.opened"], row["cases.recovery_rate"], row["recovered"]) == (3, 50.0, 1)
    outside = query(client, org, "east", metrics=["cases.opened"], filters={**MARCH, "unit_code": "GZ001"})
    assert outside.status_code == 404


def test_bad_case_metric_queries_are_refused_with_the_valid_names(
    client: TestClient, org: Org, cases: None
) -> None:
    unknown = query(client, org, metrics=["cases.bogus"])
    assert unknown.status_code == 422
    detail = unknown.json()["detail"]
    assert "cases.opened" in detail and "nps" in detail and "cases.root_causes" in detail
    mixed = query(client, org, metrics=["nps", "cases.opened"])
    assert mixed.status_code == 422 and mixed.json()["code"] == "unknown_metric"
    compared = query(client, org, metrics=["cases.opened"], compare="previous_period")
    assert compared.status_code == 422 and compared.json()["code"] == "unknown_compare"
    filtered = query(client, org, metrics=["cases.opened"], filters={"channel": "sms"})
    assert filtered.status_code == 422 and filtered.json()["code"] == "unknown_filter"
    grouped = query(client, org, metrics=["cases.opened"], group_by=["channel"])
    assert grouped.status_code == 422 and grouped.json()["code"] == "unknown_group"
    reversed_dates = query(
        client, org, metrics=["cases.opened"], filters={"date_from": "2026-04-01", "date_to": "2026-03-01"}
    )
    assert reversed_dates.status_code == 422


def test_a_dashboard_tile_shows_case_metrics(client: TestClient, org: Org, cases: None) -> None:
    tile = {
        "id": "sla",
        "type": "kpi",
        "query": {"metrics": ["cases.sla_compliance"]},
        "position": {"x": 0, "y": 0, "w": 3, "h": 2},
    }
    made = client.post(
        "/api/v1/dashboards", json={"name": "SLA", "definition": {"widgets": [tile]}}, headers=org.auth("cx")
    )
    assert made.status_code == 201, made.text
    got = client.get(
        f"/api/v1/dashboards/{made.json()['id']}/data?period=custom&date_from=2026-03-01&date_to=2026-03-31",
        headers=org.auth("cx"),
    )
    widget = got.json()["widgets"]["sla"]
    assert widget["error"] is None, widget
    assert widget["rows"][0]["cases.sla_compliance"] == 50.0
