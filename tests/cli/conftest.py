"""Running the ``cxloop`` command in-process against the test database.

Settings are read from the environment once and cached, so every call
clears the cache before and after; the CLI then sees exactly the variables
given here (and none of the developer's own ``CXLOOP_*``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.kit.settings import Settings, get_settings
from cxloop.web import create_app
from tests.conftest import PG_URL, _pg_schema_url

SECRET_KEY = "cli-test-secret-key-" + "y" * 32


@dataclass
class Cli:
    """``cli("units", "list")`` runs ``cxloop units list`` and returns the click Result."""

    env: dict[str, str | None]
    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self, *args: str, env: dict[str, str | None] | None = None, input: str | None = None
    ) -> Result:
        self.calls.append(list(args))
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(
                app, list(args), env={**self.env, **(env or {})}, input=input, catch_exceptions=False
            )
        finally:
            get_settings.cache_clear()

    def ok(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        result = self(*args, env=env)
        assert result.exit_code == 0, f"cxloop {' '.join(args)} -> {result.exit_code}\n{result.output}"
        return result


def cli_env(database_url: str, data_dir: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("CXLOOP_")}
    env.update(
        CXLOOP_DATABASE_URL=database_url,
        CXLOOP_DATA_DIR=str(data_dir),
        CXLOOP_SECRET_KEY=SECRET_KEY,
        CXLOOP_JOBS_IMMEDIATE="true",
    )
    return env


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    return Cli(cli_env(database_url, tmp_path / "cli-data"))


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database without any schema: a missing SQLite file, or a new PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'empty' / 'cxloop.db'}"
        return
    schema = f"cxempty_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(PG_URL, schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def empty_cli(empty_database_url: str, tmp_path: Path) -> Cli:
    return Cli(cli_env(empty_database_url, tmp_path / "cli-data"))


@pytest.fixture
def app_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``with app_for(cli) as client``: a TestClient of an app on the CLI's database."""

    @contextmanager
    def make(cli: Cli) -> Iterator[TestClient]:
        settings = Settings(
            data_dir=tmp_path / "app-data",
            database_url=cli.env["CXLOOP_DATABASE_URL"],
            secret_key=SECRET_KEY,
            jobs_immediate=True,
            embedded_worker=False,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            yield client

    return make


def flat(text: str) -> str:
    """Typer's boxed error message as one line: no frame, single spaces."""
    return " ".join(text.translate({ord(c): " " for c in "╭╮╰╯─│"}).split())
