"""``cxloop import responses FILE --survey ID``: the same checks as the API,
errors listed per row on stderr, exit status 0 / 1 (rows skipped) / 2
(nothing imported), and nothing written on refusal or on a dry run."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.cli.conftest import Cli, cli  # noqa: F401  (the fixture)
from tests.collection.import_support import csv_text, make_import_survey
from tests.collection.support import rows, written
from tests.factories import Org

LINES = [
    ["nps", "门店", "提交时间", "why"],
    ["9", "SH001", "2026-01-31 08:00", "好"],
    ["12", "SH002", "2026-01-31 09:00", ""],
    ["6", "SH002", "2026/2/1 10:00", "慢"],
]
ERRORS = "row 3, column 'nps': answers.nps: must be from 0 to 10\n"


def write(tmp_path: Path, lines: list[list[str]], name: str = "history.csv") -> str:
    path = tmp_path / name
    path.write_bytes(csv_text(lines).encode("gb18030"))
    return str(path)


def test_all_or_nothing_refuses_with_the_row_errors_and_exit_2(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    database_url: str,
    tmp_path: Path,
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    result = cli("import", "responses", write(tmp_path, LINES), "--survey", survey_id)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == (
        "csv gb18030: 3 rows, 4 columns\n"
        + ERRORS
        + "error: 1 of 3 rows are not valid; nothing was imported\n"
    )
    assert written(database_url) == before


def test_dry_run_checks_every_row_and_writes_nothing(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    database_url: str,
    tmp_path: Path,
) -> None:
    survey_id = make_import_survey(client, org)
    before = written(database_url)
    result = cli("import", "responses", write(tmp_path, LINES), "--survey", survey_id, "--dry-run")
    assert result.exit_code == 2
    assert result.stdout == "dry run: 2 of 3 rows are valid; nothing imported\n"
    assert result.stderr.endswith(ERRORS)
    clean = cli("import", "responses", write(tmp_path, LINES[:2]), "--survey", survey_id, "--dry-run")
    assert (clean.exit_code, clean.stdout) == (0, "dry run: 1 of 1 rows are valid; nothing imported\n")
    assert written(database_url) == before


def test_skip_bad_rows_imports_the_rest_with_a_mapping_and_time_zone(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    database_url: str,
    tmp_path: Path,
) -> None:
    survey_id = make_import_survey(client, org)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"why": "ignore"}), encoding="utf-8")
    args = [
        "--survey",
        survey_id,
        "--skip-bad-rows",
        "--mapping",
        str(mapping),
        "--timezone",
        "Asia/Shanghai",
    ]
    result = cli("import", "responses", write(tmp_path, LINES), *args)
    assert result.exit_code == 1, result.output
    assert result.stdout == "imported 2 of 3 rows (1 skipped)\n"
    assert result.stderr == "csv gb18030: 3 rows, 4 columns\nnot imported: columns 'why'\n" + ERRORS
    stored = rows(database_url, "SELECT source, channel, answers FROM responses")
    decoded = [(s, c, a if isinstance(a, dict) else json.loads(a)) for s, c, a in stored]
    assert sorted(decoded, key=lambda r: r[2]["nps"]) == [
        ("import", "import", {"nps": 6}),
        ("import", "import", {"nps": 9}),
    ]
    stamps = rows(database_url, "SELECT submitted_at FROM responses ORDER BY submitted_at")
    assert [str(s[0])[:16] for s in stamps] == ["2026-01-31 00:00", "2026-02-01 02:00"]
    # The job of the stored chunk waits in the outbox for the worker's relay.
    assert rows(database_url, "SELECT name, status FROM outbox_jobs") == [
        ("collection.response_stored", "pending")
    ]
    good = cli("import", "responses", write(tmp_path, LINES[:2]), "--survey", survey_id)
    assert (good.exit_code, good.stdout) == (0, "imported 1 of 1 rows\n")
    assert written(database_url)["responses"] == 3


def test_refusals_before_any_row_is_read(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    database_url: str,
    tmp_path: Path,
) -> None:
    survey_id = make_import_survey(client, org)
    draft = make_import_survey(client, org, publish=False)
    before = written(database_url)
    csv_path = write(tmp_path, LINES[:2])
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    bad_mapping = tmp_path / "bad.json"
    bad_mapping.write_text('{"nps": "answers.nope"}', encoding="utf-8")
    cases = [
        (
            [str(tmp_path / "missing.csv"), "--survey", survey_id],
            2,
            f"error: {tmp_path / 'missing.csv'}: No such file or directory\n",
        ),
        (
            [str(broken), "--survey", survey_id],
            2,
            f"error: {broken}: The file is not a readable XLSX workbook (damaged or cut short).\n"
            "  file: The file is not a readable XLSX workbook (damaged or cut short).\n",
        ),
        (
            [csv_path, "--survey", survey_id, "--mapping", str(bad_mapping)],
            2,
            "csv gb18030: 1 rows, 4 columns\nerror: The column mapping is not valid; see errors.\n"
            "  mapping.nps: 'answers.nope' is not a question or field of this survey\n",
        ),
        (
            [csv_path, "--survey", survey_id, "--timezone", "Nowhere/City"],
            2,
            "error: 'Nowhere/City' is not a known time zone such as Asia/Shanghai\n",
        ),
        (
            [csv_path, "--survey", draft],
            1,
            "csv gb18030: 1 rows, 4 columns\nerror: This survey is not published yet.\n",
        ),
        (
            [csv_path, "--survey", "01ARZ3NDEKTSV4RRFFQ69G5FAV"],
            1,
            "csv gb18030: 1 rows, 4 columns\nerror: No such survey.\n",
        ),
        (
            [csv_path, "--survey", survey_id, "--tenant", "nope"],
            1,
            "csv gb18030: 1 rows, 4 columns\nerror: No tenant 'nope'.\n",
        ),
    ]
    for args, code, stderr in cases:
        result = cli("import", "responses", *args)
        assert (result.exit_code, result.stderr) == (code, stderr), args
        assert result.stdout == ""
    assert written(database_url) == before
