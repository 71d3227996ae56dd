"""Text: tenants may turn off the automatic adaptation of the English model;
an index for reading a tenant's comments by language, newest first.

``text_settings.auto_adapt`` (default true: existing tenants adapt too, see
docs/adr/0018's amendment on automatic adaptation). The index serves the
hourly check of whether a tenant has enough new English comments and the read
of its latest 20,000 of them.

Revision ID: 0015_text_auto_adapt
Revises: 0014_sealed_secrets
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_text_auto_adapt"
down_revision: str | None = "0014_sealed_secrets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_comment_analyses_tenant_id_language_analyzed_at"


def upgrade() -> None:
    op.add_column(
        "text_settings", sa.Column("auto_adapt", sa.Boolean(), nullable=False, server_default=sa.true())
    )
    op.create_index(INDEX, "comment_analyses", ["tenant_id", "language", "analyzed_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="comment_analyses")
    op.drop_column("text_settings", "auto_adapt")
