"""Distribution: invitations, delivery attempts, channel configurations,
frequency rules, sending policies, triggers and their runs, campaigns and
their members, web intercepts.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cxloop.kit.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "channel_configs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_channel_configs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_configs")),
    )
    op.create_index(
        op.f("ix_channel_configs_tenant_id_channel"), "channel_configs", ["tenant_id", "channel"], unique=True
    )
    op.create_table(
        "sending_policies",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("fallback_order", _json(), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sending_policies_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_sending_policies")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("segment_id", sa.String(length=26), nullable=True),
        sa.Column("contact_ids", _json(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cadence_days", sa.Integer(), nullable=True),
        sa.Column("reminder_after_days", sa.Integer(), nullable=True),
        sa.Column("max_reminders", sa.Integer(), nullable=False),
        sa.Column("link_days", sa.Integer(), nullable=True),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("launched_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_campaigns_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_campaigns_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_status_starts_at"), "campaigns", ["status", "starts_at"], unique=False)
    op.create_index(
        op.f("ix_campaigns_tenant_id_created_at"), "campaigns", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "frequency_rules",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("attribute", sa.String(length=64), nullable=True),
        sa.Column("attribute_value", _json(), nullable=True),
        sa.Column("max_count", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_frequency_rules_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_frequency_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frequency_rules")),
    )
    op.create_index(op.f("ix_frequency_rules_tenant_id"), "frequency_rules", ["tenant_id"], unique=False)
    op.create_table(
        "intercepts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("url_pattern", sa.String(length=300), nullable=False),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("sampling_pct", sa.Integer(), nullable=False),
        sa.Column("once_per_days", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=True),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_intercepts_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_intercepts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intercepts")),
        sa.UniqueConstraint("key", name=op.f("uq_intercepts_key")),
    )
    op.create_table(
        "triggers",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("conditions", _json(), nullable=False),
        sa.Column("recheck", _json(), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("delay_seconds", sa.Integer(), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_triggers_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_triggers_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triggers")),
    )
    op.create_index(
        op.f("ix_triggers_tenant_id_event_type"), "triggers", ["tenant_id", "event_type"], unique=False
    )
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("next_due_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_members_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaign_members_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "contact_id", name=op.f("pk_campaign_members")),
    )
    op.create_index(
        op.f("ix_campaign_members_next_due_at"), "campaign_members", ["next_due_at"], unique=False
    )
    op.create_table(
        "intercept_views",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("intercept_id", sa.String(length=26), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("shown_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["intercept_id"],
            ["intercepts.id"],
            name=op.f("fk_intercept_views_intercept_id_intercepts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intercept_views")),
    )
    op.create_index(
        op.f("ix_intercept_views_intercept_id_visitor_shown_at"),
        "intercept_views",
        ["intercept_id", "visitor", "shown_at"],
        unique=False,
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.String(length=120), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("embedded", _json(), nullable=False),
        sa.Column("link_id", sa.String(length=26), nullable=True),
        sa.Column("code", sa.String(length=24), nullable=True),
        sa.Column("campaign_id", sa.String(length=26), nullable=True),
        sa.Column("trigger_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("send_no", sa.Integer(), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("last_sent_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_invitations_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["survey_links.id"],
            name=op.f("fk_invitations_link_id_survey_links"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_invitations_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_invitations_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["triggers.id"],
            name=op.f("fk_invitations_trigger_id_triggers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_invitations_unit_id_units"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("code", name=op.f("uq_invitations_code")),
    )
    op.create_index(op.f("ix_invitations_link_id"), "invitations", ["link_id"], unique=False)
    op.create_index(
        op.f("ix_invitations_provider_message_id"), "invitations", ["provider_message_id"], unique=False
    )
    op.create_index(op.f("ix_invitations_status_due_at"), "invitations", ["status", "due_at"], unique=False)
    op.create_index(
        op.f("ix_invitations_tenant_id_campaign_id"),
        "invitations",
        ["tenant_id", "campaign_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_invitations_tenant_id_contact_id_created_at"),
        "invitations",
        ["tenant_id", "contact_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_invitations_tenant_id_created_at"), "invitations", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "trigger_runs",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("trigger_id", sa.String(length=26), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.String(length=26), nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("due_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=120), nullable=True),
        sa.Column("invitation_id", sa.String(length=26), nullable=True),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_trigger_runs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trigger_id"],
            ["triggers.id"],
            name=op.f("fk_trigger_runs_trigger_id_triggers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_runs")),
    )
    op.create_index(op.f("ix_trigger_runs_status_due_at"), "trigger_runs", ["status", "due_at"], unique=False)
    op.create_index(
        op.f("ix_trigger_runs_trigger_id_event_id"), "trigger_runs", ["trigger_id", "event_id"], unique=True
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("invitation_id", sa.String(length=26), nullable=False),
        sa.Column("send_no", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["invitations.id"],
            name=op.f("fk_delivery_attempts_invitation_id_invitations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_delivery_attempts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    op.create_index(
        op.f("ix_delivery_attempts_invitation_id_send_no_attempt"),
        "delivery_attempts",
        ["invitation_id", "send_no", "attempt"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_attempts_invitation_id_send_no_attempt"), table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index(op.f("ix_trigger_runs_trigger_id_event_id"), table_name="trigger_runs")
    op.drop_index(op.f("ix_trigger_runs_status_due_at"), table_name="trigger_runs")
    op.drop_table("trigger_runs")
    op.drop_index(op.f("ix_invitations_tenant_id_created_at"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_tenant_id_contact_id_created_at"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_tenant_id_campaign_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_status_due_at"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_provider_message_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_link_id"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(op.f("ix_intercept_views_intercept_id_visitor_shown_at"), table_name="intercept_views")
    op.drop_table("intercept_views")
    op.drop_index(op.f("ix_campaign_members_next_due_at"), table_name="campaign_members")
    op.drop_table("campaign_members")
    op.drop_index(op.f("ix_triggers_tenant_id_event_type"), table_name="triggers")
    op.drop_table("triggers")
    op.drop_table("intercepts")
    op.drop_index(op.f("ix_frequency_rules_tenant_id"), table_name="frequency_rules")
    op.drop_table("frequency_rules")
    op.drop_index(op.f("ix_campaigns_tenant_id_created_at"), table_name="campaigns")
    op.drop_index(op.f("ix_campaigns_status_starts_at"), table_name="campaigns")
    op.drop_table("campaigns")
    op.drop_table("sending_policies")
    op.drop_index(op.f("ix_channel_configs_tenant_id_channel"), table_name="channel_configs")
    op.drop_table("channel_configs")
