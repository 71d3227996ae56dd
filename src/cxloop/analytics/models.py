"""Tables of the analytics domain.

``analytics_rollups`` holds additive sufficient statistics of the fixed KPIs
(NPS, CSAT, CES, response count) per local day x unit x survey x channel x
touchpoint; ``analytics_facts`` remembers what each response contributed, so
the pipeline subscriber is idempotent and an edit moves exactly its own
contribution (docs/adr/0020). Empty strings stand for "no unit" and "no
touchpoint" in keys, since NULLs never collide in unique keys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, UTCDateTime


class Rollup(Base):
    __tablename__ = "analytics_rollups"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    # "d": day is a local YYYY-MM-DD; "m": the same sums per month, day is YYYY-MM
    # (whole-month queries read 30 times fewer rows).
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(26), primary_key=True)
    survey_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    touchpoint: Mapped[str] = mapped_column(String(64), primary_key=True)
    responses: Mapped[int] = mapped_column(Integer, default=0)
    nps_n: Mapped[int] = mapped_column(Integer, default=0)
    nps_pro: Mapped[int] = mapped_column(Integer, default=0)
    nps_det: Mapped[int] = mapped_column(Integer, default=0)
    csat_n: Mapped[int] = mapped_column(Integer, default=0)
    csat_sum: Mapped[float] = mapped_column(Float, default=0)
    csat_sumsq: Mapped[float] = mapped_column(Float, default=0)
    csat_top2: Mapped[int] = mapped_column(Integer, default=0)
    ces_n: Mapped[int] = mapped_column(Integer, default=0)
    ces_sum: Mapped[float] = mapped_column(Float, default=0)
    ces_sumsq: Mapped[float] = mapped_column(Float, default=0)

    # On PostgreSQL the index carries the cell and the measures, so one unit's
    # rows (a KPI tile) are an index-only scan (migration 0013_analytics_covering).
    __table_args__ = (
        Index(
            None,
            "tenant_id",
            "grain",
            "unit_key",
            "day",
            postgresql_include=[
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
            ],
        ),
    )


class RollupFact(Base):
    """What one response added to the rollups (scores, and the cell it went to)."""

    __tablename__ = "analytics_facts"

    response_id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    day: Mapped[str] = mapped_column(String(10))
    unit_key: Mapped[str] = mapped_column(String(26))
    survey_id: Mapped[str] = mapped_column(String(26))
    channel: Mapped[str] = mapped_column(String(32))
    touchpoint: Mapped[str] = mapped_column(String(64))
    nps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ces: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index(None, "tenant_id"),)


class RebuildState(Base):
    """Where a rollup rebuild of one tenant got to (resumable)."""

    __tablename__ = "analytics_rebuilds"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_response_id: Mapped[str] = mapped_column(String(26), default="")
    processed: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Target(Base):
    """A target value of one metric, for one unit (or the whole tenant: unit_key '')."""

    __tablename__ = "analytics_targets"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    unit_key: Mapped[str] = mapped_column(String(26))
    metric: Mapped[str] = mapped_column(String(80))
    value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "unit_key", "metric"),)


class TenantAnalyticsSettings(Base):
    """Per-tenant overrides of the analytics settings (the anonymity threshold)."""

    __tablename__ = "analytics_tenant_settings"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    min_n: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
