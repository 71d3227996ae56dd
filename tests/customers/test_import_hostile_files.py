"""Contact files that are damaged, tampered with or built to hurt the server:
each is refused with a clear error on the page and in the API, and nothing is
written."""

from __future__ import annotations

import base64
import io
import zipfile
import zlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

import cxloop.customers.imports as contact_imports
from tests.collection.import_support import xlsx_bytes
from tests.customers.support import written
from tests.factories import Org
from tests.identity.support import assert_problem
from tests.web.conftest import csrf_from, set_password, sign_in


def _without_sheets(workbook: bytes) -> bytes:
    """The same workbook with every sheet taken out of workbook.xml (as some converters write it)."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                text = data.decode()
                start, end = text.index("<sheets>"), text.index("</sheets>") + len("</sheets>")
                data = (text[:start] + "<sheets/>" + text[end:]).encode()
            target.writestr(info, data)
    return out.getvalue()


def _packed(payload: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode()


@pytest.fixture
def page(client: TestClient, org: Org, database_url: str) -> TestClient:
    set_password(database_url, "cx@acme.test")
    assert sign_in(client, "cx@acme.test").status_code == 303
    return client


def _api(client: TestClient, org: Org, data: bytes, name: str, preview: bool = False) -> Any:
    path = "/api/v1/contacts/import/preview" if preview else "/api/v1/contacts/import"
    return client.post(path, files={"file": (name, data)}, headers=org.auth("cx"))


BAD_FILES = {
    # Longer than the csv module's field limit (128 KiB): csv.Error while reading.
    "a field of 200,000 characters": (b'email,note\na@example.com,"' + b"x" * 200_000 + b'"\n', "c.csv"),
    "a workbook without a sheet": (_without_sheets(xlsx_bytes([["email"], ["a@example.com"]])), "c.xlsx"),
    "NUL characters": (b"email,name\na@example.com,\x00\x00\n", "c.csv"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_an_unreadable_file_is_refused_in_the_api_and_on_the_page(
    case: str, client: TestClient, org: Org, page: TestClient, database_url: str
) -> None:
    data, name = BAD_FILES[case]
    before = written(database_url)
    for preview in (False, True):
        body = assert_problem(_api(client, org, data, name, preview), 422, _code(case))
        assert body["errors"][0]["path"] == "file"
    token = csrf_from(page.get("/contacts/import").text)
    shown = page.post(
        "/contacts/import", data={"csrf_token": token, "action": "import"}, files={"file": (name, data)}
    )
    assert shown.status_code == 422
    assert 'role="alert"' in shown.text and body["detail"] in shown.text.replace("&#39;", "'")
    assert written(database_url) == before


def _code(case: str) -> str:
    return "empty_file" if "without a sheet" in case else "unreadable_file"


def test_a_csv_with_classic_mac_line_endings_is_read(client: TestClient, org: Org) -> None:
    data = b'email,name\ra@example.com,"A\rB"\rb@example.com,B\r'
    response = _api(client, org, data, "c.csv", preview=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total_rows"] == 2
    assert [row["name"] for row in body["sample"]] == ["A\rB", "B"]


@pytest.mark.parametrize(
    "header",
    [b"{}", b"5", b"[]", b"null", b"[1]", b'["a", "b"]', b"\xff\xfe", b"[" * 3000],
)
def test_a_tampered_packed_file_is_refused_on_the_page(
    header: bytes, page: TestClient, database_url: str
) -> None:
    before = written(database_url)
    token = csrf_from(page.get("/contacts/import").text)
    packed = _packed(header + b"\nemail\na@example.com\n")
    shown = page.post("/contacts/import", data={"csrf_token": token, "packed": packed, "action": "import"})
    assert shown.status_code == 422 and 'role="alert"' in shown.text
    assert written(database_url) == before


@pytest.mark.parametrize("packed", ["garbage", "é", "", _packed(b"no newline at all")])
def test_a_packed_field_that_is_not_base64_zlib_is_refused(
    packed: str, page: TestClient, database_url: str
) -> None:
    token = csrf_from(page.get("/contacts/import").text)
    shown = page.post("/contacts/import", data={"csrf_token": token, "packed": packed, "action": "import"})
    assert shown.status_code == 422 and 'role="alert"' in shown.text


def test_a_packed_decompression_bomb_is_stopped_at_the_page_limit(
    page: TestClient, database_url: str
) -> None:
    before = written(database_url)
    bomb = _packed(b'["c.csv"]\nemail\n' + b"0" * (64 * 1024 * 1024))
    assert len(bomb) < 200_000
    token = csrf_from(page.get("/contacts/import").text)
    shown = page.post("/contacts/import", data={"csrf_token": token, "packed": bomb, "action": "import"})
    assert shown.status_code == 422 and 'role="alert"' in shown.text
    assert written(database_url) == before


def test_rows_over_the_limit_are_refused_while_reading(
    client: TestClient, org: Org, page: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contact_imports, "MAX_ROWS", 3)
    before = written(database_url)
    csv_file = b"email\n" + b"".join(b"p%d@example.com\n" % i for i in range(4))
    xlsx_file = xlsx_bytes([["email"], *([f"p{i}@example.com"] for i in range(4))])
    for data, name in ((csv_file, "c.csv"), (xlsx_file, "c.xlsx")):
        body = assert_problem(_api(client, org, data, name), 422, "too_many_rows")
        assert body["detail"] == "The file has more than 3 rows."
        token = csrf_from(page.get("/contacts/import").text)
        shown = page.post(
            "/contacts/import", data={"csrf_token": token, "action": "preview"}, files={"file": (name, data)}
        )
        assert shown.status_code == 422 and "The file has more than 3 rows." in shown.text
    # Exactly at the limit is fine.
    at_limit = _api(client, org, b"email\n" + b"".join(b"p%d@example.com\n" % i for i in range(3)), "c.csv")
    assert at_limit.status_code == 200, at_limit.text
    assert at_limit.json()["created"] == 3
    assert written(database_url)["contacts"] == before["contacts"] + 3


def test_a_row_wider_than_the_column_limit_is_refused(client: TestClient, org: Org) -> None:
    wide = ",".join(f"c{i}" for i in range(contact_imports.MAX_COLUMNS + 1)).encode() + b"\n"
    body = assert_problem(
        _api(client, org, b"email\n" + wide, "c.csv", preview=True), 422, "too_many_columns"
    )
    assert body["detail"] == f"A row has more than {contact_imports.MAX_COLUMNS} columns."
