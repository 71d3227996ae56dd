"""Tables of the dashboards domain.

A dashboard is a JSON definition (validated by ``schemas.DashboardDefinition``)
owned by one user. Sharing is a unit: a shared dashboard is visible to the
people whose grants lie inside that unit's subtree (or to everyone in the
tenant when the unit is empty), and each of them still sees only their own
scope's data, because the data endpoint runs every query as the viewer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Dashboard(Base):
    __tablename__ = "dashboards"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    definition: Mapped[Any] = mapped_column(JSONType)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    # Where a shared dashboard is visible; None = the whole tenant.
    share_unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.id", ondelete="SET NULL"), nullable=True
    )
    # Bumped on every save, so that two editors cannot silently overwrite each other.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "tenant_id", "owner_id"), Index(None, "tenant_id", "shared"))


class ReportSchedule(Base):
    """A dashboard mailed to one recipient on a cadence, with the recipient's own scope."""

    __tablename__ = "report_schedules"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recipient_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # None: the recipient's role default, recomputed at each send.
    dashboard_id: Mapped[str | None] = mapped_column(
        ForeignKey("dashboards.id", ondelete="CASCADE"), nullable=True
    )
    frequency: Mapped[str] = mapped_column(String(16))
    format: Mapped[str] = mapped_column(String(8))
    hour_utc: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index(None, "active", "next_run_at"), Index(None, "tenant_id", "recipient_id"))
