"""Every role on every customers endpoint family: what it may do, and that refusals write nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.customers.support import register_types, written
from tests.factories import Org

WRITERS = {"admin", "cx", "east", "store"}
CONFIGURERS = {"admin", "cx"}


def _requests(n: int) -> list[tuple[str, str, dict[str, Any], set[str], int]]:
    """(method, path, body, roles allowed, status when allowed)."""
    return [
        ("GET", "/api/v1/contacts", {}, WRITERS | {"agent", "analyst"}, 200),
        (
            "POST",
            "/api/v1/contacts",
            {"identities": {"member_id": f"R{n}"}, "unit_code": "SH001"},
            WRITERS,
            201,
        ),
        ("POST", "/api/v1/events", {"id": f"e{n}", "type": "visit", "unit_code": "SH001"}, WRITERS, 201),
        ("GET", "/api/v1/segments", {}, WRITERS | {"agent", "analyst"}, 200),
        ("POST", "/api/v1/segments", {"name": f"s{n}", "filter": {}}, CONFIGURERS, 201),
        ("POST", "/api/v1/journeys", {"key": f"j{n}", "name": {"en": "J"}}, CONFIGURERS, 201),
        ("POST", "/api/v1/event-types", {"name": f"t{n}"}, CONFIGURERS, 201),
        ("PUT", "/api/v1/consent-policy", {"opt_in_channels": []}, CONFIGURERS, 200),
        ("POST", "/api/v1/contact-attributes", {"key": f"a{n}", "type": "text"}, CONFIGURERS, 201),
    ]


@pytest.mark.parametrize("who", ["admin", "cx", "east", "store", "agent", "analyst"])
def test_role_matrix(who: str, client: TestClient, org: Org, database_url: str) -> None:
    register_types(client, org, "visit")
    for n, (method, path, body, allowed, status) in enumerate(_requests(0)):
        before = written(database_url)
        response = client.request(method, path, json=body or None, headers=org.auth(who))
        if who in allowed:
            assert response.status_code == status, (who, method, path, response.text)
        else:
            assert response.status_code == 403, (who, method, path, response.text)
            assert response.json()["code"] == "permission_denied"
            assert written(database_url) == before, (who, path, n)
