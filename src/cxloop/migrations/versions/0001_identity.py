"""Identity (tenants, units, users, tokens, sessions, audit), job outbox, idempotency keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cxloop.kit.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("owner", "key", name=op.f("uq_idempotency_keys_owner_key")),
    )
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("attempted_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_attempts_email_digest_attempted_at"),
            ["email_digest", "attempted_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_login_attempts_ip_attempted_at"), ["ip", "attempted_at"], unique=False
        )

    op.create_table(
        "outbox_jobs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("available_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_jobs")),
    )
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_jobs_status_available_at"), ["status", "available_at"], unique=False
        )

    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("default_locale", sa.String(length=10), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("auth_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=True),
        sa.Column("occurred_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.String(length=26), nullable=True),
        sa.Column("actor_token_id", sa.String(length=26), nullable=True),
        sa.Column("actor_label", sa.String(length=320), nullable=True),
        sa.Column("target_type", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_audit_events_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_tenant_id_occurred_at"), ["tenant_id", "occurred_at"], unique=False
        )

    op.create_table(
        "units",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("parent_id", sa.String(length=26), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column(
            "names",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["units.id"], name=op.f("fk_units_parent_id_units")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_units_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_units_tenant_id_code")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_units_tenant_id_path"), ["tenant_id", "path"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=10), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_users_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("service_role", sa.String(length=20), nullable=True),
        sa.Column("service_unit_id", sa.String(length=26), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=True),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_unit_id"], ["units.id"], name=op.f("fk_api_tokens_service_unit_id_units")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_api_tokens_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_tenant_id"), ["tenant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_memberships_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_memberships_unit_id_units")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_unit_id"), ["unit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=26), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
    _make_audit_log_append_only()
    _bump_auth_version_on_access_changes()


def downgrade() -> None:
    _drop_auth_triggers()
    _drop_audit_triggers()
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_memberships_unit_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_tenant_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_tenant_id"))

    op.drop_table("users")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_tenant_id_path"))
        batch_op.drop_index(batch_op.f("ix_units_parent_id"))

    op.drop_table("units")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_tenant_id_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    op.drop_table("tenants")
    with op.batch_alter_table("outbox_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_jobs_status_available_at"))

    op.drop_table("outbox_jobs")
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_attempts_ip_attempted_at"))
        batch_op.drop_index(batch_op.f("ix_login_attempts_email_digest_attempted_at"))

    op.drop_table("login_attempts")
    op.drop_table("idempotency_keys")


# The audit trail must not be edited, not even by a bug: the database refuses.
def _make_audit_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION cxloop_refuse_audit_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit_events is append-only';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
            "FOR EACH ROW EXECUTE FUNCTION cxloop_refuse_audit_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
            )


def _drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS cxloop_refuse_audit_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_delete")


# Web processes cache verified principals and re-check tenants.auth_version
# (ADR 0006). Triggers bump it on every change that can alter what an
# existing credential may do, whoever makes the change (the app, the CLI, an
# operator's SQL); on PostgreSQL they also NOTIFY the listeners, on commit.
# (table, events, tenant expression for SQLite)
_AUTH_TRIGGERS = [
    (
        "api_tokens",
        "UPDATE OF revoked_at, expires_at, scopes, user_id, service_role, service_unit_id",
        "NEW.tenant_id",
    ),
    ("api_tokens", "DELETE", "OLD.tenant_id"),
    ("users", "UPDATE OF is_active, name, locale, email, tenant_id", "NEW.tenant_id"),
    ("users", "DELETE", "OLD.tenant_id"),
    ("memberships", "INSERT", "NEW.tenant_id"),
    ("memberships", "UPDATE", "NEW.tenant_id"),
    ("memberships", "DELETE", "OLD.tenant_id"),
    (
        "user_sessions",
        "UPDATE OF expires_at, user_id",
        "(SELECT tenant_id FROM users WHERE id = NEW.user_id)",
    ),
    ("user_sessions", "DELETE", "(SELECT tenant_id FROM users WHERE id = OLD.user_id)"),
    ("units", "UPDATE OF path, names, code, parent_id", "NEW.tenant_id"),
    ("units", "DELETE", "OLD.tenant_id"),
]


def _trigger_name(table: str, events: str) -> str:
    return f"{table}_auth_{events.split(maxsplit=1)[0].lower()}"


def _bump_auth_version_on_access_changes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION cxloop_auth_changed() RETURNS trigger AS $$
            DECLARE
                row_data record;
                tenant text;
            BEGIN
                IF TG_OP = 'DELETE' THEN row_data := OLD; ELSE row_data := NEW; END IF;
                IF TG_TABLE_NAME = 'user_sessions' THEN
                    SELECT tenant_id INTO tenant FROM users WHERE id = row_data.user_id;
                ELSE
                    tenant := row_data.tenant_id;
                END IF;
                UPDATE tenants SET auth_version = auth_version + 1 WHERE id = tenant;
                PERFORM pg_notify('cxloop_auth', coalesce(tenant, ''));
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table, events, _tenant in _AUTH_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {_trigger_name(table, events)} AFTER {events} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION cxloop_auth_changed()"
            )
        return
    for table, events, tenant in _AUTH_TRIGGERS:
        # Constants of this module only; nothing here comes from input.
        op.execute(
            f"CREATE TRIGGER {_trigger_name(table, events)} AFTER {events} ON {table} "  # noqa: S608
            f"BEGIN UPDATE tenants SET auth_version = auth_version + 1 WHERE id = {tenant}; END"
        )


def _drop_auth_triggers() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, events, _tenant in _AUTH_TRIGGERS:
        suffix = f" ON {table}" if postgres else ""
        op.execute(f"DROP TRIGGER IF EXISTS {_trigger_name(table, events)}{suffix}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS cxloop_auth_changed()")
