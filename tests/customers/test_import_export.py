"""Contact import (CSV/XLSX, mapping, per-row errors, modes) and CSV export."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
from fastapi.testclient import TestClient

from tests.customers.support import make_contact, rows, written
from tests.factories import Org
from tests.identity.support import assert_problem

CSV = (
    "邮箱,手机,姓名,门店,标签,tier\n"
    "a@example.com,13800138000,张三,SH001,vip;new,gold\n"
    "not-an-email,13800138001,李四,SH001,,silver\n"
    "c@example.com,12,王五,NOPE,,\n"
    "d@example.com,,赵六,SH002,,gold\n"
).encode()


def _upload(
    client: TestClient, org: Org, data: bytes, name: str = "contacts.csv", who: str = "cx", **form: str
):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/contacts/import", files={"file": (name, data)}, data=form, headers=org.auth(who)
    )


def test_preview_guesses_the_mapping(client: TestClient, org: Org) -> None:
    response = client.post(
        "/api/v1/contacts/import/preview", files={"file": ("c.csv", CSV)}, headers=org.auth("cx")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mapping"] == {
        "邮箱": "email",
        "手机": "phone",
        "姓名": "name",
        "门店": "unit_code",
        "标签": "tags",
        "tier": "attr:tier",
    }
    assert body["total_rows"] == 4
    assert body["sample"][0]["邮箱"] == "a@example.com"


def test_all_or_nothing_names_every_bad_row_and_column(
    client: TestClient, org: Org, database_url: str
) -> None:
    before = written(database_url)
    response = _upload(client, org, CSV)
    body = assert_problem(response, 422, "import_rows_invalid")
    assert [(e["path"], e["message"]) for e in body["errors"]] == [
        (
            "row 3, 邮箱",
            "'not-an-email' is not a valid email address (An email address must have an @-sign.)",
        ),
        ("row 4, 手机", "'12' is not a valid phone number"),
        ("row 4, 门店", "no unit 'NOPE'"),
    ]
    assert written(database_url) == before
    dry = _upload(client, org, CSV, dry_run="true", mode="skip_bad_rows")
    assert dry.status_code == 200
    assert dry.json()["dry_run"] is True and dry.json()["skipped"] == 2 and dry.json()["created"] == 0
    assert written(database_url) == before


def test_skip_bad_rows_imports_the_rest_and_a_second_run_updates(
    client: TestClient, org: Org, database_url: str
) -> None:
    existing = make_contact(client, org, identities={"email": "d@example.com"}, attributes={"spend": 5})
    response = _upload(client, org, CSV, mode="skip_bad_rows")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["rows"], body["created"], body["updated"], body["skipped"], body["error_count"]) == (
        4,
        1,
        1,
        2,
        3,
    )
    found = client.get(
        "/api/v1/contacts", params={"kind": "phone", "value": "13800138000"}, headers=org.auth("cx")
    )
    [summary] = found.json()["items"]
    contact = client.get(f"/api/v1/contacts/{summary['id']}", headers=org.auth("cx")).json()
    assert contact["name"] == "张三" and contact["unit_code"] == "SH001"
    assert contact["tags"] == ["vip", "new"] and contact["attributes"] == {"tier": "gold"}
    updated = client.get(f"/api/v1/contacts/{existing['id']}", headers=org.auth("cx")).json()
    assert updated["attributes"] == {"spend": 5, "tier": "gold"} and updated["unit_code"] == "SH002"
    again = _upload(client, org, CSV, mode="skip_bad_rows").json()
    assert (again["created"], again["updated"]) == (0, 2)
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(2,)]


def test_xlsx_with_explicit_mapping_and_file_errors(client: TestClient, org: Org) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Member", "Mail", "Spend"])
    sheet.append(["M-1", "x@example.com", 12.5])
    sheet.append(["M-1", "", 13])
    buffer = io.BytesIO()
    book.save(buffer)
    mapping = json.dumps({"Member": "member_id", "Mail": "email", "Spend": "attr:spend"})
    response = _upload(client, org, buffer.getvalue(), name="c.xlsx", mapping=mapping)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1
    bad_mapping = _upload(client, org, CSV, mapping=json.dumps({"邮箱": "ignore", "手机": "ignore"}))
    assert_problem(bad_mapping, 422, "invalid_mapping")
    assert_problem(_upload(client, org, CSV, mapping="{nope"), 422, "invalid_mapping")
    assert_problem(_upload(client, org, b""), 422, "empty_file")
    assert_problem(_upload(client, org, b"a,a\n1,2\n"), 422, "duplicate_column")
    assert_problem(_upload(client, org, b"PK\x03\x04garbage", name="x.xlsx"), 422, "unreadable_file")
    assert_problem(_upload(client, org, CSV, who="analyst"), 403, "permission_denied")


def test_export_is_scoped_and_audited(client: TestClient, org: Org, database_url: str) -> None:
    make_contact(
        client,
        org,
        identities={"email": "e1@example.com", "phone": "13900139000"},
        unit_code="SH001",
        name="甲",
        tags=["vip"],
    )
    make_contact(client, org, identities={"email": "e2@example.com"}, unit_code="GZ001")
    response = client.get("/api/v1/contacts/export", headers=org.auth("east"))
    assert response.status_code == 200, response.text
    table = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["email"], r["phone"], r["name"], r["unit_code"], r["tags"]) for r in table] == [
        ("e1@example.com", "+8613900139000", "甲", "SH001", "vip")
    ]
    assert rows(
        database_url, "SELECT action, target_type FROM audit_events WHERE action = 'data.exported'"
    ) == [("data.exported", "contacts")]
