"""Stored responses are linked to their contact by the customers pipeline subscriber."""

from __future__ import annotations

from fastapi.testclient import TestClient

from cxloop.customers import contact_ids_for_responses
from cxloop.kit.db import Database
from tests.customers.support import make_contact, make_nps_survey, rows
from tests.factories import Org, run


def test_responses_link_to_contacts_without_moving_their_home_unit(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = make_nps_survey(client, org)
    known = make_contact(client, org, identities={"email": "k@example.com"}, unit_code="SH001")
    ids = []
    for contact, unit in (
        ({"email": "K@example.com"}, "GZ001"),
        ({"phone": "13500135000"}, "SH002"),
        ({}, "SH001"),
    ):
        response = client.post(
            f"/api/v1/surveys/{survey_id}/responses",
            json={"answers": {"nps": 8}, "unit_code": unit, "contact": contact},
            headers=org.auth("cx"),
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert (
        client.get(f"/api/v1/contacts/{known['id']}", headers=org.auth("cx")).json()["unit_code"] == "SH001"
    )
    created = client.get(
        "/api/v1/contacts", params={"kind": "phone", "value": "13500135000"}, headers=org.auth("cx")
    )
    [new] = created.json()["items"]
    assert new["unit_code"] == "SH002"

    async def links() -> dict[str, str]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await contact_ids_for_responses(
                    session, org.tenant_id, [*ids, "01ARZ3NDEKTSV4RRFFQ69G5FAV"]
                )
        finally:
            await db.dispose()

    assert run(links()) == {ids[0]: known["id"], ids[1]: new["id"]}
    assert rows(database_url, "SELECT count(*) FROM contact_responses") == [(2,)]


def test_a_batch_links_each_response_in_order_against_what_the_batch_made(
    client: TestClient, org: Org, database_url: str
) -> None:
    # One pipeline job carries the whole batch, so the set-based link sees every response
    # at once: a new customer named twice is one contact, and the second response's new
    # identity joins it; a known contact is found; no contact links nothing.
    survey_id = make_nps_survey(client, org)
    known = make_contact(client, org, identities={"email": "k@example.com"}, unit_code="SH001")
    contacts = [
        {"email": "new@example.com"},
        {"email": "NEW@example.com", "phone": "13500135001"},
        {"email": "K@example.com"},
        {},
        {"phone": "13500135001"},
    ]
    items = [{"answers": {"nps": 8}, "unit_code": "GZ001", "contact": contact} for contact in contacts]
    answer = client.post(
        f"/api/v1/surveys/{survey_id}/responses/batch", json={"responses": items}, headers=org.auth("cx")
    )
    assert answer.status_code == 200, answer.text
    ids = [item["id"] for item in answer.json()["results"]]
    found = client.get(
        "/api/v1/contacts", params={"kind": "phone", "value": "13500135001"}, headers=org.auth("cx")
    )
    [new] = found.json()["items"]
    assert new["unit_code"] == "GZ001"

    async def links() -> dict[str, str]:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await contact_ids_for_responses(session, org.tenant_id, ids)
        finally:
            await db.dispose()

    assert run(links()) == {ids[0]: new["id"], ids[1]: new["id"], ids[2]: known["id"], ids[4]: new["id"]}
    assert rows(
        database_url,
        "SELECT kind, count(*) FROM contact_identities WHERE contact_id = :c GROUP BY kind ORDER BY kind",
        c=new["id"],
    ) == [("email", 1), ("phone", 1)]
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(2,)]
