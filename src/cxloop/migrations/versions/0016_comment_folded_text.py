"""Text: Traditional Chinese comments keep their script; a folded copy serves search.

``comment_analyses.masked_text`` now holds a Traditional comment as the
customer wrote it (it used to hold the Simplified reading). ``folded_text`` is
its Simplified fold, stored only when it differs, so that a search written in
either script finds the comment. Rows analysed before stay as they were: their
``masked_text`` is already Simplified and ``folded_text`` stays NULL.

Revision ID: 0016_comment_folded_text
Revises: 0015_text_auto_adapt
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_comment_folded_text"
down_revision: str | None = "0015_text_auto_adapt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("comment_analyses", sa.Column("folded_text", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("comment_analyses", "folded_text")
