"""Fuzz every API operation with schemathesis, in-process, as an admin.

No input may produce a 500, and every answer must match the schema that
/openapi.json publishes (including the problem+json error bodies). Each
operation gets a fresh database with the acme org, so examples are cheap and
independent; FUZZ_EXAMPLES raises the count for a longer local run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cxloop.kit.settings import Settings
from cxloop.web import create_app
from tests.factories import Org

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

# The schema is read once from an app that never starts; each test sends its
# cases to its own app (fresh database) through schemathesis' ASGI client.
_SCHEMA_APP = create_app(Settings(database_url="sqlite:///unused-fuzz-schema.db", secret_key="x" * 40))
schema = schemathesis.openapi.from_dict(_SCHEMA_APP.openapi())
schema.app = _SCHEMA_APP


@pytest.fixture(autouse=True)
def _stop_lifespans() -> Iterator[None]:
    # The ASGI client runs an app's lifespan (database, transport) on first
    # use and keeps it; stop it so each test's database is let go.
    yield
    shutdown_lifespans()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_input(case: schemathesis.Case, app: FastAPI, org: Org) -> None:
    case.call_and_validate(
        headers=org.auth("admin"),
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
        app=app,
    )
