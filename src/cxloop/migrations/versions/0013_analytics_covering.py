"""Analytics: the rollups' unit x day index covers the measures on PostgreSQL.

A KPI tile reads one unit's monthly rows: 50-100 rows spread over as many
heap pages. With the cell and the measures in the index (INCLUDE), the read
is an index-only scan of two or three pages, and the company-wide grid reads
the index instead of the table (docs/adr/0020). SQLite has no INCLUDE; its
index stays as it is.

Revision ID: 0013_analytics_covering
Revises: 0012
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_analytics_covering"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_analytics_rollups_tenant_id_grain_unit_key_day"
KEY = ["tenant_id", "grain", "unit_key", "day"]
INCLUDED = [
    "survey_id",
    "channel",
    "touchpoint",
    "responses",
    "nps_n",
    "nps_pro",
    "nps_det",
    "csat_n",
    "csat_sum",
    "csat_sumsq",
    "csat_top2",
    "ces_n",
    "ces_sum",
    "ces_sumsq",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="analytics_rollups")
    op.create_index(INDEX, "analytics_rollups", KEY, postgresql_include=INCLUDED)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name="analytics_rollups")
    op.create_index(INDEX, "analytics_rollups", KEY)
