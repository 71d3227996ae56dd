"""The send path end to end through a real SMTP server: invitation, personal
link, multipart message, unsubscribe headers, the short link, skips."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.distribution.helpers import configure_email, invite, make_survey, rows, short_code, tables
from tests.distribution.support import FakeDirectory
from tests.factories import Org


def _get(client: TestClient, org: Org, invitation_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/invitations/{invitation_id}", headers=org.auth("cx"))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_invitation_is_emailed_after_commit_with_link_and_headers(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contact = people.add(
        email="li@example.com", first_name="Li", language="en", unit_id=org.unit_ids["SH001"]
    )

    made = invite(client, org, contact, survey_id, touchpoint="checkout")

    assert made["status"] == "queued" and made["channel"] == "email" and made["skip_reason"] is None
    sent = _get(client, org, made["id"])
    assert sent["status"] == "sent"
    assert len(box.messages) == 1
    sender, recipients, message = box.messages[0]
    assert sender == "survey@acme.test" and recipients == ["li@example.com"]
    assert message["Subject"] == "Tell us about your experience: Store survey"
    assert message["Message-ID"] == sent["provider_message_id"] == f"<inv-{made['id']}-0@acme.test>"
    assert (
        message["List-Unsubscribe"]
        == f"<http://localhost:8000/i/{short_code(sent['short_path'])}/unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = [part.get_content_type() for part in message.walk()]
    assert parts == ["multipart/alternative", "text/plain", "text/html"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Li," in text and sent["short_path"] in text and sent["short_path"] in html
    assert sent["attempts_log"][0]["idempotency_key"] == f"inv-{made['id']}-0"
    assert sent["attempts_log"][0]["outcome"] == "sent"

    # The link row was made through collection's personal links: channel and touchpoint recorded.
    assert rows(
        client.app.state.settings.effective_database_url,
        "SELECT channel, touchpoint, contact_ref FROM survey_links",
    )[0][:2] == ("email", "checkout")

    followed = client.get(sent["short_path"], follow_redirects=False)
    assert followed.status_code == 303
    assert followed.headers["location"].startswith(f"/s/{survey_id}?t=")
    page = client.get(followed.headers["location"])
    assert page.status_code == 200
    assert _get(client, org, made["id"])["status"] == "started"


def test_chinese_contact_gets_chinese_email(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contact = people.add(email="wang@example.com", name="王芳", language="zh-CN")
    invite(client, org, contact, survey_id)
    message = box.messages[0][2]
    assert message["Subject"] == "邀请您评价：门店调研"
    assert "王芳，您好" in message.get_body(("plain",)).get_content()


def test_skipped_sends_record_why(client: TestClient, org: Org, people: FakeDirectory, inbox: Any) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    nobody = people.add(phone="+8613800000000")
    refused = people.add(email="no@example.com")
    people.consents[(refused, "email")] = False

    first = invite(client, org, nobody, survey_id)
    second = invite(client, org, refused, survey_id)
    only_sms = invite(client, org, refused, survey_id, channel="sms")

    assert first["status"] == "skipped"
    assert first["skip_reason"] == "no_channel(wechat:not_configured,sms:not_configured,email:no_identity)"
    assert second["skip_reason"] == "no_channel(wechat:not_configured,sms:not_configured,email:no_consent)"
    assert only_sms["skip_reason"] == "no_channel(sms:not_configured)"
    assert box.messages == []
    assert first["short_path"] is None


def test_one_click_unsubscribe_withdraws_consent(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    _box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    contact = people.add(email="li@example.com")
    made = invite(client, org, contact, survey_id)
    path = made["short_path"] + "/unsubscribe"

    assert client.get(path).status_code == 200
    assert people.ledger == []  # a GET (a link scanner) changes nothing
    answer = client.post(path, content=b"List-Unsubscribe=One-Click")
    assert answer.status_code == 200
    assert people.ledger == [(contact, "email", False, "unsubscribe_link")]
    assert _get(client, org, made["id"])["status"] == "unsubscribed"
    again = invite(client, org, contact, survey_id)
    assert again["status"] == "skipped" and "email:no_consent" in again["skip_reason"]
    assert client.post("/i/not-a-code/unsubscribe").status_code == 404


def test_bounce_webhook_marks_the_invitation(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    _box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    made = invite(client, org, people.add(email="gone@example.com"), survey_id)
    message_id = _get(client, org, made["id"])["provider_message_id"]

    answer = client.post(
        "/api/v1/email/bounces",
        json={"message_id": message_id, "kind": "hard", "diagnostic": "550 5.1.1 no such user"},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"invitation_id": made["id"], "status": "bounced"}
    assert _get(client, org, made["id"])["status"] == "bounced"
    unknown = client.post("/api/v1/email/bounces", json={"message_id": "<x@y>"}, headers=org.auth("admin"))
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    assert (
        client.post(
            "/api/v1/email/bounces", json={"message_id": message_id}, headers=org.auth("agent")
        ).status_code
        == 403
    )


def test_bad_input_is_refused_and_writes_nothing(
    client: TestClient, org: Org, people: FakeDirectory, database_url: str, inbox: Any
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    draft_id = make_survey(client, org, publish=False)
    contact = people.add(email="li@example.com")
    before = tables(database_url)
    cases = [
        ({"contact_id": contact, "survey_id": "NOPE"}, 404, "survey_not_found"),
        ({"contact_id": contact, "survey_id": draft_id}, 409, "survey_not_published"),
        ({"contact_id": "01J00000000000000000000000", "survey_id": survey_id}, 404, "contact_not_found"),
        ({"contact_id": contact, "survey_id": survey_id, "channel": "fax"}, 422, "validation_failed"),
        ({"contact_id": contact, "survey_id": survey_id, "extra": 1}, 422, "validation_failed"),
        ({"contact_id": contact}, 422, "validation_failed"),
        (
            {"contact_id": contact, "survey_id": survey_id, "expires_at": "2020-01-01T00:00:00Z"},
            422,
            "validation_failed",
        ),
        ({"contact_id": "x" * 300, "survey_id": survey_id}, 422, "validation_failed"),
    ]
    for body, status, code in cases:
        answer = client.post("/api/v1/invitations", json=body, headers=org.auth("cx"))
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == code
    assert (
        client.post(
            "/api/v1/invitations",
            content=b"{",
            headers={**org.auth("cx"), "content-type": "application/json"},
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/v1/invitations",
            json={"contact_id": contact, "survey_id": survey_id},
            headers=org.auth("analyst"),
        ).status_code
        == 403
    )
    assert tables(database_url) == before
    assert box.messages == []
    assert client.get("/api/v1/invitations/NOPE", headers=org.auth("cx")).status_code == 404
    assert client.get("/api/v1/invitations?cursor=zzz", headers=org.auth("cx")).status_code == 422
    assert 400 <= client.get("/i/%00", follow_redirects=False).status_code < 500
