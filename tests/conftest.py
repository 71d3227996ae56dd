"""Test harness: every database test runs on SQLite, and on PostgreSQL when
``CXLOOP_TEST_DATABASE_URL`` points at one (``make test`` runs both).

The schema is made once per session by the real Alembic migrations. SQLite
tests get a fresh copy of the migrated file; PostgreSQL tests share one
private schema that is truncated after each test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Text analysis runs in the test process, from one model cache for the whole
# run (its first training takes seconds); tests/text checks the child process.
os.environ.setdefault("CXLOOP_TEXT_ENGINE", "inline")
# Test receivers listen on 127.0.0.1; tests/alerts/test_webhook_targets.py turns the guard back on.
os.environ.setdefault("CXLOOP_WEBHOOK_PRIVATE_TARGETS", "true")
os.environ.setdefault("CXLOOP_TEXT_MODEL_DIR", str(Path(tempfile.gettempdir()) / "cxloop-test-text-models"))

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cxloop.kit.migrate import upgrade
from cxloop.kit.settings import Settings
from cxloop.web import create_app
from tests.factories import Org, make_org

PG_URL = os.environ.get("CXLOOP_TEST_DATABASE_URL", "")


def _pg_schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database: a SQLite file to copy, or a PostgreSQL schema URL."""
    if PG_URL:
        schema = f"cxtest_{os.getpid()}_{secrets.token_hex(3)}"
        admin = create_engine(PG_URL.replace("+psycopg", "+psycopg"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _pg_schema_url(PG_URL, schema)
        upgrade(url)
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("template") / "cxloop.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            if r[0] != "alembic_version"
        ]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(database_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        yield database_template
        _truncate_all(database_template)
    else:
        target = tmp_path / "cxloop.db"
        shutil.copyfile(database_template, target)
        yield f"sqlite:///{target}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        jobs_immediate=True,
        embedded_worker=False,
    )


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    return create_app(settings)


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def org(database_url: str) -> Org:
    """Acme: HQ > East > Shanghai > SH001, SH002; HQ > South > Guangzhou > GZ001,
    with one user (and token) per role."""
    return make_org(database_url)
