"""Tables of the ops domain: operator features about the running system."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, UTCDateTime


class Heartbeat(Base):
    """A round trip through the job pipeline, asked for by an operator.

    The request commits the row and enqueues ``ops.heartbeat``; a worker
    stamps it. ``runs`` counts executions, so anything but 1 after
    completion means a job ran twice (or never).
    """

    __tablename__ = "ops_heartbeats"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # The user, or the service token, that asked.
    requested_by: Mapped[str] = mapped_column(IdColumnType())
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # hostname:pid of the process that ran the job.
    completed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index(None, "tenant_id", "requested_at"),)
