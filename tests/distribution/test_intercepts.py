"""Web/in-app intercepts: the decision API (page, sampling, once per N days,
contact-frequency rules), the script, standing links and QR posters."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from cxloop.distribution.intercept_routes import sampled
from tests.distribution.helpers import configure_email, invite, make_survey, rows
from tests.distribution.support import FakeDirectory
from tests.factories import Org


def intercept(client: TestClient, org: Org, survey_id: str, **body: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/intercepts",
        json={"name": "checkout", "survey_id": survey_id, "url_pattern": "/checkout/*", **body},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def decide(client: TestClient, key: str, **params: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/intercepts/{key}/decision", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == "*"
    body: dict[str, Any] = answer.json()
    return body


def test_decision_by_page_frequency_and_link(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    made = intercept(client, org, survey_id, delay_seconds=5, unit_code="SH001", touchpoint="checkout")
    key = made["key"]
    assert made["snippet"].endswith(f'data-key="{key}" async></script>')

    assert decide(client, key, visitor="v1", url="https://shop.example.com/cart") == {
        "show": False,
        "reason": "page",
        "url": None,
        "delay_seconds": 0,
    }
    shown = decide(client, key, visitor="v1", url="https://shop.example.com/checkout/pay?x=1")
    assert shown["show"] is True and shown["delay_seconds"] == 5
    link = urlsplit(shown["url"])
    assert link.path == f"/s/{survey_id}"
    query = parse_qs(link.query)
    assert query["channel"] == ["web"] and query["unit"] == ["SH001"] and query["touchpoint"] == ["checkout"]
    # The survey page accepts the signed parameters.
    assert client.get(f"{link.path}?{link.query}").status_code == 200
    # Once per 30 days per visitor; another visitor still sees it.
    assert (
        decide(client, key, visitor="v1", url="https://shop.example.com/checkout/")["reason"] == "frequency"
    )
    assert decide(client, key, visitor="v2", url="https://shop.example.com/checkout/")["show"] is True
    assert rows(database_url, "SELECT count(*) FROM intercept_views") == [(2,)]
    assert client.get("/api/v1/intercepts/nope/decision", params={"visitor": "v"}).status_code == 404
    assert client.get(f"/api/v1/intercepts/{key}/decision").status_code == 422


def test_sampling_is_stable_and_near_the_rate(client: TestClient, org: Org) -> None:
    key = intercept(client, org, make_survey(client, org), url_pattern="*", sampling_pct=30, once_per_days=0)[
        "key"
    ]
    shown = [decide(client, key, visitor=f"v{i}", url="/")["show"] for i in range(40)]
    assert shown == [sampled(key, f"v{i}", 30) for i in range(40)]
    again = [decide(client, key, visitor=f"v{i}", url="/")["show"] for i in range(20)]
    assert again == shown[:20]
    # The rate, over a fixed key: the intercept's key is random, so 200 of its visitors
    # landed outside any fixed window now and then (binomial spread).
    assert sum(sampled("fixed-key", f"v{i}", 30) for i in range(10000)) == 2973


def test_app_decision_honours_contact_rules(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any
) -> None:
    configure_email(client, org, inbox[1].port)
    survey_id = make_survey(client, org)
    key = intercept(client, org, survey_id, url_pattern="*", once_per_days=0)["key"]
    rule = {"name": "none at all", "max_count": 1, "period_days": 30}
    assert client.post("/api/v1/frequency-rules", json=rule, headers=org.auth("admin")).status_code == 201
    member = people.add(email="m@example.com")
    assert decide(client, key, visitor="app", url="pages/order", contact_id=member)["show"] is True
    # An invitation this month: the rule now says no.
    invite(client, org, member, survey_id)
    assert (
        decide(client, key, visitor="app", url="pages/order", contact_id=member)["reason"]
        == "frequency:none at all"
    )
    people.consents[(member, "web")] = False
    assert decide(client, key, visitor="app", url="pages/order", contact_id=member)["reason"] == "consent"


def test_script_is_ours_and_small(client: TestClient) -> None:
    answer = client.get("/static/intercept.js")
    assert answer.status_code == 200
    assert len(answer.content) < 6000
    assert b"/decision?" in answer.content and b'credentials: "omit"' in answer.content


def test_standing_links_and_posters(client: TestClient, org: Org) -> None:
    survey_id = make_survey(client, org)
    link = client.get(
        f"/api/v1/surveys/{survey_id}/standing-link",
        params={"unit_code": "SH001", "touchpoint": "table"},
        headers=org.auth("store"),
    )
    assert link.status_code == 200, link.text
    query = parse_qs(urlsplit(link.json()["url"]).query)
    assert query["channel"] == ["qr"] and query["unit"] == ["SH001"] and "sig" in query
    png = client.get(
        f"/api/v1/surveys/{survey_id}/poster.png", params={"unit_code": "SH001"}, headers=org.auth("store")
    )
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = client.get(
        f"/api/v1/surveys/{survey_id}/poster.pdf", params={"unit_code": "SH001"}, headers=org.auth("store")
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    # A store manager cannot make another store's poster, nor one for every unit.
    other = client.get(
        f"/api/v1/surveys/{survey_id}/poster.png", params={"unit_code": "GZ001"}, headers=org.auth("store")
    )
    assert other.status_code == 404
    assert client.get(f"/api/v1/surveys/{survey_id}/poster.png", headers=org.auth("store")).status_code == 422
    assert client.get(f"/api/v1/surveys/{survey_id}/poster.gif", headers=org.auth("cx")).status_code in (
        404,
        422,
    )
    assert client.get("/api/v1/surveys/NOPE/poster.png", headers=org.auth("cx")).status_code == 404


def test_bad_intercepts_are_refused(client: TestClient, org: Org, database_url: str) -> None:
    survey_id = make_survey(client, org)
    for extra in ({"sampling_pct": 101}, {"delay_seconds": -1}, {"unit_code": "NOPE"}, {"url_pattern": ""}):
        body = {"name": "x", "survey_id": survey_id, "url_pattern": "*", **extra}
        answer = client.post("/api/v1/intercepts", json=body, headers=org.auth("admin"))
        assert answer.status_code == 422, (extra, answer.text)
    assert rows(database_url, "SELECT count(*) FROM intercepts") == [(0,)]
