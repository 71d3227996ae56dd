"""Analytics: KPI rollups, what each response contributed, rebuild
checkpoints, targets, per-tenant settings; on PostgreSQL, the read-only
star-schema views for BI tools (docs/guide/analytics.md).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cxloop.kit.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=op.f(f"fk_{table}_tenant_id_tenants"), ondelete="CASCADE"
    )


# One statement each; the views only read, and are dropped before the tables.
BI_VIEWS = {
    "bi_dim_unit": """
        SELECT u.id AS unit_id, u.tenant_id, u.code, u.kind, u.depth, u.parent_id, u.path,
               u.names->>'zh-CN' AS name_zh, u.names->>'en' AS name_en,
               NULLIF(split_part(u.path, '/', 2), '') AS level_0_id,
               NULLIF(split_part(u.path, '/', 3), '') AS level_1_id,
               NULLIF(split_part(u.path, '/', 4), '') AS level_2_id,
               NULLIF(split_part(u.path, '/', 5), '') AS level_3_id,
               NULLIF(split_part(u.path, '/', 6), '') AS level_4_id
        FROM units u""",
    "bi_dim_date": """
        SELECT d::date AS date_key, extract(year FROM d)::int AS year,
               extract(quarter FROM d)::int AS quarter, extract(month FROM d)::int AS month,
               to_char(d, 'YYYY-MM') AS year_month, extract(isoyear FROM d)::int AS iso_year,
               extract(week FROM d)::int AS iso_week, extract(isodow FROM d)::int AS iso_weekday
        FROM generate_series(DATE '2015-01-01', (CURRENT_DATE + 3660), INTERVAL '1 day') AS d""",
    "bi_dim_survey": """
        SELECT s.id AS survey_id, s.tenant_id, s.status, s.published_version, s.unit_id,
               v.definition->'title'->>'zh-CN' AS title_zh, v.definition->'title'->>'en' AS title_en,
               s.created_at
        FROM surveys s
        LEFT JOIN survey_versions v ON v.survey_id = s.id AND v.version = s.current_version""",
    "bi_dim_question": """
        SELECT v.survey_id, v.version, q.value->>'id' AS question_id, q.value->>'type' AS question_type,
               q.value->'text'->>'zh-CN' AS text_zh, q.value->'text'->>'en' AS text_en,
               q.value->>'dimension' AS servqual_dimension
        FROM survey_versions v
        CROSS JOIN LATERAL jsonb_array_elements(v.definition->'pages') AS p(value)
        CROSS JOIN LATERAL jsonb_array_elements(p.value->'questions') AS q(value)
        WHERE v.published_at IS NOT NULL""",
    "bi_dim_channel": """
        SELECT DISTINCT r.tenant_id, r.channel FROM responses r""",
    "bi_fact_responses": """
        SELECT r.id AS response_id, r.tenant_id, r.survey_id, r.survey_version, r.unit_id, r.channel,
               r.touchpoint, r.language, r.submitted_at,
               (r.submitted_at AT TIME ZONE t.timezone)::date AS date_key,
               f.nps, f.csat, f.ces,
               CASE WHEN f.nps >= 9 THEN 'promoter' WHEN f.nps >= 7 THEN 'passive'
                    WHEN f.nps IS NOT NULL THEN 'detractor' END AS nps_category,
               CASE WHEN f.nps >= 9 THEN 100 WHEN f.nps <= 6 THEN -100 WHEN f.nps IS NOT NULL THEN 0 END
                    AS nps_points,
               r.answers, r.embedded
        FROM responses r
        JOIN tenants t ON t.id = r.tenant_id
        LEFT JOIN analytics_facts f ON f.response_id = r.id
        WHERE r.status = 'complete'""",
    "bi_fact_answers": """
        SELECT r.id AS response_id, r.tenant_id, r.survey_id, r.survey_version, r.unit_id, r.submitted_at,
               a.key AS question_id,
               CASE WHEN jsonb_typeof(a.value) = 'number' THEN (a.value #>> '{}')::double precision END
                    AS value_number,
               CASE WHEN jsonb_typeof(a.value) = 'string' THEN a.value #>> '{}' END AS value_text,
               a.value AS value_json
        FROM responses r
        CROSS JOIN LATERAL jsonb_each(r.answers) AS a(key, value)
        WHERE r.status = 'complete' AND jsonb_typeof(r.answers) = 'object'""",
}


def upgrade() -> None:
    op.create_table(
        "analytics_rollups",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("unit_key", sa.String(length=26), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=False),
        *[
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("responses", "nps_n", "nps_pro", "nps_det", "csat_n")
        ],
        sa.Column("csat_sum", sa.Float(), nullable=False),
        sa.Column("csat_sumsq", sa.Float(), nullable=False),
        sa.Column("csat_top2", sa.Integer(), nullable=False),
        sa.Column("ces_n", sa.Integer(), nullable=False),
        sa.Column("ces_sum", sa.Float(), nullable=False),
        sa.Column("ces_sumsq", sa.Float(), nullable=False),
        _tenant_fk("analytics_rollups"),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "grain",
            "day",
            "unit_key",
            "survey_id",
            "channel",
            "touchpoint",
            name=op.f("pk_analytics_rollups"),
        ),
    )
    op.create_index(
        op.f("ix_analytics_rollups_tenant_id_grain_unit_key_day"),
        "analytics_rollups",
        ["tenant_id", "grain", "unit_key", "day"],
        unique=False,
    )
    op.create_table(
        "analytics_facts",
        sa.Column("response_id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("unit_key", sa.String(length=26), nullable=False),
        sa.Column("survey_id", sa.String(length=26), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("touchpoint", sa.String(length=64), nullable=False),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("ces", sa.Integer(), nullable=True),
        _tenant_fk("analytics_facts"),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_analytics_facts")),
    )
    op.create_index(op.f("ix_analytics_facts_tenant_id"), "analytics_facts", ["tenant_id"], unique=False)
    op.create_table(
        "analytics_rebuilds",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("started_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_response_id", sa.String(length=26), nullable=False),
        sa.Column("processed", sa.Integer(), nullable=False),
        sa.Column("finished_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=True),
        _tenant_fk("analytics_rebuilds"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_analytics_rebuilds")),
    )
    op.create_table(
        "analytics_targets",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("unit_key", sa.String(length=26), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        _tenant_fk("analytics_targets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_targets")),
        sa.UniqueConstraint(
            "tenant_id", "unit_key", "metric", name=op.f("uq_analytics_targets_tenant_id_unit_key_metric")
        ),
    )
    op.create_table(
        "analytics_tenant_settings",
        sa.Column("tenant_id", sa.String(length=26), nullable=False),
        sa.Column("min_n", sa.Integer(), nullable=False),
        sa.Column("updated_at", cxloop.kit.db.UTCDateTime(timezone=True), nullable=False),
        _tenant_fk("analytics_tenant_settings"),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_analytics_tenant_settings")),
    )
    if op.get_bind().dialect.name == "postgresql":
        for name, body in BI_VIEWS.items():
            op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in reversed(BI_VIEWS):
            op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("analytics_tenant_settings")
    op.drop_table("analytics_targets")
    op.drop_table("analytics_rebuilds")
    op.drop_index(op.f("ix_analytics_facts_tenant_id"), table_name="analytics_facts")
    op.drop_table("analytics_facts")
    op.drop_index(op.f("ix_analytics_rollups_tenant_id_grain_unit_key_day"), table_name="analytics_rollups")
    op.drop_table("analytics_rollups")
