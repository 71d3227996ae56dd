"""Response rate from the invitations: answered / sent, per unit, month,
channel and survey, within the caller's scope, compared with the period before."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution import Invitation
from cxloop.kit.db import Database
from cxloop.kit.ids import new_id
from tests.analytics.support import make_survey, query, submit
from tests.factories import Org, run

MARCH = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
# unit -> (sent, answered) in March; None: invitations with no unit.
SENT = {"SH001": (20, 5), "SH002": (10, 4), "GZ001": (8, 0), None: (3, 0)}
WHOLE_MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


@pytest.fixture
def invited(client: TestClient, org: Org, database_url: str) -> str:
    survey_id = make_survey(client, org)
    items = [
        {"answers": {"rec": 9}, "unit_code": unit, "channel": "sms", "submitted_at": MARCH.isoformat()}
        for unit in ("SH001", "SH002", "GZ001")
        for _ in range(5)
    ]
    submit(client, org, survey_id, items)

    async def seed() -> None:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:

                def invite(unit: str | None, sent_at: datetime, answered: bool, channel: str = "sms") -> None:
                    session.add(
                        Invitation(
                            id=new_id(),
                            tenant_id=org.tenant_id,
                            survey_id=survey_id,
                            contact_id=new_id(),
                            channel=channel,
                            status="completed" if answered else "delivered",
                            reason="campaign",
                            unit_id=org.unit_ids[unit] if unit else None,
                            embedded={},
                            created_at=sent_at,
                            sent_at=sent_at,
                            responded_at=sent_at + timedelta(hours=2) if answered else None,
                            attempts=1,
                            send_no=0,
                            reminders_sent=0,
                        )
                    )

                for unit, (sent, answered) in SENT.items():
                    for i in range(sent):
                        # SH001's first: 20:00 UTC on 28 February is 04:00 on 1 March in Shanghai.
                        at = datetime(2026, 2, 28, 20, 0, tzinfo=UTC) if unit == "SH001" and i == 0 else MARCH
                        invite(unit, at, i < answered)
                # February (the previous period of March): SH001 sent 10, half answered.
                for i in range(10):
                    invite("SH001", datetime(2026, 2, 10, 4, 0, tzinfo=UTC), i < 5)
                # Unsent (scheduled) invitations count nowhere.
                session.add(
                    Invitation(
                        id=new_id(),
                        tenant_id=org.tenant_id,
                        survey_id=survey_id,
                        contact_id=new_id(),
                        channel="sms",
                        status="scheduled",
                        reason="campaign",
                        unit_id=org.unit_ids["SH001"],
                        embedded={},
                        created_at=MARCH,
                        attempts=0,
                        send_no=0,
                        reminders_sent=0,
                    )
                )
                await session.commit()
        finally:
            await db.dispose()

    run(seed())
    return survey_id


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_tenant_rate_is_answered_over_sent(client: TestClient, org: Org, invited: str) -> None:
    row = ok(query(client, org, metrics=["response_rate"], filters=WHOLE_MARCH))["rows"][0]
    assert (row["invitations"], row["answered"]) == (41, 9)
    assert row["response_rate"] == round(9 / 41 * 100, 2) == 21.95
    assert row["n"] == 15


def test_the_rate_groups_by_unit_and_month(client: TestClient, org: Org, invited: str) -> None:
    body = ok(query(client, org, metrics=["response_rate", "nps"], filters=WHOLE_MARCH, group_by=["unit"]))
    by_unit = {r["unit_code"]: (r["response_rate"], r["invitations"], r["answered"]) for r in body["rows"]}
    assert by_unit == {"SH001": (25.0, 20, 5), "SH002": (40.0, 10, 4), "GZ001": (0.0, 8, 0)}
    months = ok(
        query(
            client,
            org,
            metrics=["response_rate"],
            filters={"date_from": "2026-02-01", "date_to": "2026-03-31"},
            group_by=["month"],
        )
    )
    # February has invitations but no responses: below the anonymity threshold, not shown.
    assert [(r["month"], r["invitations"], r["answered"]) for r in months["rows"]] == [("2026-03", 41, 9)]


def test_a_manager_sees_the_rate_of_their_units(client: TestClient, org: Org, invited: str) -> None:
    row = ok(query(client, org, "east", metrics=["response_rate"], filters=WHOLE_MARCH))["rows"][0]
    assert (row["response_rate"], row["invitations"], row["answered"]) == (30.0, 30, 9)
    outside = query(
        client, org, "east", metrics=["response_rate"], filters={**WHOLE_MARCH, "unit_code": "GZ001"}
    )
    assert outside.status_code == 404


def test_compared_with_the_previous_period(client: TestClient, org: Org, invited: str) -> None:
    body = ok(
        query(
            client,
            org,
            metrics=["response_rate"],
            filters={**WHOLE_MARCH, "unit_code": "SH001"},
            compare="previous_period",
        )
    )
    row = body["rows"][0]
    assert body["comparison_period"] == {"date_from": "2026-01-29", "date_to": "2026-02-28"}
    assert row["response_rate"] == 25.0
    assert row["compare_value"] == 50.0
    assert row["delta"] == -25.0
    pooled = 10 / 30
    z = (5 / 20 - 5 / 10) / math.sqrt(pooled * (1 - pooled) * (1 / 20 + 1 / 10))
    assert row["compare"]["response_rate"]["p_value"] == pytest.approx(
        math.erfc(abs(z) / math.sqrt(2)), abs=1e-6
    )
    assert row["significant"] is False


def test_filters_that_do_not_apply_to_invitations_leave_the_rate_empty(
    client: TestClient, org: Org, invited: str
) -> None:
    body = ok(query(client, org, metrics=["response_rate"], filters={**WHOLE_MARCH, "answers": {"rec": 9}}))
    assert body["rows"][0]["response_rate"] is None
    assert any("answers filter" in note for note in body["notes"])
