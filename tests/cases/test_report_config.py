"""Root-cause tree, the case report (volume, times, SLA, recovery, root
causes) and the follow-up survey on resolve, on both databases."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cases.support import Clock, open_one, submit
from tests.collection.support import FULL_ANSWERS, definition, rows
from tests.factories import Org
from tests.identity.support import assert_problem


def move(client: TestClient, org: Org, case_id: str, to: str, who: str = "agent") -> None:
    answer = client.post(f"/api/v1/cases/{case_id}/transitions", json={"to": to}, headers=org.auth(who))
    assert answer.status_code == 200, answer.text


def survey_with_case_field(client: TestClient, org: Org) -> str:
    made = definition()
    made["embedded"].append({"name": "case_id"})
    created = client.post("/api/v1/surveys", json={"definition": made}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id


def test_root_cause_tree_crud_and_refusals(client: TestClient, org: Org, database_url: str) -> None:
    for code, names, parent in (
        ("service", {"zh-CN": "服务", "en": "Service"}, None),
        ("service.attitude", {"zh-CN": "服务态度", "en": "Attitude"}, "service"),
        ("product", {"zh-CN": "产品", "en": "Product"}, None),
    ):
        made = client.post(
            "/api/v1/case-root-causes",
            json={"code": code, "names": names, "parent_code": parent},
            headers=org.auth("cx"),
        )
        assert made.status_code == 201, made.text
    tree = client.get("/api/v1/case-root-causes", headers=org.auth("agent")).json()["items"]
    assert [(n["code"], [c["code"] for c in n["children"]]) for n in tree] == [
        ("product", []),
        ("service", ["service.attitude"]),
    ]
    before = rows(database_url, "SELECT code, parent_code, active FROM case_root_causes ORDER BY code")
    assert_problem(
        client.post(
            "/api/v1/case-root-causes", json={"code": "service", "names": {"en": "x"}}, headers=org.auth("cx")
        ),
        409,
        "root_cause_exists",
    )
    assert_problem(
        client.post(
            "/api/v1/case-root-causes",
            json={"code": "x", "names": {"en": "x"}, "parent_code": "nope"},
            headers=org.auth("cx"),
        ),
        422,
        "unknown_root_cause",
    )
    assert_problem(
        client.post(
            "/api/v1/case-root-causes", json={"code": "x", "names": {"en": "x"}}, headers=org.auth("store")
        ),
        403,
        "permission_denied",
    )
    loop = client.patch(
        "/api/v1/case-root-causes/service", json={"parent_code": "service.attitude"}, headers=org.auth("cx")
    )
    assert_problem(loop, 422, "validation_failed")
    assert (
        rows(database_url, "SELECT code, parent_code, active FROM case_root_causes ORDER BY code") == before
    )
    retired = client.patch("/api/v1/case-root-causes/product", json={"active": False}, headers=org.auth("cx"))
    assert retired.status_code == 200 and retired.json()["active"] is False
    case_id, _ = open_one(database_url, org)
    assert_problem(
        client.patch(
            f"/api/v1/cases/{case_id}", json={"root_cause_code": "product"}, headers=org.auth("agent")
        ),
        422,
        "unknown_root_cause",
    )
    set_cause = client.patch(
        f"/api/v1/cases/{case_id}",
        json={"root_cause_code": "service.attitude", "tags": ["回访", "VIP"]},
        headers=org.auth("agent"),
    )
    assert set_cause.status_code == 200, set_cause.text
    assert (set_cause.json()["root_cause_code"], set_cause.json()["tags"]) == (
        "service.attitude",
        ["回访", "VIP"],
    )


def test_report_counts_times_sla_recovery_and_root_causes(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    survey_id = survey_with_case_field(client, org)
    assert (
        client.post(
            "/api/v1/case-root-causes",
            json={"code": "wait", "names": {"zh-CN": "等待", "en": "Waiting"}},
            headers=org.auth("cx"),
        ).status_code
        == 201
    )
    detractor = submit(client, org, survey_id, nps=2)
    fast, _ = open_one(database_url, org, response_id=detractor)  # high: ack 60, resolve 480
    slow, _ = open_one(database_url, org, unit_id=org.unit_ids["SH002"], priority="urgent")  # ack 30
    far, _ = open_one(database_url, org, unit_id=org.unit_ids["GZ001"])
    clock.advance(minutes=10)
    move(client, org, fast, "acknowledged")
    assert (
        client.patch(
            f"/api/v1/cases/{fast}", json={"root_cause_code": "wait"}, headers=org.auth("agent")
        ).status_code
        == 200
    )
    clock.advance(minutes=50)
    move(client, org, fast, "resolved")
    clock.advance(minutes=40)  # the urgent case missed its 30 minutes
    move(client, org, slow, "acknowledged", who="east")
    # The customer answers the follow-up (it carries the case id): recovered.
    submit(client, org, survey_id, nps=9, embedded={"case_id": fast})
    assert rows(database_url, f"SELECT initial_score, later_score FROM cases WHERE id = '{fast}'") == [(2, 9)]
    report = client.get("/api/v1/cases/report", headers=org.auth("east"))
    assert report.status_code == 200, report.text
    assert report.json() == {
        "cases": 2,
        "open": 1,
        "escalated": 0,
        "by_status": {"acknowledged": 1, "resolved": 1},
        "by_priority": {"high": 1, "urgent": 1},
        "time_to_acknowledge": {"count": 2, "median_minutes": 55.0, "p90_minutes": 100.0},
        "time_to_resolve": {"count": 1, "median_minutes": 60.0, "p90_minutes": 60.0},
        "sla": {
            "acknowledge": {"met": 1, "breached": 1, "rate": 0.5},
            "resolve": {"met": 1, "breached": 0, "rate": 1.0},
        },
        "recovery": {"detractor_cases": 1, "with_later_score": 1, "recovered": 1, "rate": 1.0},
        "root_causes": [{"code": "wait", "names": {"zh-CN": "等待", "en": "Waiting"}, "count": 1}],
    }
    everything = client.get("/api/v1/cases/report", headers=org.auth("cx")).json()
    assert everything["cases"] == 3 and everything["sla"]["acknowledge"]["breached"] == 2  # far is late too
    only_sh001 = client.get("/api/v1/cases/report", params={"unit": "SH001"}, headers=org.auth("cx")).json()
    assert only_sh001["cases"] == 1
    assert_problem(
        client.get("/api/v1/cases/report", params={"unit": "GZ001"}, headers=org.auth("east")),
        404,
        "unit_not_found",
    )
    assert far


def test_resolving_with_a_follow_up_sends_the_survey(client: TestClient, org: Org, database_url: str) -> None:
    distribution = importlib.import_module("cxloop.distribution")
    customers = importlib.import_module("cxloop.customers")
    if not hasattr(distribution, "send_survey"):
        pytest.skip("distribution.send_survey is not exported yet")
    import asyncio

    from cxloop.kit.db import Database

    async def contact() -> str:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                contact_id: str = await customers.upsert_contact(
                    session, org.tenant_id, {"email": "li@example.com"}, source="tests"
                )
                await session.commit()
                return contact_id
        finally:
            await db.dispose()

    contact_id = asyncio.run(contact())
    survey_id = survey_with_case_field(client, org)
    case_id, _ = open_one(database_url, org, contact_id=contact_id)
    move(client, org, case_id, "acknowledged")
    resolved = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "resolved", "follow_up_survey_id": survey_id},
        headers=org.auth("agent"),
    )
    assert resolved.status_code == 200, resolved.text
    follow_up = [e for e in resolved.json()["timeline"] if e["kind"] == "follow_up"]
    assert len(follow_up) == 1 and follow_up[0]["details"]["survey_id"] == survey_id
    # The test tenant has no channel configured: distribution records a skipped
    # invitation with its reason, and the case's timeline says it was not sent.
    assert resolved.json()["follow_up_invitation_id"] is None
    assert follow_up[0]["details"]["skipped"] == "not_sent"
    ((status, why, reason),) = rows(
        database_url, f"SELECT status, skip_reason, reason FROM invitations WHERE contact_id = '{contact_id}'"
    )
    assert (status, reason) == ("skipped", "case_follow_up") and why.startswith("no_channel")
    refused = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "closed", "follow_up_survey_id": survey_id},
        headers=org.auth("store"),
    )
    assert_problem(refused, 422, "validation_failed")


def test_follow_up_calls_distribution_on_the_original_channel(
    client: TestClient, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call cases makes, against the agreed signature (a recording stand-in)."""
    distribution = importlib.import_module("cxloop.distribution")
    calls: list[tuple[Any, ...]] = []

    async def send_survey(
        session: Any, tenant_id: str, contact_id: str, survey_id: str, **options: Any
    ) -> str:
        calls.append((tenant_id, contact_id, survey_id, options))
        return "INVITATION-1"

    monkeypatch.setattr(distribution, "send_survey", send_survey, raising=False)
    survey_id = survey_with_case_field(client, org)
    response_id = submit(client, org, survey_id, nps=2)  # channel "sms"
    case_id, _ = open_one(database_url, org, response_id=response_id, contact_id="C1")
    move(client, org, case_id, "acknowledged")
    resolved = client.post(
        f"/api/v1/cases/{case_id}/transitions",
        json={"to": "resolved", "follow_up_survey_id": survey_id},
        headers=org.auth("agent"),
    )
    assert resolved.status_code == 200, resolved.text
    assert calls == [
        (
            org.tenant_id,
            "C1",
            survey_id,
            {
                "channel": "sms",
                "reason": "case_follow_up",
                "embedded": {"case_id": case_id, "case_number": "1"},
                "respect_frequency": False,
            },
        )
    ]
    assert resolved.json()["follow_up_invitation_id"] == "INVITATION-1"
    # Without a contact there is nobody to ask: the case still resolves, and says so.
    other, _ = open_one(database_url, org)
    move(client, org, other, "acknowledged")
    done = client.post(
        f"/api/v1/cases/{other}/transitions",
        json={"to": "resolved", "follow_up_survey_id": survey_id},
        headers=org.auth("agent"),
    )
    assert done.status_code == 200
    assert [e["details"] for e in done.json()["timeline"] if e["kind"] == "follow_up"] == [
        {"skipped": "no_contact"}
    ]
    assert len(calls) == 1


def test_a_later_response_of_the_same_customer_is_the_later_score(
    client: TestClient, org: Org, database_url: str
) -> None:
    """Without a follow-up link, the customer directory links the next answer to the case."""
    survey_id = survey_with_case_field(client, org)
    first = submit(client, org, survey_id, nps=3, contact={"email": "wang@example.com"})
    (contact_id,) = rows(
        database_url, f"SELECT contact_id FROM contact_responses WHERE response_id = '{first}'"
    )[0]
    case_id, _ = open_one(database_url, org, response_id=first, contact_id=contact_id)
    submit(client, org, survey_id, nps=8, contact={"email": "wang@example.com"})
    # Not resolved yet: a later answer before the case is resolved is not a recovery.
    assert rows(database_url, "SELECT later_score FROM cases") == [(None,)]
    move(client, org, case_id, "acknowledged")
    move(client, org, case_id, "resolved")
    later = submit(client, org, survey_id, nps=9, contact={"email": "wang@example.com"})
    submit(client, org, survey_id, nps=1, contact={"email": "wang@example.com"})  # only the first counts
    assert rows(database_url, "SELECT later_score, later_response_id FROM cases") == [(9, later)]


def test_in_one_pipeline_batch_the_first_later_answer_is_the_later_score(
    client: TestClient, org: Org, database_url: str
) -> None:
    """The recovery subscriber takes a batch at once: of two later answers of the same
    customer in one batch, the first is the recovery, as if they had come one by one."""
    survey_id = survey_with_case_field(client, org)
    first = submit(client, org, survey_id, nps=3, contact={"email": "li@example.com"})
    (contact_id,) = rows(
        database_url, f"SELECT contact_id FROM contact_responses WHERE response_id = '{first}'"
    )[0]
    case_id, _ = open_one(database_url, org, response_id=first, contact_id=contact_id)
    move(client, org, case_id, "acknowledged")
    move(client, org, case_id, "resolved")
    answers = {**FULL_ANSWERS, "why": "还行"}
    items = [
        {"answers": {**answers, "nps": nps}, "unit_code": "SH001", "contact": {"email": "li@example.com"}}
        for nps in (6, 10)
    ]
    answer = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("store")
    )
    assert answer.status_code == 200, answer.text
    later, _second = [item["id"] for item in answer.json()["results"]]
    assert rows(database_url, "SELECT later_score, later_response_id FROM cases") == [(6, later)]


def test_a_merge_later_in_the_same_batch_keeps_the_earlier_answer_s_recovery(
    client: TestClient, org: Org, database_url: str
) -> None:
    """The first answer of the batch is the phone's customer's, who has a resolved case; the
    second names that phone and another customer's email, both verified, so linking it merges
    the phone's customer into the email's. Answer by answer, the first was the case's later
    score before the merge; set-based, the recovery runs after it and must still find it."""
    from tests.customers.support import make_contact

    survey_id = survey_with_case_field(client, org)
    emailed = make_contact(client, org, identities={"email": "zhao@example.com"}, verified=["email"])
    phoned = make_contact(client, org, identities={"phone": "13500135002"}, verified=["phone"])
    case_id, _ = open_one(database_url, org, response_id=None, contact_id=phoned["id"])
    move(client, org, case_id, "acknowledged")
    move(client, org, case_id, "resolved")
    answers = {**FULL_ANSWERS, "why": "还行"}
    contacts = [{"phone": "13500135002"}, {"email": "zhao@example.com", "phone": "13500135002"}]
    items = [
        {"answers": {**answers, "nps": nps}, "unit_code": "SH001", "contact": contact}
        for nps, contact in zip((9, 4), contacts, strict=True)
    ]
    answer = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("store")
    )
    assert answer.status_code == 200, answer.text
    first, _second = [item["id"] for item in answer.json()["results"]]
    assert rows(database_url, "SELECT id, merged_into FROM contacts ORDER BY created_at") == [
        (emailed["id"], None),
        (phoned["id"], emailed["id"]),
    ]
    assert rows(database_url, "SELECT later_score, later_response_id FROM cases") == [(9, first)]


def test_a_merge_later_in_the_same_batch_keeps_the_earlier_alert_on_the_open_case(
    client: TestClient, org: Org, database_url: str
) -> None:
    """As above for an alert's case: the first answer's customer has an open case and the
    rule opens at most one per customer in 7 days, so answer by answer its alert joins that
    case; set-based, the alert is evaluated after the merge (with the survivor as its
    contact) and must still join it."""
    from tests.alerts.support import DETRACTOR, rule
    from tests.customers.support import make_contact

    survey_id = survey_with_case_field(client, org)
    make_contact(client, org, identities={"email": "qian@example.com"}, verified=["email"])
    phoned = make_contact(client, org, identities={"phone": "13500135003"}, verified=["phone"])
    case_id, _ = open_one(database_url, org, response_id=None, contact_id=phoned["id"])
    rule(client, org, {**DETRACTOR, "actions": {"open_case": {"dedupe_days": 7}}})
    # A rule on a contact attribute: alerts are given their contact only when a rule reads one.
    vip = {
        "kind": "response",
        "condition": {"source": "contact", "field": "tier", "op": "eq", "value": "vip"},
    }
    rule(client, org, vip, name="VIP")
    answers = {**FULL_ANSWERS, "why": "还行"}
    contacts = [{"phone": "13500135003"}, {"email": "qian@example.com", "phone": "13500135003"}]
    items = [
        {"answers": {**answers, "nps": nps}, "unit_code": "SH001", "contact": contact}
        for nps, contact in zip((2, 9), contacts, strict=True)
    ]
    answer = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("store")
    )
    assert answer.status_code == 200, answer.text
    first, _second = [item["id"] for item in answer.json()["results"]]
    assert rows(database_url, "SELECT response_id, case_id FROM alerts") == [(first, case_id)]
    assert rows(database_url, "SELECT id FROM cases") == [(case_id,)]
