"""The cases of a contact, as entries of the customer timeline (customers
merges every registered source into a contact's timeline)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.cases.models import Case
from cxloop.customers import TimelineEntry, register_timeline_source


async def case_entries(
    session: AsyncSession, tenant_id: str, contact_id: str, limit: int
) -> list[TimelineEntry]:
    rows = await session.execute(
        select(Case)
        .where(Case.tenant_id == tenant_id, Case.contact_id == contact_id)
        .order_by(Case.created_at.desc())
        .limit(limit)
    )
    return [
        TimelineEntry(
            at=case.created_at,
            kind="case",
            title=f"#{case.number} {case.title}",
            detail={
                "status": case.status,
                "priority": case.priority,
                "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
                "url_path": f"/cases/{case.id}",
            },
            ref=case.id,
        )
        for case in rows.scalars().all()
    ]


register_timeline_source("cases", case_entries)
