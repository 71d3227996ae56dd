"""``cxloop dashboards report``: a report file rendered as the person named."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

from tests.cli.conftest import Cli, cli  # noqa: F401 - fixture
from tests.dashboards.conftest import FakeMetrics
from tests.factories import Org


def test_a_report_as_a_file(cli: Cli, org: Org, metrics: FakeMetrics, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "east.xlsx"
    result = cli.ok(
        "dashboards", "report", "--email", "east@acme.test", "--out", str(out), "--format", "xlsx"
    )
    assert "wrote" in result.output
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    assert len(book.worksheets) == 7
    assert {label for label, _ in metrics.calls} == {"east@acme.test"}
    pdf = tmp_path / "store.pdf"
    cli.ok("dashboards", "report", "--email", "store@acme.test", "--out", str(pdf), "--period", "all")
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_refusals(cli: Cli, org: Org, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "x.pdf"
    missing = cli("dashboards", "report", "--email", "nobody@acme.test", "--out", str(out))
    assert missing.exit_code == 1
    assert "user" in missing.output.lower()
    assert (
        cli(
            "dashboards", "report", "--email", "east@acme.test", "--out", str(out), "--format", "doc"
        ).exit_code
        == 2
    )
    assert not out.exists()
