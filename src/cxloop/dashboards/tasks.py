"""Job handlers of the dashboards domain (imported by cxloop.worker.jobs).

``dashboards.reports_due`` runs periodically (worker PERIODIC_JOBS): it moves
each due schedule to its next slot and enqueues one ``dashboards.send_report``
in the same transaction. The send job renders the report as the recipient and
mails it; an SMTP failure raises, so the job is retried with backoff.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import aiosmtplib
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.dashboards.reports import DUE_JOB, SEND_JOB, build_message, claim_due
from cxloop.kit.clock import utc_now
from cxloop.kit.jobs import enqueue, job
from cxloop.kit.settings import Settings, get_settings

log = logging.getLogger("cxloop.dashboards")


class SendPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule_id: Annotated[str, StringConstraints(min_length=1, max_length=26)]
    slot: Annotated[str, StringConstraints(min_length=1, max_length=40)]


def smtp_target(settings: Settings) -> tuple[str, int, str, dict[str, Any]]:
    """Host, port, sender and login options: the report settings, else the general SMTP ones."""
    host = settings.report_smtp_host or getattr(settings, "smtp_host", None) or "127.0.0.1"
    port = settings.report_smtp_port or (
        getattr(settings, "smtp_port", None) if not settings.report_smtp_host else None
    )
    sender = settings.report_mail_from or getattr(settings, "smtp_from", None) or "cxloop <reports@localhost>"
    options: dict[str, Any] = {}
    if not settings.report_smtp_host:
        security = getattr(settings, "smtp_security", "none")
        options["start_tls"] = security == "starttls"
        options["use_tls"] = security == "tls"
        if getattr(settings, "smtp_username", None):
            options["username"] = getattr(settings, "smtp_username", None)
            options["password"] = getattr(settings, "smtp_password", None)
    else:
        options["start_tls"] = False
    return host, int(port or 25), sender, options


@job(DUE_JOB, max_attempts=3)
async def run_reports_due(session: AsyncSession, payload: dict[str, Any]) -> None:
    for schedule_id, slot in await claim_due(session, utc_now()):
        enqueue(session, SEND_JOB, {"schedule_id": schedule_id, "slot": slot})


@job(SEND_JOB, max_attempts=6)
async def run_send_report(session: AsyncSession, payload: dict[str, Any]) -> None:
    data = SendPayload.model_validate(payload)
    host, port, sender, options = smtp_target(get_settings())
    built = await build_message(session, data.schedule_id, sender)
    if built is None:
        log.info("report schedule %s: nothing to send", data.schedule_id)
        return
    message, row = built
    await aiosmtplib.send(message, hostname=host, port=port, timeout=30, **options)
    row.last_sent_at = utc_now()
    log.info("report schedule %s sent for slot %s", data.schedule_id, data.slot)
