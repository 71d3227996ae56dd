"""Reports: a dashboard's data as PDF or XLSX, and scheduled email reports.

A schedule names a recipient (a user of the tenant) and a cadence. Each send
runs the dashboard *as the recipient*, so everyone gets their own scope's
numbers, whoever set the schedule up. The periodic job finds due schedules,
moves each one's next run forward and enqueues one send job per schedule in
the same transaction, so a crash never sends twice for the same slot nor
skips one; the send job mails through SMTP and retries on failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.dashboards.data import dashboard_data
from cxloop.dashboards.exports import html_to_pdf, report_html, rows_to_xlsx
from cxloop.dashboards.models import ReportSchedule
from cxloop.dashboards.schemas import DashboardFilters, ScheduleCreate, Widget
from cxloop.dashboards.service import DashboardView, get_dashboard, role_default
from cxloop.dashboards.svg_charts import chart_svg
from cxloop.identity import Grant, Membership, Perm, Principal, Role, Unit, User
from cxloop.kit.clock import as_utc, utc_now
from cxloop.kit.errors import NotFound, invalid, not_found
from cxloop.kit.ids import new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page

SEND_JOB = "dashboards.send_report"
DUE_JOB = "dashboards.reports_due"
# Schedules handled per periodic run; the rest wait for the next run.
DUE_BATCH = 200
PERIOD_OF = {"daily": "30d", "weekly": "90d", "monthly": "12m"}
MEDIA = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
LABELS = {
    "en": {
        "generated": "Generated",
        "empty": "No data",
        "subject": "Report",
        "body": "Your report is attached.",
    },
    "zh-CN": {"generated": "生成时间", "empty": "暂无数据", "subject": "报告", "body": "附件是您的报告。"},
}


def widget_title(widget: Widget, locale: str) -> str:
    return widget.title.get(locale) or widget.title.get("en") or next(iter(widget.title.values()), widget.id)


def labels_for(locale: str) -> dict[str, str]:
    return LABELS.get(locale, LABELS["en"])


@dataclass(frozen=True)
class Rendered:
    content: bytes
    media_type: str
    filename: str


async def render_report(
    session: AsyncSession,
    principal: Principal,
    view: DashboardView,
    filters: DashboardFilters,
    locale: str,
    fmt: str,
) -> Rendered:
    resolved, results = await dashboard_data(session, principal, view.definition, filters, locale)
    sections: list[tuple[str, list[dict[str, Any]], str | None]] = []
    charts: list[str | None] = []
    for widget in view.definition.widgets:
        result = results[widget.id]
        error = result.get("error")
        note = error.get("detail") if error else None
        sections.append((widget_title(widget, locale), result["rows"], note))
        charts.append(None if error else chart_svg(widget, result["rows"]))
    stamp = utc_now()
    subtitle = ", ".join(f"{k}={v}" for k, v in resolved.public().items()) or principal.tenant_name
    filename = f"dashboard-{view.id}-{stamp:%Y%m%d}.{fmt}"
    if fmt == "xlsx":
        content = await anyio.to_thread.run_sync(rows_to_xlsx, [(t, rows) for t, rows, _ in sections])
    else:
        document = report_html(view.name, subtitle, sections, stamp, labels_for(locale), charts)
        content = await anyio.to_thread.run_sync(html_to_pdf, document)
    return Rendered(content, MEDIA[fmt], filename)


# --- schedules ----------------------------------------------------------------


def next_run(frequency: str, hour_utc: int, after: datetime) -> datetime:
    """The first slot strictly after ``after``: daily at the hour, weekly on
    Mondays, monthly on the 1st (in UTC)."""
    after = as_utc(after)
    candidate = after.replace(hour=hour_utc, minute=0, second=0, microsecond=0)
    if frequency == "daily":
        return candidate if candidate > after else candidate + timedelta(days=1)
    if frequency == "weekly":
        candidate -= timedelta(days=candidate.weekday())
        return candidate if candidate > after else candidate + timedelta(days=7)
    candidate = candidate.replace(day=1)
    if candidate > after:
        return candidate
    year, month = (candidate.year + 1, 1) if candidate.month == 12 else (candidate.year, candidate.month + 1)
    return candidate.replace(year=year, month=month)


def _schedules_visible(principal: Principal) -> Any:
    statement = select(ReportSchedule).where(ReportSchedule.tenant_id == principal.tenant_id)
    if not principal.can(Perm.CONFIG_WRITE):
        statement = statement.where(
            (ReportSchedule.created_by == principal.user_id)
            | (ReportSchedule.recipient_id == principal.user_id)
        )
    return statement


async def create_schedule(
    session: AsyncSession, principal: Principal, body: ScheduleCreate
) -> ReportSchedule:
    """People schedule reports for themselves; CX managers and admins for anyone in the tenant."""
    principal.require(Perm.DATA_READ)
    principal.require_writing_token()
    if principal.user_id is None:
        raise invalid("recipient_email", "A service token cannot schedule reports.", code="permission_denied")
    recipient = await session.scalar(
        select(User).where(
            User.tenant_id == principal.tenant_id,
            User.email == body.recipient_email.strip().lower(),
            User.is_active.is_(True),
        )
    )
    if recipient is None or (recipient.id != principal.user_id and not principal.can(Perm.CONFIG_WRITE)):
        raise not_found("recipient")
    if body.dashboard_id is not None:
        await get_dashboard(session, principal, body.dashboard_id)
    now = utc_now()
    row = ReportSchedule(
        id=new_id(),
        tenant_id=principal.tenant_id,
        created_by=principal.user_id,
        recipient_id=recipient.id,
        dashboard_id=body.dashboard_id,
        frequency=body.frequency,
        format=body.format,
        hour_utc=body.hour_utc,
        active=True,
        next_run_at=next_run(body.frequency, body.hour_utc, now),
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_schedules(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[ReportSchedule]:
    principal.require(Perm.DATA_READ)
    statement = apply_keyset(_schedules_visible(principal), ReportSchedule.id, "report_schedules", page)
    rows = list((await session.execute(statement)).scalars())
    return make_page(rows, "report_schedules", page, lambda r: r.id)


async def delete_schedule(session: AsyncSession, principal: Principal, schedule_id: str) -> None:
    principal.require(Perm.DATA_READ)
    principal.require_writing_token()
    row = await session.scalar(_schedules_visible(principal).where(ReportSchedule.id == schedule_id))
    if row is None:
        raise not_found("report_schedule")
    await session.delete(row)
    await session.flush()


async def principal_for_user(session: AsyncSession, user: User) -> Principal:
    """The recipient as a principal: their memberships, as a session would carry them."""
    found = await session.execute(
        select(Membership.role, Unit.id, Unit.path, Unit.code, Unit.names)
        .outerjoin(Unit, Unit.id == Membership.unit_id)
        .where(Membership.user_id == user.id)
    )
    grants = tuple(
        Grant(role=Role(role), unit_id=uid, unit_path=path, unit_code=code, unit_names=names or {})
        for role, uid, path, code, names in found
    )
    return Principal(
        tenant_id=user.tenant_id,
        kind="user",
        user_id=user.id,
        token_id=None,
        label=user.email,
        name=user.name,
        locale=user.locale,
        grants=grants,
    )


async def claim_due(session: AsyncSession, now: datetime | None = None) -> list[tuple[str, str]]:
    """Due schedules moved to their next slot; returns (schedule id, slot) to send."""
    now = now or utc_now()
    rows = (
        await session.execute(
            select(ReportSchedule)
            .where(ReportSchedule.active.is_(True), ReportSchedule.next_run_at <= now)
            .order_by(ReportSchedule.next_run_at, ReportSchedule.id)
            .limit(DUE_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    claimed = []
    for row in rows:
        slot = row.next_run_at
        claimed.append((row.id, slot.isoformat()))
        row.next_run_at = next_run(row.frequency, row.hour_utc, max(now, slot))
    await session.flush()
    return claimed


async def build_message(
    session: AsyncSession, schedule_id: str, sender: str
) -> tuple[EmailMessage, ReportSchedule] | None:
    """The email for one schedule, with the recipient's scoped data; None when gone."""
    row = await session.get(ReportSchedule, schedule_id)
    if row is None or not row.active:
        return None
    recipient = await session.get(User, row.recipient_id)
    if recipient is None or not recipient.is_active:
        return None
    principal = await principal_for_user(session, recipient)
    locale = recipient.locale or "zh-CN"
    try:
        view = (
            await get_dashboard(session, principal, row.dashboard_id)
            if row.dashboard_id
            else await role_default(session, principal, locale=locale)
        )
    except NotFound:
        # The dashboard was deleted or unshared since: nothing to send.
        return None
    filters = view.definition.filters.model_copy(update={"period": PERIOD_OF[row.frequency]})
    rendered = await render_report(session, principal, view, filters, locale, row.format)
    labels = labels_for(locale)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient.email
    message["Subject"] = f"{view.name} · {labels['subject']} {utc_now():%Y-%m-%d}"
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "cxloop.local")
    message.set_content(labels["body"])
    maintype, _, subtype = rendered.media_type.partition("/")
    message.add_attachment(
        rendered.content, maintype=maintype, subtype=subtype.split(";")[0], filename=rendered.filename
    )
    return message, row
