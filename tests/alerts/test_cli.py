"""``cxloop alerts check`` validates a definition with paths; ``cxloop alerts metrics`` runs the rules."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cxloop.cli import app


def test_check_reports_paths_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"kind": "response", "condition": {"any": [{"words": {"lists": ["x"]}}]}}))
    result = CliRunner().invoke(app, ["alerts", "check", str(bad)])
    assert result.exit_code == 2
    assert "definition.condition.any[0].words: unknown word list 'x'" in result.output
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"kind": "metric", "metric": "nps", "unit": "HQ", "when": {"drop_by": 10}}))
    result = CliRunner().invoke(app, ["alerts", "check", str(good)])
    assert (result.exit_code, result.output.strip()) == (0, "ok: a metric rule")
