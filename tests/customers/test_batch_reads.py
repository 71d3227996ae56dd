"""The batch forms of the directory reads a delivery job uses: ``contacts_reach``
and ``consents_allow`` answer exactly what the per-contact ``contact_reach``
and ``consent_allows`` answer, in a fixed number of queries per batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from cxloop.customers import consent_allows, consents_allow, contact_reach, contacts_reach
from cxloop.kit.db import Database
from tests.customers.support import make_contact
from tests.factories import Org, make_org, run


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    """The SELECT statements run on ``db`` inside the block."""
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
            statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", note)


def consent(client: TestClient, org: Org, contact_id: str, channel: str, granted: bool, **extra: Any) -> None:
    answer = client.post(
        f"/api/v1/contacts/{contact_id}/consent",
        json={"channel": channel, "granted": granted, "source": "api", **extra},
        headers=org.auth("cx"),
    )
    assert answer.status_code == 201, answer.text


def test_contacts_reach_answers_what_contact_reach_answers_in_two_queries(
    client: TestClient, org: Org, database_url: str
) -> None:
    full = make_contact(
        client,
        org,
        identities={"email": "li@example.com", "phone": "13800138000", "member_id": "M1"},
        name="Li Lei",
        first_name="Lei",
        language="zh-CN",
        timezone="Asia/Shanghai",
        unit_code="SH001",
        tags=["vip"],
        attributes={"tier": "gold"},
    )
    bare = make_contact(client, org, identities={"member_id": "M2"})
    # Two records of one person, folded together: the old id reaches the survivor.
    survivor = make_contact(client, org, identities={"email": "wang@example.com"})
    folded = make_contact(client, org, identities={"phone": "13900139000"})
    make_contact(
        client,
        org,
        identities={"email": "wang@example.com", "phone": "13900139000"},
        verified=["email", "phone"],
    )
    other = make_org(database_url, slug="other", email_domain="other.test")
    elsewhere = make_contact(client, other, identities={"email": "x@other.example.com"})
    asked = [full["id"], bare["id"], folded["id"], survivor["id"], elsewhere["id"], "missing", "x" * 27]

    async def work() -> tuple[dict[str, Any], dict[str, Any], int, int]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                one_by_one = {each: await contact_reach(session, org.tenant_id, each) for each in asked}
            async with db.session(write=False) as session:
                with counted(db) as statements:
                    batch = await contacts_reach(session, org.tenant_id, asked)
                with_merge = len(statements)
            async with db.session(write=False) as session:
                with counted(db) as statements:
                    await contacts_reach(session, org.tenant_id, [full["id"], bare["id"], survivor["id"]])
                without_merge = len(statements)
            return one_by_one, batch, with_merge, without_merge
        finally:
            await db.dispose()

    one_by_one, batch, with_merge, without_merge = run(work())
    assert batch == {each: reach for each, reach in one_by_one.items() if reach is not None}
    assert sorted(batch) == sorted([full["id"], bare["id"], folded["id"], survivor["id"]])
    reach = batch[full["id"]]
    assert (reach.email, reach.phone, reach.name, reach.first_name) == (
        "li@example.com",
        "+8613800138000",
        "Li Lei",
        "Lei",
    )
    assert (reach.language, reach.timezone, reach.tags, reach.attributes) == (
        "zh-CN",
        "Asia/Shanghai",
        ("vip",),
        {"tier": "gold"},
    )
    assert batch[folded["id"]].contact_id == survivor["id"]
    assert batch[folded["id"]].phone == "+8613900139000"
    # The contacts and their identities; one more read for the one merge hop.
    assert (without_merge, with_merge) == (2, 3)


def test_consents_allow_answers_what_consent_allows_answers_in_one_query(
    client: TestClient, org: Org, database_url: str
) -> None:
    withdrawn = make_contact(client, org, identities={"email": "a@example.com"})["id"]
    regranted = make_contact(client, org, identities={"email": "b@example.com"})["id"]
    silent = make_contact(client, org, identities={"email": "c@example.com"})["id"]
    consent(client, org, withdrawn, "email", True)
    consent(client, org, withdrawn, "email", False)
    consent(client, org, regranted, "sms", False)
    consent(client, org, regranted, "sms", True)
    consent(client, org, regranted, "email", False)
    consent(client, org, silent, "wechat", False, purpose="marketing")  # another purpose: no say
    policy = client.put(
        "/api/v1/consent-policy", json={"opt_in_channels": ["wechat"]}, headers=org.auth("cx")
    )
    assert policy.status_code == 200, policy.text
    pairs = [
        (contact, channel)
        for contact in (withdrawn, regranted, silent, "missing")
        for channel in ("email", "sms", "wechat")
    ]

    async def work() -> tuple[dict[tuple[str, str], bool], dict[tuple[str, str], bool], int, int]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                one_by_one = {
                    (contact, channel): await consent_allows(session, org.tenant_id, contact, channel)
                    for contact, channel in pairs
                }
            async with db.session(write=False) as session:
                with counted(db) as statements:
                    batch = await consents_allow(session, org.tenant_id, pairs)
                all_pairs = len(statements)
            async with db.session(write=False) as session:
                with counted(db) as statements:
                    recorded = await consents_allow(
                        session, org.tenant_id, [(withdrawn, "email"), (regranted, "sms")]
                    )
                only_recorded = len(statements)
            assert recorded == {(withdrawn, "email"): False, (regranted, "sms"): True}
            return one_by_one, batch, all_pairs, only_recorded
        finally:
            await db.dispose()

    one_by_one, batch, all_pairs, only_recorded = run(work())
    assert batch == one_by_one
    assert {pair for pair, allowed in batch.items() if not allowed} == {
        (withdrawn, "email"),
        (regranted, "email"),
        *((contact, "wechat") for contact in (withdrawn, regranted, silent, "missing")),
    }
    # Which records hold the ledgers (merges), the ledger once, and the tenant's
    # policy only when some pair has no record.
    assert (all_pairs, only_recorded) == (3, 2)
