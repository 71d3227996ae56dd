"""Migration 0014 seals configuration secrets that earlier versions stored in clear:
rows made at revision 0013 come out sealed under the installation's key (and open with
the same code the application uses), nothing else in the rows or the tables that
reference them is lost, and the downgrade gives the clear values back."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import create_engine, text
from sqlalchemy.dialects import postgresql

import cxloop.kit.crypto
from cxloop.alerts.channels import config_of
from cxloop.alerts.models import NotificationChannel, Webhook
from cxloop.alerts.webhooks import secret_of
from cxloop.distribution.models import ChannelConfig
from cxloop.distribution.providers import settings_of
from cxloop.kit.db import Database, UTCDateTime, sync_url
from cxloop.kit.migrate import upgrade
from cxloop.kit.settings import Settings
from tests.conftest import PG_URL, _pg_schema_url

BEFORE = "0013_analytics_covering"
TENANT, HOOK, DELIVERY, CHANNEL, CONFIG = (f"01JTEST0000000000000000{n:03d}" for n in range(5))
SECRET = "whsec_from-before-the-migration-0001"
APPRISE = {"url": "wecombot://robot-key-before-0001", "to": ["ops@acme.test"]}
SMTP = {
    "host": "smtp.acme.test",
    "port": 465,
    "username": "mailer",
    "password": "pass-before-0001",
    "from": "a@b",
}
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet: a new SQLite file, or a new PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'before.db'}"
        return
    schema = f"cxmig_{os.getpid()}_{secrets.token_hex(3)}"
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
def ring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The installation's keys, as the server would configure them (restored afterwards)."""
    monkeypatch.setattr(cxloop.kit.crypto, "_ring", None)
    settings = Settings(data_dir=tmp_path / "data", secret_key="migration-test-" + "m" * 32)
    cxloop.kit.crypto.configure(settings)
    return settings


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tables() -> dict[str, sa.TableClause]:
    return {
        "tenants": sa.table(
            "tenants",
            *(sa.column(c) for c in ("id", "slug", "name", "default_locale", "timezone", "auth_version")),
            sa.column("created_at", UTCDateTime()),
        ),
        "webhooks": sa.table(
            "webhooks",
            *(sa.column(c) for c in ("id", "tenant_id", "url", "secret", "enabled", "created_by")),
            sa.column("events", _json()),
            sa.column("created_at", UTCDateTime()),
        ),
        "webhook_deliveries": sa.table(
            "webhook_deliveries",
            *(
                sa.column(c)
                for c in ("id", "tenant_id", "webhook_id", "event", "event_key", "status", "attempts")
            ),
            sa.column("payload", _json()),
            sa.column("attempt_log", _json()),
            sa.column("created_at", UTCDateTime()),
        ),
        "alert_channels": sa.table(
            "alert_channels",
            *(sa.column(c) for c in ("id", "tenant_id", "name", "kind", "language", "enabled")),
            sa.column("config", _json()),
            sa.column("created_at", UTCDateTime()),
        ),
        "channel_configs": sa.table(
            "channel_configs",
            *(sa.column(c) for c in ("id", "tenant_id", "channel", "provider", "enabled")),
            sa.column("config", _json()),
            sa.column("updated_at", UTCDateTime()),
        ),
    }


def _seed_before(url: str) -> None:
    t = _tables()
    engine = create_engine(sync_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(
                t["tenants"].insert().values(
                    id=TENANT, slug="acme", name="Acme", default_locale="zh-CN",
                    timezone="Asia/Shanghai", auth_version=0, created_at=NOW,
                )
            )  # fmt: skip
            conn.execute(
                t["webhooks"].insert().values(
                    id=HOOK, tenant_id=TENANT, url="https://hooks.acme.test/in", secret=SECRET,
                    enabled=True, created_by=None, events=["case.created"], created_at=NOW,
                )
            )  # fmt: skip
            conn.execute(
                t["webhook_deliveries"].insert().values(
                    id=DELIVERY, tenant_id=TENANT, webhook_id=HOOK, event="case.created",
                    event_key="case.created:1", status="delivered", attempts=1,
                    payload={"case_id": "1"}, attempt_log=[], created_at=NOW,
                )
            )  # fmt: skip
            conn.execute(
                t["alert_channels"].insert().values(
                    id=CHANNEL, tenant_id=TENANT, name="robot", kind="apprise", language=None,
                    enabled=True, config=APPRISE, created_at=NOW,
                )
            )  # fmt: skip
            conn.execute(
                t["channel_configs"].insert().values(
                    id=CONFIG, tenant_id=TENANT, channel="email", provider="smtp", enabled=True,
                    config=SMTP, updated_at=NOW,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def _read(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def _loaded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _as_the_app_reads(url: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    async def go() -> tuple[str, dict[str, Any], dict[str, Any]]:
        db = Database(url)
        try:
            async with db.session(write=False) as session:
                hook = await session.get(Webhook, HOOK)
                channel = await session.get(NotificationChannel, CHANNEL)
                config = await session.get(ChannelConfig, CONFIG)
                assert hook is not None and channel is not None and config is not None
                return secret_of(hook), config_of(channel), settings_of(config)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_the_migration_seals_existing_secrets_and_the_downgrade_opens_them(
    empty_url: str, ring: Settings
) -> None:
    upgrade(empty_url, BEFORE)
    _seed_before(empty_url)
    upgrade(empty_url)

    [(hook_secret,)] = _read(empty_url, "SELECT secret_enc FROM webhooks")
    [(channel_config,)] = _read(empty_url, "SELECT config_enc FROM alert_channels")
    [(plain, sealed)] = _read(empty_url, "SELECT config, secrets_enc FROM channel_configs")
    for stored in (hook_secret, channel_config, sealed):
        assert str(stored).startswith("k1:")
    assert SECRET not in hook_secret
    assert "robot-key" not in channel_config and "ops@acme.test" not in channel_config
    assert "pass-before" not in sealed
    assert _loaded(plain) == {**SMTP, "password": "********"}
    # The rows that reference a webhook are still there (no table was dropped and copied).
    assert _read(empty_url, "SELECT id, status FROM webhook_deliveries") == [(DELIVERY, "delivered")]
    # The application opens what the migration sealed.
    assert _as_the_app_reads(empty_url) == (SECRET, APPRISE, SMTP)

    upgrade(empty_url)  # at head: nothing to do, nothing sealed twice
    assert _read(empty_url, "SELECT secret_enc FROM webhooks") == [(hook_secret,)]

    from alembic import command

    from cxloop.kit.migrate import alembic_config

    command.downgrade(alembic_config(empty_url), BEFORE)
    assert _read(empty_url, "SELECT secret FROM webhooks") == [(SECRET,)]
    assert [_loaded(c) for (c,) in _read(empty_url, "SELECT config FROM alert_channels")] == [APPRISE]
    assert [_loaded(c) for (c,) in _read(empty_url, "SELECT config FROM channel_configs")] == [SMTP]
    assert _read(empty_url, "SELECT id FROM webhook_deliveries") == [(DELIVERY,)]

    upgrade(empty_url)
    assert _as_the_app_reads(empty_url) == (SECRET, APPRISE, SMTP)


def test_an_empty_database_migrates_without_making_a_key(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cxloop.kit.crypto, "_ring", None)
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(tmp_path / "nowhere"))
    from cxloop.kit.settings import get_settings

    get_settings.cache_clear()
    try:
        upgrade(empty_url)
    finally:
        get_settings.cache_clear()
    assert not (tmp_path / "nowhere" / "field.keys").exists()
    assert cxloop.kit.crypto._ring is None


def test_db_upgrade_with_an_unusable_key_ring_says_why_and_changes_nothing(
    empty_url: str, ring: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli.conftest import Cli, cli_env

    upgrade(empty_url, BEFORE)
    _seed_before(empty_url)
    monkeypatch.setattr(cxloop.kit.crypto, "_ring", None)  # the command builds it from its environment
    cli = Cli(cli_env(empty_url, tmp_path / "cli-data"))
    refused = cli("db", "upgrade", env={"CXLOOP_FIELD_KEYS": "k1:not-base64!"})
    assert refused.exit_code == 2
    assert refused.stdout == ""
    assert refused.stderr.startswith("error: cannot migrate ")
    assert refused.stderr.endswith(
        ": field key k1: not base64 (the migration seals the stored secrets with CXLOOP_FIELD_KEYS)\n"
    )
    # The migration's transaction was rolled back whole: still at 0013, the secret in clear.
    from cxloop.kit.migrate import current_heads

    assert current_heads(empty_url) == {BEFORE}
    assert _read(empty_url, "SELECT secret FROM webhooks") == [(SECRET,)]
    good = cli("db", "upgrade", env={"CXLOOP_FIELD_KEYS": cxloop.kit.crypto.new_key_spec("k7")})
    assert good.exit_code == 0, good.output
    [(sealed,)] = _read(empty_url, "SELECT secret_enc FROM webhooks")
    assert str(sealed).startswith("k7:")
