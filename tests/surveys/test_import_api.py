"""POST /api/v1/surveys/import and ``cxloop import survey`` end to end, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.cli.conftest import Cli, cli_env
from tests.factories import Org
from tests.identity.support import count

PROBLEM = "application/problem+json"
SURVEYJS = {
    "title": "Store visit",
    "pages": [
        {
            "name": "p1",
            "elements": [
                {"type": "rating", "name": "nps", "rateMin": 0, "rateMax": 10, "title": "Recommend?"}
            ],
        },
        {
            "name": "p2",
            "elements": [
                {"type": "html", "name": "intro"},
                {"type": "comment", "name": "why", "title": "Why?"},
            ],
        },
    ],
}


def upload(client: TestClient, org: Org, name: str, data: bytes, who: str = "cx"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/surveys/import", files={"file": (name, data)}, headers=org.auth(who))


def test_import_creates_a_draft_and_lists_warnings(client: TestClient, org: Org, database_url: str) -> None:
    response = upload(client, org, "visit.json", json.dumps(SURVEYJS).encode())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source_format"] == "SurveyJS"
    assert body["warnings"] == [
        {
            "source": "pages[1].elements[0] intro",
            "message": "element type 'html' has no cxloop equivalent; not imported",
        }
    ]
    survey = body["survey"]
    assert (survey["status"], survey["version"], survey["title"]) == ("draft", 1, "Store visit")
    assert [q["type"] for p in survey["definition"]["pages"] for q in p["questions"]] == ["nps", "text"]
    fetched = client.get(f"/api/v1/surveys/{survey['id']}", headers=org.auth("cx"))
    assert fetched.json()["definition"] == survey["definition"]
    assert count(database_url, "surveys") == 1


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("cut.qsf", b'{"SurveyEntry": {"SurveyName": "x"', 422, "import_unreadable"),
        ("bad.lss", b"<document><LimeSurveyDocType>Survey", 422, "import_unreadable"),
        ("latin1.json", '{"title": "caf\u00e9", "elements": []}'.encode("latin-1"), 422, "import_unreadable"),
        ("cut.xlsx", b"PK\x03\x04" + b"\x00" * 100, 422, "import_unreadable"),
        ("big.json", b" " * (1024 * 1024 + 10), 413, "payload_too_large"),
    ],
)
def test_damaged_or_oversized_files_create_nothing(
    client: TestClient, org: Org, database_url: str, name: str, data: bytes, status: int, code: str
) -> None:
    response = upload(client, org, name, data)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code
    assert count(database_url, "surveys") == 0
    assert count(database_url, "survey_versions") == 0


def test_import_needs_config_write_and_a_file(client: TestClient, org: Org, database_url: str) -> None:
    refused = upload(client, org, "visit.json", json.dumps(SURVEYJS).encode(), who="analyst")
    assert refused.status_code == 403
    missing = client.post("/api/v1/surveys/import", headers=org.auth("cx"))
    assert missing.status_code == 422
    assert missing.headers["content-type"].startswith(PROBLEM)
    anonymous = client.post("/api/v1/surveys/import", files={"file": ("v.json", b"{}")})
    assert anonymous.status_code == 401
    assert count(database_url, "surveys") == 0


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(cli_env(database_url, tmp_path / "cli-data"))


def test_cli_imports_prints_warnings_and_the_id_last(
    cli: Cli, org: Org, tmp_path: Path, client: TestClient
) -> None:
    path = tmp_path / "visit.json"
    path.write_text(json.dumps(SURVEYJS), encoding="utf-8")
    dry = cli.ok("import", "survey", str(path), "--dry-run")
    assert dry.stdout == "dry run: nothing created (1 warnings)\n"
    assert "warning: pages[1].elements[0] intro: element type 'html'" in dry.stderr
    assert client.get("/api/v1/surveys", headers=org.auth("cx")).json()["items"] == []
    result = cli.ok("import", "survey", str(path), "--tenant", "acme")
    survey_id = result.stdout.splitlines()[-1]
    assert result.stderr.splitlines()[0] == "SurveyJS: 2 pages, 2 questions"
    fetched = client.get(f"/api/v1/surveys/{survey_id}", headers=org.auth("cx"))
    assert fetched.status_code == 200 and fetched.json()["status"] == "draft"


def test_cli_refuses_damaged_and_missing_files(cli: Cli, org: Org, tmp_path: Path, database_url: str) -> None:
    damaged = tmp_path / "cut.qsf"
    damaged.write_bytes(b'{"SurveyEntry": ')
    result = cli("import", "survey", str(damaged))
    assert result.exit_code == 1
    assert "The file is not valid JSON" in result.stderr
    missing = cli("import", "survey", str(tmp_path / "nope.qsf"))
    assert missing.exit_code == 2
    assert "No such file" in missing.stderr
    assert count(database_url, "surveys") == 0


SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "surveys"


@pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample surveys not found at {SAMPLES}")
@pytest.mark.parametrize(
    ("relative", "source_format", "questions"),
    [
        (
            "qualtrics-qualtricstools/Long Exhaustive Sample Survey/Long_Exhaustive_Sample_Survey.qsf",
            "Qualtrics QSF",
            35,
        ),
        ("limesurvey-citric/survey.lss", "LimeSurvey LSS", 3),
        ("xlsform-pyxform/xlsform_spec_test.xlsx", "XLSForm", 20),
        ("xlsform-pyxform/tutorial.xls", "XLSForm", 10),
    ],
)
def test_sample_files_through_the_api(
    client: TestClient, org: Org, database_url: str, relative: str, source_format: str, questions: int
) -> None:
    path = SAMPLES / relative
    response = upload(client, org, path.name, path.read_bytes())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["source_format"] == source_format
    assert sum(len(p["questions"]) for p in body["survey"]["definition"]["pages"]) == questions
    assert count(database_url, "surveys") == 1
