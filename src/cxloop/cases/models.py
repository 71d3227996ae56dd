"""Tables of the cases domain.

A case (工单) belongs to one unit and is seen by whoever's reach covers that
unit (ADR 0005). Everything that ever happened to it is an append-only
``CaseEntry`` row (the timeline): transitions, comments, internal notes,
assignments, escalations, alerts attached. See docs/adr/0023 and 0024.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.kit.db import Base, IdColumnType, JSONType, UTCDateTime


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # Per tenant, 1, 2, 3 ...: what people say on the phone ("case 1042").
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="SET NULL"), nullable=True)
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    # The manager the case was last escalated to (the owner keeps the case).
    escalated_to_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Ids of other domains are kept without foreign keys: a case outlives an
    # erased response or contact (it is the record that the loop was closed).
    response_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    contact_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    rule_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    root_cause_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSONType)
    # The score that opened the case (NPS 0-10 when the response has one) and
    # the same customer's next score after it: the recovery rate.
    initial_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    later_score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    later_response_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    follow_up_invitation_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When the escalation job next looks at this case (None: nothing pending).
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # One case per response (NULLs do not collide on either backend).
        UniqueConstraint("tenant_id", "response_id"),
        Index(None, "tenant_id", "status"),
        Index(None, "unit_id"),
        Index(None, "owner_id"),
        Index(None, "tenant_id", "contact_id"),
        Index(None, "next_escalation_at"),
    )


class CaseEntry(Base):
    """One line of a case's timeline: who, when, what, from and to."""

    __tablename__ = "case_entries"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(24))
    actor_user_id: Mapped[str | None] = mapped_column(IdColumnType(), nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(320), nullable=True)
    from_value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    to_value: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)

    __table_args__ = (Index(None, "case_id", "at"),)


class CaseCounter(Base):
    """The last case number of a tenant; its row lock serialises numbering."""

    __tablename__ = "case_counters"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class AssignmentCursor(Base):
    """Round-robin inside a team: who at this unit and role got the last case."""

    __tablename__ = "case_assignment_cursors"

    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_user_id: Mapped[str] = mapped_column(IdColumnType())


class SlaPolicy(Base):
    """Time to acknowledge and to resolve for one priority, in minutes of
    business time (or of wall-clock time when ``business_hours`` is off)."""

    __tablename__ = "case_sla_policies"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    priority: Mapped[str] = mapped_column(String(10))
    acknowledge_minutes: Mapped[int] = mapped_column(Integer)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    # After a breach, the next manager up is called after this much more time.
    escalate_every_minutes: Mapped[int] = mapped_column(Integer)
    business_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "priority"),)


class BusinessCalendar(Base):
    """Opening hours of a unit (and its subtree), or of the whole tenant when
    ``unit_id`` is None. Times are local to the unit's time zone."""

    __tablename__ = "case_calendars"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), nullable=True)
    # {"mon": [["09:00", "18:00"]], ..., "sun": []}
    hours: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # ISO dates closed all day, and ISO dates worked on normal hours despite
    # the weekday (China's make-up working days, 调休).
    holidays: Mapped[list[str]] = mapped_column(JSONType)
    workdays: Mapped[list[str]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "unit_id"),)


class RootCause(Base):
    """A node of the tenant's configurable root-cause tree."""

    __tablename__ = "case_root_causes"

    id: Mapped[str] = mapped_column(IdColumnType(), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    names: Mapped[dict[str, str]] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("tenant_id", "code"),)
