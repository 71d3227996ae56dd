"""The campaigns API: create, audience preview, launch, funnel, test send."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, model_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.campaigns import (
    DRAFT,
    RECURRING,
    SCHEDULED_C,
    audience_count,
    campaign_funnel,
    due_campaigns,
)
from cxloop.distribution.channels.base import Outgoing
from cxloop.distribution.content import language_of, render_invitation
from cxloop.distribution.delivery import survey_title
from cxloop.distribution.models import Campaign
from cxloop.distribution.providers import adapter_for
from cxloop.distribution.schemas import Channel, Id, Label, Strict
from cxloop.distribution.service import now_utc, open_survey
from cxloop.identity import CurrentPrincipal, Perm, Principal, User
from cxloop.kit.errors import Conflict, invalid, not_found
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import enqueue, job
from cxloop.kit.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["distribution"], route_class=TransactionalRoute)
TEST_SEND_JOB = "distribution.test_send"
MAX_LIST = 10_000


class AudienceIn(Strict):
    segment_id: Id | None = None
    contact_ids: list[Id] = Field(default_factory=list, max_length=MAX_LIST)

    @model_validator(mode="after")
    def _one_audience(self) -> AudienceIn:
        if (self.segment_id is None) == (not self.contact_ids):
            raise ValueError("give a segment_id or a list of contact_ids (not both)")
        return self


class CampaignIn(AudienceIn):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    survey_id: Id
    channel: Channel | None = None
    kind: Literal["one_off", "recurring"] = "one_off"
    starts_at: AwareDatetime | None = None
    cadence_days: int | None = Field(default=None, ge=1, le=3660)
    reminder_after_days: int | None = Field(default=None, ge=1, le=365)
    max_reminders: int = Field(default=0, ge=0, le=10)
    link_days: int | None = Field(default=None, ge=1, le=365)
    touchpoint: Label | None = None

    @model_validator(mode="after")
    def _cadence(self) -> CampaignIn:
        if (self.kind == RECURRING) != (self.cadence_days is not None):
            raise ValueError("a recurring campaign needs cadence_days; a one-off has none")
        if self.max_reminders and self.reminder_after_days is None:
            raise ValueError("max_reminders needs reminder_after_days")
        return self


class CampaignOut(BaseModel):
    id: str
    name: str
    survey_id: str
    channel: str | None
    segment_id: str | None
    contact_count: int
    kind: str
    status: str
    starts_at: datetime | None
    cadence_days: int | None
    reminder_after_days: int | None
    max_reminders: int
    link_days: int | None
    touchpoint: str | None
    created_at: datetime
    launched_at: datetime | None
    funnel: dict[str, int] = Field(default_factory=dict)


class CampaignList(BaseModel):
    items: list[CampaignOut]


class PreviewOut(BaseModel):
    audience: int


class TestSendIn(Strict):
    email: (
        Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None
    ) = None
    language: Literal["zh-CN", "en"] | None = None


def campaign_out(row: Campaign, funnel: dict[str, int] | None = None) -> CampaignOut:
    return CampaignOut(
        id=row.id,
        name=row.name,
        survey_id=row.survey_id,
        channel=row.channel,
        segment_id=row.segment_id,
        contact_count=len(row.contact_ids or []),
        kind=row.kind,
        status=row.status,
        starts_at=row.starts_at,
        cadence_days=row.cadence_days,
        reminder_after_days=row.reminder_after_days,
        max_reminders=row.max_reminders,
        link_days=row.link_days,
        touchpoint=row.touchpoint,
        created_at=row.created_at,
        launched_at=row.launched_at,
        funnel=funnel or {},
    )


def _writer(principal: Principal) -> None:
    principal.require(Perm.DATA_WRITE)
    if not principal.reach(Perm.DATA_WRITE).everywhere:
        # Campaigns reach the whole directory: tenant-wide writers only.
        principal.require(Perm.CONFIG_WRITE)


async def create_campaign(session: AsyncSession, principal: Principal, body: CampaignIn) -> Campaign:
    _writer(principal)
    await open_survey(session, principal.tenant_id, body.survey_id)
    row = Campaign(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=body.name,
        survey_id=body.survey_id,
        channel=body.channel,
        segment_id=body.segment_id,
        contact_ids=list(dict.fromkeys(body.contact_ids)),
        kind=body.kind,
        status=DRAFT,
        starts_at=body.starts_at,
        cadence_days=body.cadence_days,
        reminder_after_days=body.reminder_after_days,
        max_reminders=body.max_reminders,
        link_days=body.link_days,
        touchpoint=body.touchpoint,
        created_by=(principal.user_id or principal.token_id or principal.label)[:26],
        created_at=now_utc(),
    )
    session.add(row)
    await session.flush()
    # An unknown segment answers 404 now, not at launch.
    await audience_count(session, row)
    return row


@router.post("/campaigns", status_code=201, response_model=CampaignOut, summary="Create a campaign (a draft)")
async def post_campaign(body: CampaignIn, session: DbSession, principal: CurrentPrincipal) -> CampaignOut:
    return campaign_out(await create_campaign(session, principal, body))


@router.post(
    "/campaigns/audience-preview", response_model=PreviewOut, summary="How many contacts an audience has"
)
async def preview_audience(body: AudienceIn, session: DbSession, principal: CurrentPrincipal) -> PreviewOut:
    principal.require(Perm.DATA_READ)
    probe = Campaign(tenant_id=principal.tenant_id, segment_id=body.segment_id, contact_ids=body.contact_ids)
    return PreviewOut(audience=await audience_count(session, probe))


@router.get("/campaigns", response_model=CampaignList, summary="Campaigns, newest first")
async def list_campaigns(session: DbSession, principal: CurrentPrincipal) -> CampaignList:
    principal.require(Perm.DATA_READ)
    found = await session.execute(
        select(Campaign)
        .where(Campaign.tenant_id == principal.tenant_id)
        .order_by(Campaign.created_at.desc())
        .limit(500)
    )
    return CampaignList(items=[campaign_out(row) for row in found.scalars()])


async def own_campaign(session: AsyncSession, tenant_id: str, campaign_id: str) -> Campaign:
    row = await session.get(Campaign, campaign_id) if len(campaign_id) <= 26 else None
    if row is None or row.tenant_id != tenant_id:
        raise not_found("campaign")
    return row


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="A campaign and its funnel")
async def get_campaign(campaign_id: str, session: DbSession, principal: CurrentPrincipal) -> CampaignOut:
    principal.require(Perm.DATA_READ)
    row = await own_campaign(session, principal.tenant_id, campaign_id)
    return campaign_out(row, await campaign_funnel(session, principal.tenant_id, row.id))


@router.get("/campaigns/{campaign_id}/preview", response_model=PreviewOut, summary="Audience count now")
async def campaign_preview(campaign_id: str, session: DbSession, principal: CurrentPrincipal) -> PreviewOut:
    principal.require(Perm.DATA_READ)
    row = await own_campaign(session, principal.tenant_id, campaign_id)
    return PreviewOut(audience=await audience_count(session, row))


async def launch(session: AsyncSession, principal: Principal, campaign_id: str) -> Campaign:
    _writer(principal)
    row = await own_campaign(session, principal.tenant_id, campaign_id)
    if row.status != DRAFT:
        raise Conflict("This campaign was launched already.", code="campaign_launched")
    now = now_utc()
    row.status = SCHEDULED_C
    row.starts_at = row.starts_at or now
    if row.starts_at <= now:
        # Start at once (the first chunk); the tick sends the rest.
        await due_campaigns(session, now, only=row.id)
    return row


@router.post(
    "/campaigns/{campaign_id}/launch", response_model=CampaignOut, summary="Launch (or schedule) a campaign"
)
async def post_launch(campaign_id: str, session: DbSession, principal: CurrentPrincipal) -> CampaignOut:
    row = await launch(session, principal, campaign_id)
    return campaign_out(row, await campaign_funnel(session, principal.tenant_id, row.id))


async def test_send(
    session: AsyncSession, principal: Principal, campaign_id: str, body: TestSendIn
) -> dict[str, str]:
    principal.require(Perm.DATA_READ)
    row = await own_campaign(session, principal.tenant_id, campaign_id)
    to = body.email
    if to is None and principal.user_id is not None:
        user = await session.get(User, principal.user_id)
        to = user.email if user is not None else None
    if not to:
        raise invalid("email", "is required: this credential has no email address")
    enqueue(
        session,
        TEST_SEND_JOB,
        {
            "tenant_id": row.tenant_id,
            "survey_id": row.survey_id,
            "to": to,
            "language": body.language or "zh-CN",
        },
    )
    return {"to": to}


@router.post("/campaigns/{campaign_id}/test-send", status_code=202, summary="Send the invitation to yourself")
async def post_test_send(
    campaign_id: str, body: TestSendIn, session: DbSession, principal: CurrentPrincipal
) -> dict[str, str]:
    return await test_send(session, principal, campaign_id, body)


@job(TEST_SEND_JOB, max_attempts=3)
async def run_test_send(session: AsyncSession, payload: dict[str, Any]) -> None:
    """A test message: the anonymous survey link, never a personal one, no invitation row."""
    tenant_id, survey_id = str(payload["tenant_id"]), str(payload["survey_id"])
    language = language_of(str(payload.get("language") or "zh-CN"))
    link = get_settings().public_url.rstrip("/") + f"/s/{survey_id}"
    rendered = render_invitation(
        language=language,
        title="[TEST] " + await survey_title(session, survey_id, language),
        link=link,
        name=None,
        unsubscribe_url=None,
        expires=None,
    )
    adapter = await adapter_for(session, tenant_id, "email")
    await adapter.send(
        Outgoing(
            invitation_id="test",
            tenant_id=tenant_id,
            channel="email",
            to=str(payload["to"]),
            language=language,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            link=link,
            idempotency_key=f"test-{new_id()}",
        )
    )
