"""Text: the taxonomy, per-comment analyses and topics, corrections, learned models, masking settings.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cxloop.kit.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "text_models",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("trained_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_text_models_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "kind", name=op.f("pk_text_models")),
    )
    op.create_table(
        "text_settings",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("mask_pii", sa.Boolean(), nullable=False),
        sa.Column("keep_original", sa.Boolean(), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_text_settings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_text_settings")),
    )
    op.create_table(
        "text_topics",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("parent_id", sa.String(length=26), nullable=True),
        sa.Column("key", sa.String(length=100), nullable=True),
        sa.Column(
            "name",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "exclude",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["text_topics.id"],
            name=op.f("fk_text_topics_parent_id_text_topics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_text_topics_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_topics")),
    )
    with op.batch_alter_table("text_topics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_text_topics_tenant_id_parent_id"), ["tenant_id", "parent_id"], unique=False
        )

    op.create_table(
        "comment_analyses",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("response_id", sa.String(length=26), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=True),
        sa.Column("unit_id", sa.String(length=26), nullable=True),
        sa.Column("submitted_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("sentiment_score", sa.Float(), nullable=False),
        sa.Column(
            "urgency",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "keywords",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "phrases",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pii",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("masked_text", sa.Text(), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("analyzed_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_comment_analyses_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comment_analyses_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "response_id", "question_id", name=op.f("pk_comment_analyses")),
    )
    with op.batch_alter_table("comment_analyses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_analyses_tenant_id_sentiment"), ["tenant_id", "sentiment"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_comment_analyses_tenant_id_submitted_at"),
            ["tenant_id", "submitted_at"],
            unique=False,
        )

    op.create_table(
        "comment_topics",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("response_id", sa.String(length=26), nullable=False),
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("topic_id", sa.String(length=26), nullable=False),
        sa.Column("topic_path", sa.String(length=400), nullable=False),
        sa.Column("sentiment", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_comment_topics_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_comment_topics_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["text_topics.id"],
            name=op.f("fk_comment_topics_topic_id_text_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "response_id", "question_id", "topic_id", name=op.f("pk_comment_topics")
        ),
    )
    with op.batch_alter_table("comment_topics", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_comment_topics_tenant_id_topic_id"), ["tenant_id", "topic_id"], unique=False
        )

    op.create_table(
        "text_corrections",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("response_id", sa.String(length=26), nullable=True),
        sa.Column("question_id", sa.String(length=64), nullable=True),
        sa.Column("topic_id", sa.String(length=26), nullable=False),
        sa.Column("applies", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=26), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_text_corrections_response_id_responses"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_text_corrections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["topic_id"],
            ["text_topics.id"],
            name=op.f("fk_text_corrections_topic_id_text_topics"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_text_corrections")),
    )
    with op.batch_alter_table("text_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_text_corrections_tenant_id_topic_id"), ["tenant_id", "topic_id"], unique=False
        )


def downgrade() -> None:
    for table in (
        "text_corrections",
        "comment_topics",
        "comment_analyses",
        "text_topics",
        "text_settings",
        "text_models",
    ):
        op.drop_table(table)
