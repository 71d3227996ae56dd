"""The demo seeds a shared regional dashboard and report schedules, once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.cli.conftest import Cli, cli  # noqa: F401 - fixture


def test_the_demo_has_a_shared_dashboard_and_schedules(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    data_dir = tmp_path / "demo-data"
    cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(data_dir))
    cli.ok("demo", "--no-serve", "--responses", "300", "--data-dir", str(data_dir))
    url = cli.env["CXLOOP_DATABASE_URL"]
    assert url
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            dashboards = conn.execute(text("SELECT name, shared FROM dashboards")).all()
            schedules = conn.execute(
                text("SELECT frequency, format FROM report_schedules ORDER BY frequency")
            ).all()
    finally:
        engine.dispose()
    assert [(n, bool(s)) for n, s in dashboards] == [("华东门店周报", True)]
    assert [tuple(r) for r in schedules] == [("daily", "xlsx"), ("monthly", "pdf"), ("weekly", "pdf")]
