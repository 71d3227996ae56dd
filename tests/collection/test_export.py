"""Exporting responses: exact values in CSV, XLSX and SPSS .sav, within scope."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pyreadstat
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.collection.support import FULL_ANSWERS, definition, rows
from tests.factories import Org, make_org
from tests.identity.support import engine_for

SCRIPT = "<script>alert('x')</script>"
HEADER = [
    "response_id",
    "submitted_at",
    "unit_code",
    "channel",
    "touchpoint",
    "language",
    "survey_version",
    "status",
    "revision",
    "nps",
    "csat",
    "ces",
    "stars",
    "via",
    "via.other_text",
    "liked.a",
    "liked.b",
    "liked.c",
    "order.x",
    "order.y",
    "order.z",
    "grid.r1",
    "grid.r2",
    "why",
    "code",
    "age",
    "visit",
    "mail",
    "tel",
    "ok",
    "sq.expectation",
    "sq.perception",
    "sq.gap",
    "embedded.order_no",
    "embedded.region",
    "contact.email",
    "contact.phone",
    "contact.external_id",
]


def export_definition() -> dict[str, Any]:
    """The every-type survey, with choice and scale texts that differ by language."""
    made = definition()
    questions = made["pages"][0]["questions"]
    via = questions[4]
    via["choices"][0]["text"] = {"zh-CN": "门店", "en": "Store"}
    via["choices"][2]["text"] = {"zh-CN": "其他", "en": "Other"}
    questions[0]["low_label"] = {"zh-CN": "不可能", "en": "Not at all likely"}
    grid = questions[7]
    grid["scale"] = [
        {"value": 1, "text": {"zh-CN": "差", "en": "Poor"}},
        {"value": 2, "text": {"zh-CN": "中", "en": "Fair"}},
        {"value": 3, "text": {"zh-CN": "好", "en": "Good"}},
    ]
    questions[0]["text"] = {"zh-CN": "您会推荐我们吗？", "en": "Would you recommend us?"}
    return made


def publish(client: TestClient, org: Org, made: dict[str, Any]) -> str:
    created = client.post("/api/v1/surveys", json={"definition": made}, headers=org.auth("cx"))
    assert created.status_code == 201, created.text
    survey_id: str = created.json()["id"]
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    return survey_id


def submit(client: TestClient, org: Org, survey_id: str, who: str = "cx", **body: Any) -> str:
    response = client.post(f"/api/v1/surveys/{survey_id}/responses", json=body, headers=org.auth(who))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def survey(client: TestClient, org: Org) -> dict[str, Any]:
    survey_id = publish(client, org, export_definition())
    full = submit(
        client,
        org,
        survey_id,
        who="store",
        answers=FULL_ANSWERS,
        unit_code="SH001",
        touchpoint="checkout",
        submitted_at="2026-03-02T10:00:00+08:00",
        contact={"email": "wang@example.com"},
        embedded={"order_no": "=1+2"},
    )
    low = submit(
        client,
        org,
        survey_id,
        who="east",
        answers={"nps": 0, "why": SCRIPT, "via": "store", "grid": {"r2": 2}},
        unit_code="SH002",
        channel="web",
        language="en",
        submitted_at="2026-03-03T00:30:00+00:00",
    )
    south = submit(
        client, org, survey_id, answers={"nps": 10}, unit_code="GZ001", submitted_at="2026-03-04T00:00:00Z"
    )
    nowhere = submit(client, org, survey_id, answers={"nps": 8}, submitted_at="2026-03-05T00:00:00Z")
    return {"id": survey_id, "full": full, "low": low, "south": south, "nowhere": nowhere}


def export(client: TestClient, org: Org, survey_id: str, who: str = "cx", **params: str) -> Any:
    return client.get(f"/api/v1/surveys/{survey_id}/responses/export", params=params, headers=org.auth(who))


def read_csv(content: bytes) -> list[dict[str, str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    reader = csv.reader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert header == HEADER
    return [dict(zip(header, line, strict=True)) for line in reader]


def blank(**values: str) -> dict[str, str]:
    return {name: values.get(name, "") for name in HEADER}


def test_csv_codes_hold_every_answer_exactly(client: TestClient, org: Org, survey: dict[str, Any]) -> None:
    response = export(client, org, survey["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="responses-{survey["id"]}.csv"'
    assert b"\r\n" in response.content
    exported = read_csv(response.content)
    assert [r["response_id"] for r in exported] == [survey[k] for k in ("full", "low", "south", "nowhere")]
    assert exported[0] == blank(
        response_id=survey["full"],
        submitted_at="2026-03-02T02:00:00+00:00",
        unit_code="SH001",
        channel="api",
        touchpoint="checkout",
        language="zh-CN",
        survey_version="1",
        status="complete",
        revision="0",
        nps="9",
        csat="5",
        ces="7",
        stars="4",
        via="other",
        **{"via.other_text": "微信", "liked.a": "1", "liked.b": "0", "liked.c": "1"},
        **{"order.x": "2", "order.y": "3", "order.z": "1", "grid.r1": "1", "grid.r2": "3"},
        code="ABC",
        age="42",
        visit="2026-03-01",
        mail="li@example.com",
        # A leading + (like = - @) would make a spreadsheet run the cell as a formula.
        tel="'+86 138 0000 0000",
        ok="1",
        **{"sq.expectation": "6", "sq.perception": "4", "sq.gap": "-2"},
        **{"embedded.order_no": "'=1+2", "embedded.region": "cn", "contact.email": "wang@example.com"},
    )
    assert exported[1] == blank(
        response_id=survey["low"],
        submitted_at="2026-03-03T00:30:00+00:00",
        unit_code="SH002",
        channel="web",
        language="en",
        survey_version="1",
        status="complete",
        revision="0",
        nps="0",
        via="store",
        why=SCRIPT,
        **{"grid.r2": "2", "embedded.region": "cn"},
    )
    assert exported[3]["unit_code"] == ""
    assert exported[3]["nps"] == "8"


def test_csv_labels_in_the_chosen_language_with_fallback(
    client: TestClient, org: Org, survey: dict[str, Any]
) -> None:
    chinese = read_csv(export(client, org, survey["id"], values="labels").content)
    assert chinese[0]["via"] == "其他"
    assert chinese[0]["grid.r1"] == "差"
    assert chinese[0]["grid.r2"] == "好"
    assert [chinese[0][f"liked.{c}"] for c in "abc"] == ["a", "", "c"]
    assert chinese[0]["nps"] == "9"
    assert chinese[1]["via"] == "门店"
    assert chinese[1]["why"] == SCRIPT
    english = read_csv(export(client, org, survey["id"], values="labels", language="en").content)
    assert (english[0]["via"], english[1]["via"], english[0]["grid.r1"]) == ("Other", "Store", "Poor")
    # No Japanese text anywhere: the survey's default language stands in.
    japanese = read_csv(export(client, org, survey["id"], values="labels", language="ja").content)
    assert (japanese[0]["via"], japanese[1]["grid.r2"]) == ("其他", "中")


def test_filters_match_the_list(
    client: TestClient, org: Org, survey: dict[str, Any], database_url: str
) -> None:
    def ids(**params: str) -> list[str]:
        response = export(client, org, survey["id"], **params)
        assert response.status_code == 200, response.text
        return [r["response_id"] for r in read_csv(response.content)]

    assert ids(unit_code="SH") == [survey["full"], survey["low"]]
    assert ids(unit_code="SH002") == [survey["low"]]
    assert ids(channel="web") == [survey["low"]]
    assert ids(touchpoint="checkout") == [survey["full"]]
    assert ids(submitted_from="2026-03-03T00:30:00Z", submitted_to="2026-03-05T00:00:00Z") == [
        survey["low"],
        survey["south"],
    ]
    everyone = [survey[k] for k in ("full", "low", "south", "nowhere")]
    assert ids(status="complete") == everyone
    assert ids(status="partial") == []
    with engine_for(database_url) as engine, engine.begin() as conn:
        conn.execute(text("UPDATE responses SET status = 'partial' WHERE id = :id"), {"id": survey["south"]})
    # Like the list, an export holds complete responses unless asked otherwise.
    assert ids() == [survey[k] for k in ("full", "low", "nowhere")]
    assert ids(status="partial") == [survey["south"]]
    assert ids(status="all") == everyone
    assert read_csv(export(client, org, survey["id"], status="all").content)[2]["status"] == "partial"


def test_each_role_exports_only_its_reach(client: TestClient, org: Org, survey: dict[str, Any]) -> None:
    everyone = [survey[k] for k in ("full", "low", "south", "nowhere")]
    expected = {
        "admin": everyone,
        "cx": everyone,
        "east": [survey["full"], survey["low"]],
        "analyst": [survey["full"], survey["low"]],
        "store": [survey["full"]],
        "agent": [survey["full"]],
    }
    for who, wanted in expected.items():
        response = export(client, org, survey["id"], who=who)
        assert response.status_code == 200, (who, response.text)
        assert [r["response_id"] for r in read_csv(response.content)] == wanted, who
    # Another store's unit answers exactly like a unit that does not exist.
    outside = export(client, org, survey["id"], who="store", unit_code="SH002")
    missing = export(client, org, survey["id"], who="store", unit_code="NOPE")
    assert outside.status_code == missing.status_code == 404
    assert outside.json() == missing.json()
    assert outside.json()["code"] == "unit_not_found"


def test_other_tenants_and_missing_surveys_answer_the_same(
    client: TestClient, org: Org, survey: dict[str, Any], database_url: str
) -> None:
    other = make_org(database_url, slug="globex", email_domain="globex.test")
    foreign = client.get(f"/api/v1/surveys/{survey['id']}/responses/export", headers=other.auth("admin"))
    missing = export(client, org, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert foreign.status_code == missing.status_code == 404
    assert {**foreign.json(), "instance": ""} == {**missing.json(), "instance": ""}
    assert missing.json()["code"] == "survey_not_found"


def test_refusals(client: TestClient, org: Org, survey: dict[str, Any], database_url: str) -> None:
    before = rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'data.exported'")
    assert export(client, org, survey["id"], format="pdf").status_code == 422
    assert export(client, org, survey["id"], values="both").status_code == 422
    assert export(client, org, survey["id"], language="not a language").status_code == 422
    assert export(client, org, survey["id"], status="deleted").status_code == 422
    assert export(client, org, survey["id"], submitted_from="2026-03-01").status_code == 422
    anonymous = client.get(f"/api/v1/surveys/{survey['id']}/responses/export")
    assert anonymous.status_code == 401
    assert rows(database_url, "SELECT count(*) FROM audit_events WHERE action = 'data.exported'") == before


def test_every_export_is_audited_without_its_data(
    client: TestClient, org: Org, survey: dict[str, Any], database_url: str
) -> None:
    export(
        client, org, survey["id"], who="east", format="xlsx", values="labels", language="en", channel="web"
    )
    events = rows(
        database_url,
        "SELECT actor_user_id, target_type, target_id, details FROM audit_events "
        "WHERE action = 'data.exported'",
    )
    assert len(events) == 1
    user, target_type, target_id, details = events[0]
    assert (user, target_type, target_id) == (org.user_ids["east"], "survey", survey["id"])
    assert (json.loads(details) if isinstance(details, str) else details) == {
        "survey_id": survey["id"],
        "format": "xlsx",
        "values": "labels",
        "language": "en",
        "filters": {"channel": "web", "status": "complete"},
    }


def test_xlsx_cells_are_typed(client: TestClient, org: Org, survey: dict[str, Any], tmp_path: Path) -> None:
    response = export(client, org, survey["id"], format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert int(response.headers["content-length"]) == len(response.content)
    path = tmp_path / "export.xlsx"
    path.write_bytes(response.content)
    sheet = openpyxl.load_workbook(path).active
    table = [list(line) for line in sheet.iter_rows(values_only=True)]
    assert table[0] == HEADER
    first = dict(zip(HEADER, table[1], strict=True))
    assert first["response_id"] == survey["full"]
    assert first["submitted_at"] == datetime(2026, 3, 2, 2, 0)
    assert first["visit"] == datetime(2026, 3, 1)
    assert (first["nps"], first["sq.gap"], first["age"], first["liked.b"]) == (9, -2, 42, 0)
    assert (first["via"], first["via.other_text"]) == ("other", "微信")
    assert first["tel"] == "'+86 138 0000 0000"
    assert first["embedded.order_no"] == "'=1+2"
    assert (first["why"], first["contact.phone"]) == (None, None)
    second = dict(zip(HEADER, table[2], strict=True))
    assert second["why"] == SCRIPT
    assert len(table) == 5
    labelled = tmp_path / "labels.xlsx"
    labelled.write_bytes(export(client, org, survey["id"], format="xlsx", values="labels").content)
    first = dict(
        zip(HEADER, list(openpyxl.load_workbook(labelled).active.iter_rows(values_only=True))[1], strict=True)
    )
    assert (first["via"], first["grid.r2"], first["nps"]) == ("其他", "好", 9)


def test_sav_has_labels_and_valid_names(
    client: TestClient, org: Org, survey: dict[str, Any], tmp_path: Path
) -> None:
    response = export(client, org, survey["id"], format="sav")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-spss-sav"
    path = tmp_path / "export.sav"
    path.write_bytes(response.content)
    data, meta = pyreadstat.read_sav(str(path), output_format="dict")
    assert meta.column_names == HEADER
    assert meta.file_label == "门店调研"
    labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
    assert labels["nps"] == "您会推荐我们吗？"
    assert labels["grid.r1"] == "矩阵: 行1"
    assert labels["response_id"] is None
    assert meta.variable_value_labels["via"] == {1.0: "门店", 2.0: "app", 3.0: "其他"}
    assert meta.variable_value_labels["grid.r1"] == {1.0: "差", 2.0: "中", 3.0: "好"}
    assert meta.variable_value_labels["nps"] == {0.0: "不可能"}
    assert data["response_id"] == [survey[k] for k in ("full", "low", "south", "nowhere")]
    assert data["submitted_at"][0] == datetime(2026, 3, 2, 2, 0)
    assert data["visit"] == [date(2026, 3, 1), None, None, None]
    assert data["via"] == [3.0, 1.0, None, None]
    assert data["via.other_text"][:2] == ["微信", ""]
    assert data["nps"] == [9.0, 0.0, 10.0, 8.0]
    assert data["sq.gap"][:2] == [-2.0, None]
    assert data["why"][1] == SCRIPT
    # SPSS is not a spreadsheet: text stays exactly as typed.
    assert data["tel"][0] == "+86 138 0000 0000"
    assert data["embedded.order_no"][0] == "=1+2"
    assert data["unit_code"] == ["SH001", "SH002", "GZ001", ""]
    english = tmp_path / "en.sav"
    english.write_bytes(export(client, org, survey["id"], format="sav", language="en").content)
    _, meta = pyreadstat.read_sav(str(english), output_format="dict", metadataonly=True)
    assert meta.variable_value_labels["via"] == {1.0: "Store", 2.0: "app", 3.0: "Other"}
    assert meta.file_label == "Store survey"


def test_columns_cover_every_published_version(client: TestClient, org: Org) -> None:
    first = export_definition()
    survey_id = publish(client, org, first)
    old = submit(client, org, survey_id, answers={"nps": 7, "csat": 4, "via": "app"}, unit_code="SH001")
    second = export_definition()
    questions = second["pages"][0]["questions"]
    questions[:] = [q for q in questions if q["id"] != "csat"]
    questions[3]["choices"].insert(0, {"id": "phone", "text": {"zh-CN": "电话", "en": "Phone"}})
    questions.insert(0, {"id": "effort", "type": "ces", "text": {"zh-CN": "省力", "en": "Effort"}})
    changed = client.put(f"/api/v1/surveys/{survey_id}", json={"definition": second}, headers=org.auth("cx"))
    assert changed.status_code == 200, changed.text
    assert client.post(f"/api/v1/surveys/{survey_id}/publish", headers=org.auth("cx")).status_code == 200
    new = submit(client, org, survey_id, answers={"nps": 9, "effort": 2, "via": "phone"}, unit_code="SH001")
    response = export(client, org, survey_id)
    reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    header = next(reader)
    assert header[9:15] == ["effort", "nps", "ces", "stars", "via", "via.other_text"]
    assert "csat" in header
    assert header.index("csat") > header.index("sq.gap")
    table = {line[0]: dict(zip(header, line, strict=True)) for line in reader}
    assert (table[old]["survey_version"], table[old]["csat"], table[old]["via"], table[old]["effort"]) == (
        "1",
        "4",
        "app",
        "",
    )
    assert (table[new]["survey_version"], table[new]["csat"], table[new]["via"], table[new]["effort"]) == (
        "2",
        "",
        "phone",
        "2",
    )
    path_labels = export(client, org, survey_id, format="sav")
    assert path_labels.status_code == 200


def test_a_survey_never_published_exports_its_header(client: TestClient, org: Org) -> None:
    created = client.post("/api/v1/surveys", json={"definition": definition()}, headers=org.auth("cx"))
    response = export(client, org, created.json()["id"])
    assert response.status_code == 200
    assert response.content.decode("utf-8-sig") == (
        "response_id,submitted_at,unit_code,channel,touchpoint,language,survey_version,status,revision,"
        "contact.email,contact.phone,contact.external_id\r\n"
    )
    for format in ("xlsx", "sav"):
        assert export(client, org, created.json()["id"], format=format).status_code == 200


@pytest.mark.parametrize("format", ["csv", "xlsx", "sav"])
def test_exports_read_page_after_page(
    client: TestClient, org: Org, survey: dict[str, Any], monkeypatch: pytest.MonkeyPatch, format: str
) -> None:
    from cxloop.collection.export import source

    monkeypatch.setattr(source, "PAGE_SIZE", 3)
    extra = [submit(client, org, survey["id"], answers={"nps": 7 + i}, unit_code="SH001") for i in range(4)]
    wanted = [*(survey[k] for k in ("full", "low", "south", "nowhere")), *extra]
    response = export(client, org, survey["id"], format=format)
    assert response.status_code == 200, response.text
    if format == "csv":
        assert [r["response_id"] for r in read_csv(response.content)] == wanted
    elif format == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
        assert [line[0] for line in sheet.iter_rows(min_row=2, values_only=True)] == wanted
    else:
        path = Path(client.app.state.settings.data_dir) / "paged.sav"  # type: ignore[attr-defined]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(response.content)
        data, _ = pyreadstat.read_sav(str(path), output_format="dict")
        assert data["response_id"] == wanted


def test_sav_names_are_made_valid_and_listed_in_the_notes(
    client: TestClient, org: Org, tmp_path: Path
) -> None:
    long_id = "q" + "x" * 63
    made = {
        "title": {"zh-CN": "名字"},
        "languages": ["zh-CN"],
        "default_language": "zh-CN",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "with", "type": "nps", "text": {"zh-CN": "保留字"}},
                    {"id": "score", "type": "csat", "text": {"zh-CN": "小写"}},
                    {"id": "SCORE", "type": "csat", "text": {"zh-CN": "大写"}},
                    {
                        "id": long_id,
                        "type": "multiple_choice",
                        "text": {"zh-CN": "长"},
                        "choices": [{"id": "a", "text": {"zh-CN": "甲"}}],
                    },
                ],
            }
        ],
    }
    survey_id = publish(client, org, made)
    submit(
        client, org, survey_id, answers={"with": 7, "score": 1, "SCORE": 5, long_id: ["a"]}, unit_code="SH001"
    )
    path = tmp_path / "names.sav"
    path.write_bytes(export(client, org, survey_id, format="sav").content)
    data, meta = pyreadstat.read_sav(str(path), output_format="dict")
    assert meta.column_names[9:] == [
        "v_with",
        "score",
        "SCORE_2",
        long_id,
        "contact.email",
        "contact.phone",
        "contact.external_id",
    ]
    assert (data["v_with"], data["score"], data["SCORE_2"], data[long_id]) == ([7.0], [1.0], [5.0], [1.0])
    assert dict(zip(meta.column_names, meta.column_labels, strict=True))[long_id] == "长: 甲"
    assert meta.notes == [
        "Variables renamed from cxloop column names:",
        "v_with: with",
        "SCORE_2: SCORE",
        f"{long_id}: " + "q" + "x" * 13,
        "  " + "x" * 50 + ".a",
    ]


def test_sav_labels_are_cut_to_spss_limits_without_breaking_characters(
    client: TestClient, org: Org, tmp_path: Path
) -> None:
    made = {
        "title": {"zh-CN": "x" + "长" * 30},
        "languages": ["zh-CN"],
        "default_language": "zh-CN",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {
                        "id": "pick",
                        "type": "single_choice",
                        "text": {"zh-CN": "a" + "长" * 200},
                        "choices": [{"id": "a", "text": {"zh-CN": "ab" + "长" * 100}}],
                    },
                    {"id": "long", "type": "text", "text": {"zh-CN": "文"}, "max_length": 20000},
                ],
            }
        ],
    }
    survey_id = publish(client, org, made)
    submit(client, org, survey_id, answers={"pick": "a", "long": "长" * 20000}, unit_code="SH001")
    path = tmp_path / "long.sav"
    path.write_bytes(export(client, org, survey_id, format="sav").content)
    data, meta = pyreadstat.read_sav(str(path), output_format="dict")
    assert meta.file_label == "x" + "长" * 21
    assert dict(zip(meta.column_names, meta.column_labels, strict=True))["pick"] == "a" + "长" * 85
    assert meta.variable_value_labels["pick"] == {1.0: "ab" + "长" * 39}
    assert data["long"] == ["长" * 10922]


def test_a_cut_off_csv_download_resumes_after_the_last_id(
    client: TestClient, org: Org, survey: dict[str, Any]
) -> None:
    whole = export(client, org, survey["id"]).content
    lines = whole.split(b"\r\n")
    received = b"\r\n".join(lines[:3]) + b"\r\n"  # the header and two responses
    resumed = export(client, org, survey["id"], after=survey["low"])
    assert resumed.status_code == 200
    assert not resumed.content.startswith(b"\xef\xbb\xbf")
    assert received + resumed.content == whole
    assert export(client, org, survey["id"], after=survey["nowhere"]).content == b""
    assert export(client, org, survey["id"], after="not-an-id!").status_code == 422
