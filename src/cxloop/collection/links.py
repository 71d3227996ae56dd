"""Survey links: personal single-use links and signed anonymous links. Never commits.

A personal link is a ``survey_links`` row; its URL carries the row id signed
with the installation's secret (``/s/{survey}?t=...``), so it can be neither
guessed nor forged, and what it sets (unit, channel, contact...) stays in the
row. An anonymous link is just the survey's URL; the parameters that set the
unit, channel, touchpoint and embedded fields (``e.NAME``) are covered by a
``sig`` parameter, and any change to them makes the page ignore all of them.
Each signature has its own salt, so a value signed for one purpose never
passes for another.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, Signer, URLSafeSerializer
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, FiniteFloat
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.models import SurveyLink
from cxloop.collection.schemas import ContactIn, printable
from cxloop.collection.service import tenant_survey
from cxloop.collection.validation import check_embedded
from cxloop.identity import Perm, Principal, Reach, get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, FieldError, ValidationFailed
from cxloop.kit.ids import new_id
from cxloop.surveys import CLOSED, SurveyDefinition, SurveyVersion, parse_definition

PERSONAL_SALT = "cxloop.respond.personal-link"
ANONYMOUS_SALT = "cxloop.respond.anonymous-link"
MAX_LINKS = 1000
CHANNEL_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
# The query parameters an anonymous link signs; everything else is ignored.
SIGNED_KEYS = ("unit", "channel", "touchpoint")
EMBEDDED_PREFIX = "e."
SIGNATURE = "sig"


# --- signing ------------------------------------------------------------------


def personal_token(secret_key: str, link_id: str) -> str:
    return URLSafeSerializer(secret_key, salt=PERSONAL_SALT).dumps(link_id)


def link_id_from(secret_key: str, token: str | None) -> str | None:
    """The link id a token names, or None for anything not signed by us."""
    if not token or len(token) > 200:
        return None
    try:
        value = URLSafeSerializer(secret_key, salt=PERSONAL_SALT).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 26 else None


def _canonical(survey_id: str, params: Mapping[str, str]) -> bytes:
    # Newlines cannot occur in keys; values are length-prefixed so no two sets collide.
    parts = [survey_id] + [f"{key}={len(value)}:{value}" for key, value in sorted(params.items())]
    return "\n".join(parts).encode()


def sign_params(secret_key: str, survey_id: str, params: Mapping[str, str]) -> str:
    return Signer(secret_key, salt=ANONYMOUS_SALT).get_signature(_canonical(survey_id, params)).decode()


def _signable(key: str) -> bool:
    return key in SIGNED_KEYS or (key.startswith(EMBEDDED_PREFIX) and len(key) > len(EMBEDDED_PREFIX))


def verified_params(secret_key: str, survey_id: str, query: Any) -> dict[str, str]:
    """The signed parameters of an anonymous link's query (a multi-dict), or {}.

    A missing or wrong signature, a repeated parameter or a signed parameter
    added or changed after signing all give {}: the page then works as a
    plain anonymous link.
    """
    items = list(query.multi_items())
    signatures = [value for key, value in items if key == SIGNATURE]
    params: dict[str, str] = {}
    for key, value in items:
        if not _signable(key):
            continue
        if key in params or len(value) > 500:
            return {}
        params[key] = value
    if len(signatures) != 1 or not params:
        return {}
    signer = Signer(secret_key, salt=ANONYMOUS_SALT)
    if not signer.verify_signature(_canonical(survey_id, params), signatures[0].encode()):
        return {}
    return params


def anonymous_query(secret_key: str, survey_id: str, params: Mapping[str, str]) -> str:
    """The query string of a signed anonymous link ('' when nothing is set)."""
    if not params:
        return ""
    ordered = sorted(params.items())
    return urlencode([*ordered, (SIGNATURE, sign_params(secret_key, survey_id, params))])


# --- request bodies -------------------------------------------------------------


Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(printable)]
Label = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(printable)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LinkContactIn(ContactIn):
    """Who the personal link is for: the ingest API's identities, and names that
    piping shows (``{{contact.first_name}}``)."""

    first_name: Name | None = None
    last_name: Name | None = None
    name: Name | None = None
    company: Name | None = None


class LinkIn(_Strict):
    contact: LinkContactIn = Field(default_factory=LinkContactIn)
    unit_code: Label | None = None
    channel: str = Field(default="link", pattern=CHANNEL_PATTERN)
    touchpoint: Label | None = None
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, max_length=35)
    # Finite numbers only: JSON columns (PostgreSQL's jsonb) cannot store NaN or infinity.
    embedded: dict[str, Annotated[str, Field(max_length=500)] | int | FiniteFloat | bool | None] = Field(
        default_factory=dict, max_length=100
    )
    expires_at: AwareDatetime | None = None


class LinksIn(_Strict):
    items: list[LinkIn] = Field(min_length=1, max_length=MAX_LINKS)


class AnonymousLinkIn(_Strict):
    unit_code: Label | None = None
    channel: str | None = Field(default=None, pattern=CHANNEL_PATTERN)
    touchpoint: Label | None = None
    embedded: dict[str, Annotated[str, Field(max_length=500), AfterValidator(printable)]] = Field(
        default_factory=dict, max_length=100
    )


class LinkOut(BaseModel):
    id: str
    path: str
    url: str
    contact: dict[str, Any]
    unit_code: str | None
    channel: str
    touchpoint: str | None
    language: str | None
    embedded: dict[str, Any]
    expires_at: datetime | None
    created_at: datetime


class LinksOut(BaseModel):
    items: list[LinkOut]


class AnonymousLinkOut(BaseModel):
    path: str
    url: str


# --- services -------------------------------------------------------------------


def _link_reach(principal: Principal) -> Reach:
    if principal.can(Perm.CONFIG_WRITE):
        return principal.reach(Perm.CONFIG_WRITE)
    principal.require(Perm.DATA_WRITE)
    return principal.reach(Perm.DATA_WRITE)


async def _open_survey(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyDefinition:
    """The survey's newest definition; links may be made before publishing, not after closing."""
    survey = await tenant_survey(session, principal, survey_id)
    if survey.status == CLOSED:
        raise Conflict("This survey is closed and takes no more responses.", code="survey_closed")
    version = await session.get(
        SurveyVersion, (survey.id, survey.published_version or survey.current_version)
    )
    assert version is not None, "a survey has its versions"
    return parse_definition(version.definition)


class _Units:
    """Unit codes within the caller's reach, looked up once per request."""

    def __init__(self, session: AsyncSession, principal: Principal, reach: Reach) -> None:
        self.session, self.principal, self.reach = session, principal, reach
        self.known: dict[str, str | None] = {}

    async def resolve(self, code: str | None, path: str) -> tuple[str | None, FieldError | None]:
        if code is None:
            if self.reach.everywhere:
                return None, None
            return None, FieldError(path, "is required: you may make links for your units only")
        if code not in self.known:
            unit = await get_unit_by_code(self.session, self.principal.tenant_id, code)
            covered = unit is not None and self.reach.covers(unit.id, unit.path)
            self.known[code] = unit.id if unit is not None and covered else None
        unit_id = self.known[code]
        if unit_id is None:
            return None, FieldError(path, f"No unit {code!r}.")
        return unit_id, None


def _actor(principal: Principal) -> str:
    return principal.user_id or principal.token_id or principal.label[:26]


async def create_links(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    items: list[LinkIn],
    *,
    secret_key: str,
    base_url: str,
) -> list[LinkOut]:
    """One personal link per item, all or none: every fault is reported with its path."""
    reach = _link_reach(principal)
    definition = await _open_survey(session, principal, survey_id)
    units = _Units(session, principal, reach)
    now = utc_now()
    errors: list[FieldError] = []
    rows: list[tuple[SurveyLink, str | None]] = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        unit_id, unit_error = await units.resolve(item.unit_code, f"{where}.unit_code")
        if unit_error is not None:
            errors.append(unit_error)
        if item.language is not None and item.language not in definition.languages:
            errors.append(
                FieldError(f"{where}.language", f"must be one of {', '.join(definition.languages)}")
            )
        if item.expires_at is not None and item.expires_at <= now:
            errors.append(FieldError(f"{where}.expires_at", "must be in the future"))
        errors += [
            FieldError(f"{where}.{e.path}", e.message) for e in check_embedded(definition, item.embedded)
        ]
        link = SurveyLink(
            id=new_id(),
            tenant_id=principal.tenant_id,
            survey_id=survey_id,
            unit_id=unit_id,
            channel=item.channel,
            touchpoint=item.touchpoint,
            language=item.language,
            embedded=dict(item.embedded),
            contact_ref=item.contact.model_dump(exclude_none=True),
            created_at=now,
            created_by=_actor(principal),
            expires_at=item.expires_at.astimezone(UTC) if item.expires_at is not None else None,
            completed_at=None,
        )
        rows.append((link, item.unit_code))
    if errors:
        raise ValidationFailed("Some links are not valid; see errors.", errors=errors)
    session.add_all([link for link, _ in rows])
    await session.flush()
    out: list[LinkOut] = []
    for link, unit_code in rows:
        path = f"/s/{survey_id}?t={personal_token(secret_key, link.id)}"
        out.append(
            LinkOut(
                id=link.id,
                path=path,
                url=base_url.rstrip("/") + path,
                contact=link.contact_ref,
                unit_code=unit_code,
                channel=link.channel,
                touchpoint=link.touchpoint,
                language=link.language,
                embedded=link.embedded,
                expires_at=link.expires_at,
                created_at=link.created_at,
            )
        )
    return out


async def anonymous_link(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    item: AnonymousLinkIn,
    *,
    secret_key: str,
    base_url: str,
) -> AnonymousLinkOut:
    reach = _link_reach(principal)
    definition = await _open_survey(session, principal, survey_id)
    errors: list[FieldError] = []
    if item.unit_code is not None or not reach.everywhere:
        _, unit_error = await _Units(session, principal, reach).resolve(item.unit_code, "unit_code")
        if unit_error is not None:
            errors.append(unit_error)
    errors += check_embedded(definition, item.embedded)
    if errors:
        raise ValidationFailed("The link is not valid; see errors.", errors=errors)
    params: dict[str, str] = {}
    if item.unit_code is not None:
        params["unit"] = item.unit_code
    if item.channel is not None:
        params["channel"] = item.channel
    if item.touchpoint is not None:
        params["touchpoint"] = item.touchpoint
    params.update({EMBEDDED_PREFIX + name: value for name, value in item.embedded.items()})
    query = anonymous_query(secret_key, survey_id, params)
    path = f"/s/{survey_id}" + (f"?{query}" if query else "")
    return AnonymousLinkOut(path=path, url=base_url.rstrip("/") + path)
