"""``cxloop distribution tick`` and ``status`` against a migrated database."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.kit.settings import get_settings


def test_tick_and_status(database_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CXLOOP_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ticked = runner.invoke(app, ["distribution", "tick"])
        assert ticked.exit_code == 0, ticked.output
        assert json.loads(ticked.output) == {
            "campaigns": 0,
            "members": 0,
            "trigger_runs": 0,
            "reminders": 0,
            "released": 0,
        }
        status = runner.invoke(app, ["distribution", "status"])
        assert status.exit_code == 0 and json.loads(status.output) == {}
    finally:
        get_settings.cache_clear()
