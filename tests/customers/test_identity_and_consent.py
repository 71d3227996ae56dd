"""Identity resolution and merges; the consent ledger; the unsubscribe link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from cxloop.customers import consent_allows, consents_allow, record_consent, unsubscribe_url
from cxloop.kit.db import Database
from tests.customers.support import make_contact, rows, written
from tests.factories import Org, run
from tests.identity.support import assert_problem


def test_two_records_sharing_a_verified_identity_merge_keeping_history(
    client: TestClient, org: Org, database_url: str
) -> None:
    by_email = make_contact(
        client, org, identities={"email": "m@example.com"}, tags=["a"], attributes={"x": 1}
    )
    by_phone = make_contact(client, org, identities={"phone": "13600136000"}, tags=["b"], attributes={"y": 2})
    consent = client.post(
        f"/api/v1/contacts/{by_phone['id']}/consent",
        json={"channel": "sms", "granted": False, "source": "sms_stop"},
        headers=org.auth("cx"),
    )
    assert consent.status_code == 201
    # Unverified, the upsert updates the strongest match and leaves the other record alone.
    loose = make_contact(client, org, identities={"email": "m@example.com", "phone": "13600136000"})
    assert loose["id"] == by_email["id"]
    assert rows(database_url, "SELECT count(*) FROM contacts WHERE merged_into IS NULL") == [(2,)]
    # Verified, the two records are one person: folded together, history kept.
    merged = make_contact(
        client,
        org,
        identities={"email": "m@example.com", "phone": "13600136000"},
        verified=["email", "phone"],
    )
    assert merged["id"] == by_email["id"]
    assert merged["tags"] == ["a", "b"]
    assert merged["attributes"] == {"x": 1, "y": 2}
    assert sorted(i["kind"] for i in merged["identities"]) == ["email", "phone"]
    assert all(i["verified"] for i in merged["identities"])
    old = client.get(f"/api/v1/contacts/{by_phone['id']}", headers=org.auth("cx"))
    assert old.json()["id"] == by_email["id"]
    ledger = client.get(f"/api/v1/contacts/{by_email['id']}/consent", headers=org.auth("cx")).json()
    assert ledger["state"] == {"sms": {"survey": False}}
    assert rows(database_url, "SELECT survivor_id, merged_id, reason FROM contact_merges") == [
        (by_email["id"], by_phone["id"], "identity")
    ]


def test_manual_merge_and_its_refusals(client: TestClient, org: Org, database_url: str) -> None:
    one = make_contact(client, org, identities={"member_id": "A1"}, unit_code="SH001")
    two = make_contact(client, org, identities={"member_id": "A2"}, unit_code="SH001")
    far = make_contact(client, org, identities={"member_id": "A3"}, unit_code="GZ001")
    hidden = client.post(
        f"/api/v1/contacts/{one['id']}/merge", json={"merge_id": far["id"]}, headers=org.auth("east")
    )
    assert_problem(hidden, 404, "contact_not_found")
    same = client.post(
        f"/api/v1/contacts/{one['id']}/merge", json={"merge_id": one["id"]}, headers=org.auth("cx")
    )
    assert_problem(same, 409, "merge_same_contact")
    before = written(database_url)
    analyst = client.post(
        f"/api/v1/contacts/{one['id']}/merge", json={"merge_id": two["id"]}, headers=org.auth("analyst")
    )
    assert_problem(analyst, 403, "permission_denied")
    assert written(database_url) == before
    done = client.post(
        f"/api/v1/contacts/{one['id']}/merge", json={"merge_id": two["id"]}, headers=org.auth("east")
    )
    assert done.status_code == 200, done.text
    assert sorted(i["value"] for i in done.json()["identities"]) == ["A1", "A2"]
    listed = client.get("/api/v1/contacts", headers=org.auth("cx")).json()["items"]
    assert sorted(c["id"] for c in listed) == sorted([one["id"], far["id"]])
    again = client.post(
        f"/api/v1/contacts/{one['id']}/merge", json={"merge_id": two["id"]}, headers=org.auth("cx")
    )
    assert_problem(again, 409, "merge_same_contact")


def test_consent_ledger_latest_wins_and_opt_in_policy(
    client: TestClient, org: Org, database_url: str
) -> None:
    contact = make_contact(client, org, identities={"email": "c@example.com"})
    cid = contact["id"]

    async def allows(channel: str, purpose: str = "survey") -> bool:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await consent_allows(session, org.tenant_id, cid, channel, purpose)
        finally:
            await db.dispose()

    assert run(allows("email")) is True
    for granted in (False, True, False):
        response = client.post(
            f"/api/v1/contacts/{cid}/consent",
            json={"channel": "email", "granted": granted, "source": "api", "policy_version": "2026-01"},
            headers=org.auth("cx"),
        )
        assert response.status_code == 201
    assert run(allows("email")) is False
    assert run(allows("email", "marketing")) is True
    ledger = client.get(
        f"/api/v1/contacts/{cid}/consent", headers=org.auth("analyst" if False else "cx")
    ).json()
    assert [r["granted"] for r in ledger["records"]] == [False, True, False]
    assert ledger["state"] == {"email": {"survey": False}}
    policy = client.put(
        "/api/v1/consent-policy",
        json={"opt_in_channels": ["sms", "wechat"], "policy_version": "v2"},
        headers=org.auth("cx"),
    )
    assert policy.json() == {"opt_in_channels": ["sms", "wechat"], "policy_version": "v2"}
    assert run(allows("sms")) is False
    assert run(allows("web")) is True
    bad = client.post(
        f"/api/v1/contacts/{cid}/consent", json={"channel": "fax", "granted": True}, headers=org.auth("cx")
    )
    assert_problem(bad, 422, "unknown_channel")
    bad_policy = client.put(
        "/api/v1/consent-policy", json={"opt_in_channels": ["fax"]}, headers=org.auth("cx")
    )
    assert_problem(bad_policy, 422, "validation_failed")
    assert_problem(
        client.put("/api/v1/consent-policy", json={"opt_in_channels": []}, headers=org.auth("east")),
        403,
        "permission_denied",
    )


def test_stop_reply_through_the_interface_takes_effect_at_once(
    client: TestClient, org: Org, database_url: str
) -> None:
    cid = make_contact(client, org, identities={"phone": "13500135000"})["id"]

    async def work() -> tuple[bool, bool]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                before = await consent_allows(session, org.tenant_id, cid, "sms")
                await record_consent(session, org.tenant_id, cid, "sms", "survey", False, source="sms_stop")
                after = await consent_allows(session, org.tenant_id, cid, "sms")
                await session.commit()
                return before, after
        finally:
            await db.dispose()

    assert run(work()) == (True, False)
    assert rows(database_url, "SELECT source, granted FROM consent_records") == [("sms_stop", False)]


def test_unsubscribe_link_one_click(client: TestClient, org: Org, database_url: str) -> None:
    cid = make_contact(client, org, identities={"email": "u@example.com"})["id"]
    secret = client.app.state.settings.effective_secret_key()  # type: ignore[attr-defined]
    path = unsubscribe_url(secret, org.tenant_id, cid, "email")
    assert re.fullmatch(r"/u/[A-Za-z0-9_.\-]+", path)
    page = client.get(path)
    assert page.status_code == 200
    assert "u@example.com" not in page.text
    assert rows(database_url, "SELECT count(*) FROM consent_records") == [(0,)]
    # RFC 8058 one-click: a POST with List-Unsubscribe=One-Click, no CSRF token, no session.
    done = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200, done.text
    assert rows(database_url, "SELECT channel, purpose, granted, source FROM consent_records") == [
        ("email", "survey", False, "unsubscribe_link")
    ]
    again = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert rows(database_url, "SELECT count(*) FROM consent_records") == [(1,)]
    forged = client.get(path[:-3] + "abc")
    assert forged.status_code == 404
    assert client.post("/u/nonsense", data={}).status_code == 404


def test_unsubscribe_link_of_a_merged_contact_reaches_the_survivor(
    client: TestClient, org: Org, database_url: str
) -> None:
    survivor = make_contact(client, org, identities={"member_id": "S1"})
    merged = make_contact(client, org, identities={"member_id": "S2"})
    secret = client.app.state.settings.effective_secret_key()  # type: ignore[attr-defined]
    path = unsubscribe_url(secret, org.tenant_id, merged["id"], "sms")
    merge = client.post(
        f"/api/v1/contacts/{survivor['id']}/merge", json={"merge_id": merged["id"]}, headers=org.auth("cx")
    )
    assert merge.status_code == 200
    page = client.get(path, headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Stop receiving survey invitations as SMS messages?" in page.text
    done = client.post(path, headers={"Accept-Language": "en"})
    assert "You will get no more survey invitations as SMS messages." in done.text
    assert rows(database_url, "SELECT contact_id, channel, granted FROM consent_records") == [
        (survivor["id"], "sms", False)
    ]
    other_tenant_path = unsubscribe_url(secret, "01ARZ3NDEKTSV4RRFFQ69G5FAV", merged["id"], "sms")
    assert client.get(other_tenant_path).status_code == 404


def test_consent_of_a_merged_contact_is_the_survivors_for_invitations_made_before_the_merge(
    client: TestClient, org: Org, database_url: str
) -> None:
    survivor = make_contact(client, org, identities={"member_id": "M1"})
    merged = make_contact(client, org, identities={"member_id": "M2"})
    assert (
        client.post(
            f"/api/v1/contacts/{survivor['id']}/merge",
            json={"merge_id": merged["id"]},
            headers=org.auth("cx"),
        ).status_code
        == 200
    )

    async def work() -> tuple[bool, dict[tuple[str, str], bool]]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                # A STOP reply to an old invitation names the merged record.
                await record_consent(
                    session, org.tenant_id, merged["id"], "email", "survey", False, source="sms_stop"
                )
                one = await consent_allows(session, org.tenant_id, survivor["id"], "email")
                many = await consents_allow(
                    session,
                    org.tenant_id,
                    [(merged["id"], "email"), (survivor["id"], "email"), (merged["id"], "sms")],
                )
                await session.commit()
                return one, many
        finally:
            await db.dispose()

    one, many = run(work())
    assert one is False
    assert many == {
        (merged["id"], "email"): False,
        (survivor["id"], "email"): False,
        (merged["id"], "sms"): True,
    }
    assert rows(database_url, "SELECT contact_id, channel, granted FROM consent_records") == [
        (survivor["id"], "email", False)
    ]
