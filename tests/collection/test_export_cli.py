"""``cxloop export responses``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyreadstat
import pytest
from fastapi.testclient import TestClient

from tests.cli.conftest import Cli, cli_env
from tests.collection.support import make_survey, rows
from tests.factories import Org


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(cli_env(database_url, tmp_path / "cli-data"))


@pytest.fixture
def survey_id(client: TestClient, org: Org) -> str:
    made = make_survey(client, org)
    for unit_code, nps in (("SH001", 9), ("GZ001", 10)):
        stored = client.post(
            f"/api/v1/surveys/{made}/responses",
            json={"answers": {"nps": nps}, "unit_code": unit_code},
            headers=org.auth("cx"),
        )
        assert stored.status_code == 201, stored.text
    return made


def test_csv_to_stdout_and_every_format_to_a_file(
    cli: Cli, org: Org, survey_id: str, tmp_path: Path, database_url: str
) -> None:
    result = cli.ok("export", "responses", "--survey", survey_id)
    assert result.stderr == "2 responses exported to stdout (csv)\n"
    exported = list(csv.DictReader(io.StringIO(result.stdout.removeprefix("\ufeff"))))
    assert [(r["unit_code"], r["nps"]) for r in exported] == [("SH001", "9"), ("GZ001", "10")]
    only_east = cli.ok("export", "responses", "--survey", survey_id, "--unit", "EAST")
    assert len(list(csv.DictReader(io.StringIO(only_east.stdout.removeprefix("\ufeff"))))) == 1
    target = tmp_path / "answers.sav"
    saved = cli.ok("export", "responses", "--survey", survey_id, "--format", "sav", "--out", str(target))
    assert saved.stderr == f"2 responses exported to {target} (sav)\n"
    data, _ = pyreadstat.read_sav(str(target), output_format="dict")
    assert data["nps"] == [9.0, 10.0]
    sheet = tmp_path / "answers.xlsx"
    cli.ok("export", "responses", "--survey", survey_id, "--format", "xlsx", "--labels", "--out", str(sheet))
    assert sheet.read_bytes().startswith(b"PK")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".cxloop")) == []
    audited = rows(database_url, "SELECT actor_label FROM audit_events WHERE action = 'data.exported'")
    assert audited == [("cli",)] * 4


def test_refusals_leave_no_file(cli: Cli, org: Org, survey_id: str, tmp_path: Path) -> None:
    target = tmp_path / "nothing.csv"
    missing = cli("export", "responses", "--survey", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "--out", str(target))
    assert missing.exit_code == 1
    assert "No such survey." in missing.stderr
    assert cli("export", "responses", "--survey", survey_id, "--unit", "NOPE").exit_code == 1
    assert cli("export", "responses", "--survey", survey_id, "--format", "pdf").exit_code == 2
    assert cli("export", "responses", "--survey", survey_id, "--language", "no way").exit_code == 2
    assert cli("export", "responses", "--survey", survey_id, "--out", str(tmp_path)).exit_code == 2
    assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cxloop")] == []
