"""``cxloop cases escalate`` and ``cxloop cases report``."""

from __future__ import annotations

import json

import pytest

from tests.cases.support import Clock, open_one
from tests.cli.conftest import Cli
from tests.collection.support import rows
from tests.factories import Org


def test_escalate_and_report(cli: Cli, org: Org, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    open_one(database_url, org)
    assert cli.ok("cases", "escalate").output == "0 case(s) escalated\n"
    clock.advance(minutes=61)
    assert cli.ok("cases", "escalate").output == "1 case(s) escalated\n"
    assert rows(database_url, "SELECT escalated_to_id FROM cases") == [(org.user_ids["store"],)]
    report = json.loads(cli.ok("cases", "report", "--unit", "EAST").output)
    assert (report["cases"], report["escalated"], report["sla"]["acknowledge"]) == (
        1,
        1,
        {"met": 0, "breached": 1, "rate": 0.0},
    )
    assert cli("cases", "report", "--unit", "NOPE").exit_code == 1
