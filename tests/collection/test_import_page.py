"""The /surveys/{id}/import page without scripts: upload, preview with the
mapping as selects, dry run, import; who may use it; refusals leave nothing."""

from __future__ import annotations

import html
import re
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.web.pages import response_import
from tests.collection.import_support import csv_text, make_import_survey
from tests.collection.support import rows, written
from tests.factories import Org
from tests.web.conftest import csrf_from, signed_in  # noqa: F401  (the fixture)

LINES = [["推荐意愿", "门店", "原因", "note"], ["9", "SH001", "好", "x"], ["11", "SH001", "", "y"]]
HIDDEN = re.compile(r'<input type="hidden" name="(upload|filename|import_key)" value="([^"]*)">')
SELECTED = re.compile(r'<select id="map-(\d+)" name="map-\d+">(.*?)</select>', re.S)


def carried(page: str) -> list[tuple[str, str]]:
    """The hidden fields that carry the file from one step to the next."""
    return [(name, html.unescape(value)) for name, value in HIDDEN.findall(page)]


def selected(page: str) -> dict[int, str]:
    found = {}
    for index, options in SELECTED.findall(page):
        match = re.search(r'<option value="([^"]+)" selected>', options)
        found[int(index)] = match.group(1) if match else ""
    return found


def upload_step(client: TestClient, survey_id: str, content: bytes, filename: str = "old.csv") -> Any:
    page = client.get(f"/surveys/{survey_id}/import")
    assert page.status_code == 200, page.text
    return client.post(
        f"/surveys/{survey_id}/import",
        data={"csrf_token": csrf_from(page.text), "action": "preview", "timezone": "Asia/Shanghai"},
        files={"file": (filename, content, "text/csv")},
    )


def next_step(client: TestClient, survey_id: str, page: str, **fields: str) -> Any:
    data: list[tuple[str, str]] = [("csrf_token", csrf_from(page)), *carried(page)]
    data += [(f"map-{i}", target) for i, target in selected(page).items() if f"map-{i}" not in fields]
    data += list(fields.items())
    return client.post(
        f"/surveys/{survey_id}/import",
        content="&".join(f"{k}={v}" for k, v in _encoded(data)),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _encoded(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    from urllib.parse import quote

    return [(quote(k, safe=""), quote(v, safe="")) for k, v in pairs]


def test_upload_preview_dry_run_and_import(
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_import_survey(client, org)
    signed_in("east")
    client.cookies.set("lang", "en")
    before = written(database_url)
    preview = upload_step(client, survey_id, csv_text(LINES).encode("gb18030"))
    assert preview.status_code == 200, preview.text
    page = preview.text
    assert "old.csv: CSV, gb18030, “,”, one header row, 2 rows" in page
    assert selected(page) == {0: "answers.nps", 1: "unit_code", 2: "answers.why", 3: "ignore"}
    assert '<option value="answers.nps" selected>nps: Would you recommend us?</option>' in page
    assert "must be from 0 to 10" in page
    assert [name for name, _ in carried(page)] == ["filename", "import_key", "upload"]

    dry = next_step(client, survey_id, page, action="dry_run", timezone="UTC", mode="all_or_nothing")
    assert dry.status_code == 200, dry.text
    assert "Dry run: 1 of 2 rows are valid" in dry.text
    assert (
        "<tr><td>3</td><td>推荐意愿</td><td><code>answers.nps</code></td><td>must be from 0 to 10</td></tr>"
        in dry.text
    )
    assert written(database_url) == before

    refused = next_step(client, survey_id, dry.text, action="import", timezone="UTC", mode="all_or_nothing")
    assert refused.status_code == 422
    assert "Nothing was imported: 1 of 2 rows are not valid" in refused.text
    assert written(database_url) == before

    done = next_step(
        client,
        survey_id,
        refused.text,
        action="import",
        timezone="UTC",
        mode="skip_bad_rows",
        **{"map-2": "ignore"},
    )
    assert done.status_code == 200, done.text
    assert "Imported 1 of 2 rows" in done.text
    assert "1 rows were skipped because they are not valid" in done.text
    assert carried(done.text) == []
    assert rows(database_url, "SELECT source, unit_id FROM responses") == [("import", org.unit_ids["SH001"])]
    assert written(database_url)["outbox_jobs"] == 1


def test_the_page_is_in_chinese_and_carries_big_files_in_several_fields(
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(response_import, "CHUNK_CHARS", 100)
    survey_id = make_import_survey(client, org)
    signed_in("cx")
    client.cookies.set("lang", "zh-CN")
    lines = [["nps", "门店", "原因"]] + [[str(i % 11), "SH001", secrets.token_hex(8)] for i in range(200)]
    preview = upload_step(client, survey_id, csv_text(lines).encode())
    assert preview.status_code == 200, preview.text
    assert "导入答卷" in preview.text and "试运行" in preview.text
    chunks = [value for name, value in carried(preview.text) if name == "upload"]
    assert len(chunks) > 2
    done = next_step(client, survey_id, preview.text, action="import", timezone="UTC", mode="all_or_nothing")
    assert done.status_code == 200, done.text
    assert "已导入 200 行，共 200 行" in done.text
    assert written(database_url) == {"responses": 200, "outbox_jobs": 1, "idempotency_keys": 1}
    # The same form sent again (a double click, a reload) answers the first import.
    again = next_step(client, survey_id, preview.text, action="import", timezone="UTC", mode="all_or_nothing")
    assert again.status_code == 200, again.text
    assert "已导入 200 行，共 200 行" in again.text
    assert written(database_url) == {"responses": 200, "outbox_jobs": 1, "idempotency_keys": 1}


def test_who_may_open_the_page_and_what_is_refused(
    client: TestClient,
    org: Org,
    database_url: str,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_import_survey(client, org)
    draft = make_import_survey(client, org, publish=False)
    client.cookies.set("lang", "en")
    anonymous = client.get(f"/surveys/{survey_id}/import", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/login?next=/surveys/{survey_id}/import"
    signed_in("analyst")
    assert client.get(f"/surveys/{survey_id}/import").status_code == 403
    signed_in("east")
    assert client.get("/surveys/01ARZ3NDEKTSV4RRFFQ69G5FAV/import").status_code == 404
    assert client.get(f"/surveys/{draft}/import").status_code == 409
    before = written(database_url)
    page = client.get(f"/surveys/{survey_id}/import").text
    no_csrf = client.post(
        f"/surveys/{survey_id}/import",
        data={"action": "preview"},
        files={"file": ("a.csv", b"nps\n9\n", "text/csv")},
    )
    assert no_csrf.status_code == 403
    broken = client.post(
        f"/surveys/{survey_id}/import",
        data={"csrf_token": csrf_from(page), "action": "preview", "timezone": "UTC"},
        files={"file": ("a.xlsx", b"PK\x03\x04 broken", "application/octet-stream")},
    )
    assert broken.status_code == 422
    assert "This file cannot be imported." in broken.text
    assert "The file is not a readable XLSX workbook (damaged or cut short)." in broken.text
    nothing = client.post(
        f"/surveys/{survey_id}/import",
        data={"csrf_token": csrf_from(page), "action": "preview", "timezone": "UTC"},
    )
    assert nothing.status_code == 422
    assert "Choose a CSV or XLSX file to upload." in nothing.text
    tampered = client.post(
        f"/surveys/{survey_id}/import",
        data={
            "csrf_token": csrf_from(page),
            "action": "import",
            "upload": "!!not base64!!",
            "timezone": "UTC",
        },
    )
    assert tampered.status_code == 422
    assert "The uploaded file could not be read back; upload it again." in tampered.text
    assert written(database_url) == before


def test_the_upload_form_takes_files_over_the_general_body_limit(
    client: TestClient,
    org: Org,
    signed_in: Any,  # noqa: F811
) -> None:
    survey_id = make_import_survey(client, org)
    signed_in("cx")
    client.cookies.set("lang", "en")
    lines = [["nps", "原因"]] + [["9", secrets.token_hex(200)] for _ in range(3000)]
    content = csv_text(lines).encode()
    assert len(content) > 1_048_576
    preview = upload_step(client, survey_id, content)
    assert preview.status_code == 200, preview.text[:500]
    assert "3000 rows" in preview.text
