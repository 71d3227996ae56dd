"""Collection: stored survey responses.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cxloop.kit.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("survey_version", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("submitted_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answers", _json(), nullable=False),
        sa.Column("embedded", _json(), nullable=False),
        sa.Column("contact_ref", _json(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.id"], name=op.f("fk_responses_survey_id_surveys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_responses_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_responses_unit_id_units"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_responses_tenant_id_survey_id_submitted_at"),
            ["tenant_id", "survey_id", "submitted_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_responses_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responses_unit_id"))
        batch_op.drop_index(batch_op.f("ix_responses_tenant_id_survey_id_submitted_at"))
    op.drop_table("responses")
