"""Response bodies of the ops API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cxloop.kit.jobs import OutboxStats
from cxloop.ops.models import Heartbeat


class HeartbeatOut(BaseModel):
    id: str
    requested_by: str
    requested_at: datetime
    completed_at: datetime | None = Field(description="When a worker ran the heartbeat job; null until then.")
    completed_by: str | None = Field(description="hostname:pid of the process that ran it.")
    runs: int = Field(description="How many times the job ran: 1 once completed.")

    @classmethod
    def of(cls, beat: Heartbeat) -> HeartbeatOut:
        return cls(
            id=beat.id,
            requested_by=beat.requested_by,
            requested_at=beat.requested_at,
            completed_at=beat.completed_at,
            completed_by=beat.completed_by,
            runs=beat.runs,
        )


class JobCounts(BaseModel):
    pending: int = Field(description="Committed, not yet handed to the broker.")
    dispatched: int = Field(description="On the broker: queued, scheduled for a retry, or running.")
    done: int
    dead: int = Field(description="Gave up after the last attempt; kept 30 days with their error.")


class JobQueueOut(BaseModel):
    counts: JobCounts
    oldest_pending_at: datetime | None
    oldest_pending_age_seconds: float | None = Field(
        description="More than a few seconds means no relay is running (start `cxloop worker`)."
    )
    oldest_overdue_at: datetime | None = Field(
        description="The oldest job that is due and handed off but not done yet."
    )
    oldest_overdue_age_seconds: float | None = Field(
        description="Growing means workers are behind, stopped, or the broker lost messages."
    )

    @classmethod
    def of(cls, stats: OutboxStats, now: datetime) -> JobQueueOut:
        def age(moment: datetime | None) -> float | None:
            return None if moment is None else round(max((now - moment).total_seconds(), 0.0), 3)

        return cls(
            counts=JobCounts(**stats.counts),
            oldest_pending_at=stats.oldest_pending_at,
            oldest_pending_age_seconds=age(stats.oldest_pending_at),
            oldest_overdue_at=stats.oldest_overdue_at,
            oldest_overdue_age_seconds=age(stats.oldest_overdue_at),
        )
