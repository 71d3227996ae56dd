"""Ops: heartbeats that operators send through the job pipeline.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cxloop.kit.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ops_heartbeats",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("requested_by", sa.String(length=26), nullable=False),
        sa.Column("requested_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=200), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ops_heartbeats_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ops_heartbeats")),
    )
    with op.batch_alter_table("ops_heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ops_heartbeats_tenant_id_requested_at"),
            ["tenant_id", "requested_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("ops_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ops_heartbeats_tenant_id_requested_at"))
    op.drop_table("ops_heartbeats")
