"""Every question type through the respondent form: rendered with the right
controls, posted as a form, stored with the right JSON types, refused with
a message tied to the field; the page budget; the preview; the theme."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from cxloop.web.pages.respond_theme import contrast, theme_css
from tests.collection.respond_helpers import no_minimum_time, publish, responses, send, t
from tests.collection.support import FULL_ANSWERS, definition, written
from tests.factories import Org
from tests.web.conftest import set_password, sign_in

__all__ = ["no_minimum_time"]
EN = {"accept-language": "en"}
STATIC = Path(__file__).resolve().parents[2] / "src" / "cxloop" / "web" / "static"

PAGE_ONE = {
    "q.nps": "9",
    "q.csat": "5",
    "q.ces": "7",
    "q.stars": "4",
    "q.via": "other",
    "q.via.other": "微信",
    "q.liked": ["a", "c"],
    "q.order.x": "2",
    "q.order.y": "3",
    "q.order.z": "1",
    "q.grid.r1": "1",
    "q.grid.r2": "3",
}
PAGE_THREE = {
    "q.code": "ABC",
    "q.age": "42",
    "q.visit": "2026-03-01",
    "q.mail": "li@example.com",
    "q.tel": "+86 138 0000 0000",
    "q.ok": "yes",
    "q.sq.expectation": "6",
    "q.sq.perception": "4",
}


def test_every_type_posted_as_a_form_is_stored_with_json_types(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, definition())
    first = client.get(f"/s/{survey_id}", headers=EN)
    html = first.text
    assert html.count('name="q.nps"') == 11 and html.count('name="q.csat"') == 5
    assert html.count('name="q.ces"') == 7 and html.count('name="q.stars"') == 4
    assert 'type="checkbox" name="q.liked"' in html and 'name="q.via.other"' in html
    assert html.count('<select name="q.order.') == 3 and "data-rank" in html
    assert '<table class="matrix">' in html and html.count('name="q.grid.r1"') == 3
    third = send(client, survey_id, html, PAGE_ONE)
    assert third.status_code == 200, third.text
    page = third.text
    assert 'type="date"' in page and 'min="2026-01-01"' in page
    assert 'type="email"' in page and 'type="tel"' in page and 'type="checkbox" name="q.ok"' in page
    assert page.count('name="q.sq.expectation"') == 7 and page.count('name="q.sq.perception"') == 7
    done = send(client, survey_id, page, PAGE_THREE)
    assert done.status_code == 200, done.text
    ((status, resume, answers, link),) = responses(database_url)
    assert (status, resume, link) == ("complete", None, None)
    assert answers == FULL_ANSWERS
    assert isinstance(answers["nps"], int) and answers["ok"] is True


def test_wrong_answers_get_messages_tied_to_their_fields(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, definition())
    first = client.get(f"/s/{survey_id}", headers=EN)
    wrong = {**PAGE_ONE, "q.nps": "11", "q.liked": ["a", "b", "c"], "q.order.y": "2"}
    refused = send(client, survey_id, first.text, wrong)
    assert refused.status_code == 422
    faults = dict(
        re.findall(r'<p class="q-e" id="e-(\w+)"><span class="vh">Error: </span>([^<]+)</p>', refused.text)
    )
    assert faults == {
        "nps": "Please choose one of the options.",
        "liked": "Please choose at most 2 options.",
        "order": "Please give each option a different rank.",
    }
    third = send(client, survey_id, first.text, PAGE_ONE)
    wrong_three = {
        **PAGE_THREE,
        "q.code": "abc",
        "q.age": "17",
        "q.visit": "2025-12-31",
        "q.mail": "li",
        "q.tel": "call me",
        "q.sq.perception": "",
    }
    refused = send(client, survey_id, third.text, wrong_three)
    assert refused.status_code == 422
    faults = dict(
        re.findall(r'<p class="q-e" id="e-(\w+)"><span class="vh">Error: </span>([^<]+)</p>', refused.text)
    )
    assert faults == {
        "code": "This answer does not have the expected format.",
        "age": "Please enter a number from 18 to 99.",
        "visit": "Please enter a date from 2026-01-01 to ….",
        "mail": "Please enter an email address, like name@example.com.",
        "tel": "Please enter a phone number.",
        "sq": "Please rate both what you expected and what you got.",
    }
    assert (
        'id="f-age" value="17" type="text" inputmode="numeric" class="short"'
        ' aria-describedby="e-age" aria-invalid="true"' in refused.text
    )
    assert send(client, survey_id, third.text, {**PAGE_THREE, "q.age": "4x"}).status_code == 422
    assert responses(database_url)[0][:2] == ("partial", "p3")


def test_choices_are_shuffled_per_respondent_but_stable_across_reloads(client: TestClient, org: Org) -> None:
    document = definition()
    ids = [f"c{n}" for n in range(12)]
    document["pages"][0]["questions"][4] = {
        "id": "via",
        "type": "single_choice",
        "text": t("渠道"),
        "randomize": True,
        "choices": [{"id": i, "text": t(i)} for i in ids]
        + [{"id": "other", "text": t("其他"), "other": True}],
    }
    survey_id = publish(client, org, document)

    def order() -> list[str]:
        html = client.get(f"/s/{survey_id}", headers=EN).text
        return re.findall(r'name="q.via" value="(\w+)"', html)

    mine = order()
    assert order() == mine
    assert mine[-1] == "other" and sorted(mine[:-1]) == sorted(ids)
    orders = set()
    for _ in range(4):
        client.cookies.clear()
        orders.add(tuple(order()))
    assert len(orders) > 1


def ten_questions() -> dict[str, Any]:
    document = definition()
    questions = document["pages"][0]["questions"]
    questions.append({"id": "why", "type": "text", "size": "long", "text": t("原因")})
    questions.append({"id": "tel", "type": "phone", "text": t("电话")})
    document["pages"] = [document["pages"][0]]
    document["theme"] = {"color": "#c8102e", "logo_url": "/static/favicon.svg"}
    return document


def test_a_ten_question_page_fits_the_budget_and_names_no_other_host(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org, ten_questions())
    page = client.get(f"/s/{survey_id}", headers=EN)
    html = page.text
    assert html.count('class="q ') == 10
    assets = re.findall(r'(?:href|src)="(/[^"]+)"', html)
    assert sorted(a.split("?")[0] for a in assets if not a.startswith("/s/01")) == [
        "/s/_theme/c8102e.css",
        "/static/favicon.svg",
        "/static/respond.css",
        "/static/respond.js",
    ]
    total = len(gzip.compress(html.encode()))
    for asset in assets:
        if asset.endswith((".css", ".js")):
            fetched = client.get(asset)
            assert fetched.status_code == 200
            total += len(gzip.compress(fetched.content))
    assert total <= 40 * 1024, total
    for text in (html, (STATIC / "respond.css").read_text(), (STATIC / "respond.js").read_text()):
        assert re.search(r"(https?:)?//[a-z0-9]", text.replace("http://www.w3.org", "")) is None


def test_the_theme_is_a_cacheable_stylesheet_with_readable_contrast(client: TestClient) -> None:
    answer = client.get("/s/_theme/ffcc00.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.text.startswith(":root{--accent:#ffcc00;--on-accent:#111111;--ink:")
    ink = re.search(r"--ink:#(\w{6})", theme_css("ffcc00"))
    assert ink is not None
    rgb = tuple(int(ink.group(1)[i : i + 2], 16) for i in (0, 2, 4))
    assert contrast(rgb, (255, 255, 255)) >= 4.5  # type: ignore[arg-type]
    assert client.get("/s/_theme/zzzzzz.css").status_code == 404


def test_the_preview_shows_a_draft_page_stores_nothing_and_may_be_framed(
    client: TestClient, org: Org, database_url: str
) -> None:
    survey_id = publish(client, org, definition(), publish=False)
    assert client.get(f"/surveys/{survey_id}/preview", follow_redirects=False).status_code == 303
    set_password(database_url, "analyst@acme.test")
    assert sign_in(client, "analyst@acme.test").status_code == 303
    before = written(database_url)
    page = client.get(f"/surveys/{survey_id}/preview?lang=en&page=3")
    assert page.status_code == 200
    assert "Preview: answers are not saved." in page.text
    assert 'name="q.sq.expectation"' in page.text and 'name="ft"' not in page.text
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in page.headers["content-security-policy"]
    # Every question shows, whatever its display logic.
    second = client.get(f"/surveys/{survey_id}/preview?lang=en&page=2")
    assert 'name="q.why"' in second.text
    assert written(database_url) == before
    assert client.get("/surveys/01NOSUCHSURVEY0000000000000/preview").status_code == 404
    respondent = client.get(f"/s/{survey_id}")
    assert respondent.status_code == 404 and respondent.headers["x-frame-options"] == "DENY"


class Controls(HTMLParser):
    """Every form control of a page, and what labels it."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if values.get("for"):
                self.label_for.add(str(values["for"]))
        if tag in ("input", "select", "textarea") and values.get("type") != "hidden":
            self.controls.append({**values, "wrapped": "yes" if self.in_label else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def test_every_control_has_a_label(client: TestClient, org: Org) -> None:
    survey_id = publish(client, org, definition())
    first = client.get(f"/s/{survey_id}", headers=EN)
    third = send(client, survey_id, first.text, PAGE_ONE)
    for html in (first.text, third.text):
        parser = Controls()
        parser.feed(html)
        assert len(parser.controls) > 10
        unlabelled = [
            c
            for c in parser.controls
            if not (c["wrapped"] or c.get("aria-label") or (c.get("id") and c["id"] in parser.label_for))
        ]
        assert unlabelled == []
