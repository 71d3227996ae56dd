"""Collection: personal survey links, partial responses, audited response edits.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cxloop.kit.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "survey_links",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=True),
        sa.Column("embedded", _json(), nullable=False),
        sa.Column("contact_ref", _json(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.Column("expires_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_survey_links_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_survey_links_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_survey_links_unit_id_units"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_links")),
    )
    with op.batch_alter_table("survey_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_survey_links_tenant_id_survey_id"), ["tenant_id", "survey_id"], unique=False
        )

    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resume_page", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("link_id", sa.String(length=26), nullable=True))
        batch_op.add_column(sa.Column("browser_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_foreign_key(
            batch_op.f("fk_responses_link_id_survey_links"),
            "survey_links",
            ["link_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_responses_link_id"), ["link_id"])
        batch_op.create_index(
            batch_op.f("ix_responses_survey_id_browser_key"), ["survey_id", "browser_key"], unique=False
        )

    op.create_table(
        "response_revisions",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("response_id", sa.String(length=26), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("edited_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("edited_by", sa.String(length=26), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("before", _json(), nullable=False),
        sa.Column("after", _json(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_revisions_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_response_revisions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_response_revisions")),
    )
    with op.batch_alter_table("response_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_response_revisions_response_id_revision"), ["response_id", "revision"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("response_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_response_revisions_response_id_revision"))
    op.drop_table("response_revisions")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_survey_id_browser_key"))
        batch_op.drop_constraint(batch_op.f("uq_responses_link_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_responses_link_id_survey_links"), type_="foreignkey")
        batch_op.drop_column("revision")
        batch_op.drop_column("browser_key")
        batch_op.drop_column("link_id")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("resume_page")
    with op.batch_alter_table("survey_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_links_tenant_id_survey_id"))
    op.drop_table("survey_links")
