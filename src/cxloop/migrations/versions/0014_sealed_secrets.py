"""Configuration secrets sealed with the field keys: webhook signing secrets, alert
channel settings and the secrets among distribution channel settings.

Existing rows are encrypted in place, with the active key of the installation's
ring (``CXLOOP_FIELD_KEYS`` or ``<data dir>/field.keys``, as the server uses):

- ``webhooks.secret`` -> ``webhooks.secret_enc``;
- ``alert_channels.config`` (JSON) -> ``alert_channels.config_enc`` (the whole settings, sealed JSON);
- ``channel_configs.config``: the secrets move to ``channel_configs.secrets_enc`` (sealed JSON),
  the plain column keeps the other settings and shows each set secret as the mask.

The associated data is ``tenant/table/column/row id`` (docs/adr/0032). The ring
is built only when a row needs it, so an empty database needs no key. SQLite:
columns are added and dropped with ALTER TABLE (3.35+), never by recreating a
table: ``webhooks`` is referenced by its deliveries with ON DELETE CASCADE, and
dropping it to copy it would delete them. A NOT NULL column added to a SQLite
table with rows needs a default, so there ``secret_enc`` and ``config_enc`` keep
a default of '' (never used: the application always sets them; '' does not
decrypt, so it could never sign or send).

The downgrade decrypts back to the old columns; it needs the keys that sealed them.

Revision ID: 0014_sealed_secrets
Revises: 0013_analytics_covering
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cxloop.kit.crypto import KeyRing, aad, keyring

revision: str = "0014_sealed_secrets"
down_revision: str | None = "0013_analytics_covering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The distribution settings that are secrets, as of this revision (providers.SECRET_KEYS).
SECRET_KEYS = frozenset(
    {"password", "access_key_secret", "secret_key", "auth_token", "app_secret", "corp_secret", "token"}
)
MASK = "********"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


class _Ring:
    """The installation's key ring, built the first time a row needs it."""

    def __init__(self) -> None:
        self._ring: KeyRing | None = None

    def __call__(self) -> KeyRing:
        if self._ring is None:
            self._ring = keyring()
        return self._ring


def _add_sealed_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.add_column(table, sa.Column(column, sa.Text(), nullable=False, server_default=""))
    else:
        op.add_column(table, sa.Column(column, sa.Text(), nullable=True))


def _finish_sealed_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(table, column, existing_type=sa.Text(), nullable=False)


webhooks = sa.table(
    "webhooks",
    sa.column("id", sa.String()),
    sa.column("tenant_id", sa.String()),
    sa.column("secret", sa.String()),
    sa.column("secret_enc", sa.Text()),
)
alert_channels = sa.table(
    "alert_channels",
    sa.column("id", sa.String()),
    sa.column("tenant_id", sa.String()),
    sa.column("config", _json()),
    sa.column("config_enc", sa.Text()),
)
channel_configs = sa.table(
    "channel_configs",
    sa.column("id", sa.String()),
    sa.column("tenant_id", sa.String()),
    sa.column("config", _json()),
    sa.column("secrets_enc", sa.Text()),
)


def upgrade() -> None:
    bind = op.get_bind()
    ring = _Ring()

    _add_sealed_column("webhooks", "secret_enc")
    for hook_id, tenant_id, secret in bind.execute(
        sa.select(webhooks.c.id, webhooks.c.tenant_id, webhooks.c.secret)
    ).all():
        sealed = ring().encrypt(secret, aad(tenant_id, "webhooks", "secret", hook_id))
        bind.execute(webhooks.update().where(webhooks.c.id == hook_id).values(secret_enc=sealed))
    _finish_sealed_column("webhooks", "secret_enc")
    op.drop_column("webhooks", "secret")

    _add_sealed_column("alert_channels", "config_enc")
    for channel_id, tenant_id, config in bind.execute(
        sa.select(alert_channels.c.id, alert_channels.c.tenant_id, alert_channels.c.config)
    ).all():
        sealed = ring().encrypt(_dumps(config), aad(tenant_id, "alert_channels", "config", channel_id))
        bind.execute(
            alert_channels.update().where(alert_channels.c.id == channel_id).values(config_enc=sealed)
        )
    _finish_sealed_column("alert_channels", "config_enc")
    op.drop_column("alert_channels", "config")

    op.add_column("channel_configs", sa.Column("secrets_enc", sa.Text(), nullable=True))
    for row_id, tenant_id, config in bind.execute(
        sa.select(channel_configs.c.id, channel_configs.c.tenant_id, channel_configs.c.config)
    ).all():
        settings = dict(config or {})
        secrets = {k: v for k, v in settings.items() if k in SECRET_KEYS and v}
        if not secrets:
            continue
        sealed = ring().encrypt(_dumps(secrets), aad(tenant_id, "channel_configs", "secrets", row_id))
        plain = {k: (MASK if k in secrets else v) for k, v in settings.items()}
        bind.execute(
            channel_configs.update()
            .where(channel_configs.c.id == row_id)
            .values(config=plain, secrets_enc=sealed)
        )


def downgrade() -> None:
    bind = op.get_bind()
    ring = _Ring()
    sqlite = bind.dialect.name == "sqlite"

    for row_id, tenant_id, config, stored in bind.execute(
        sa.select(
            channel_configs.c.id,
            channel_configs.c.tenant_id,
            channel_configs.c.config,
            channel_configs.c.secrets_enc,
        ).where(channel_configs.c.secrets_enc.is_not(None))
    ).all():
        secrets = json.loads(ring().decrypt(stored, aad(tenant_id, "channel_configs", "secrets", row_id)))
        bind.execute(
            channel_configs.update()
            .where(channel_configs.c.id == row_id)
            .values(config={**dict(config or {}), **secrets})
        )
    op.drop_column("channel_configs", "secrets_enc")

    if sqlite:
        op.add_column("alert_channels", sa.Column("config", _json(), nullable=False, server_default="{}"))
    else:
        op.add_column("alert_channels", sa.Column("config", _json(), nullable=True))
    for channel_id, tenant_id, stored in bind.execute(
        sa.select(alert_channels.c.id, alert_channels.c.tenant_id, alert_channels.c.config_enc)
    ).all():
        config = json.loads(ring().decrypt(stored, aad(tenant_id, "alert_channels", "config", channel_id)))
        bind.execute(alert_channels.update().where(alert_channels.c.id == channel_id).values(config=config))
    if not sqlite:
        op.alter_column("alert_channels", "config", existing_type=_json(), nullable=False)
    op.drop_column("alert_channels", "config_enc")

    if sqlite:
        op.add_column(
            "webhooks", sa.Column("secret", sa.String(length=200), nullable=False, server_default="")
        )
    else:
        op.add_column("webhooks", sa.Column("secret", sa.String(length=200), nullable=True))
    for hook_id, tenant_id, stored in bind.execute(
        sa.select(webhooks.c.id, webhooks.c.tenant_id, webhooks.c.secret_enc)
    ).all():
        secret = ring().decrypt(stored, aad(tenant_id, "webhooks", "secret", hook_id))
        bind.execute(webhooks.update().where(webhooks.c.id == hook_id).values(secret=secret))
    if not sqlite:
        op.alter_column("webhooks", "secret", existing_type=sa.String(length=200), nullable=False)
    op.drop_column("webhooks", "secret_enc")
