"""Request and response bodies of the identity API."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from cxloop.identity.access import Perm, Principal, TokenInfo
from cxloop.identity.models import ApiToken, AuditEvent, Unit
from cxloop.identity.principals import token_info
from cxloop.identity.units import display_name
from cxloop.identity.users import UserView

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text; SQLite could, so refuse it on both.
        if _has_nul(value):
            raise ValueError("Text may not contain NUL characters.")
        return value


class UnitCreate(Strict):
    code: Code
    name: ShortText | dict[str, ShortText] = Field(
        description='A name, or names by language tag: {"zh-CN": "华东区", "en": "East"}.'
    )
    names: dict[str, ShortText] | None = Field(default=None, description="More names by language tag.")
    parent_code: Code | None = None
    timezone: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = Field(
        default=None, description="A label for the level, such as region, city or store."
    )


class UnitOut(BaseModel):
    id: str
    code: str
    name: str
    names: dict[str, str]
    parent_code: str | None
    kind: str | None
    timezone: str
    depth: int
    created_at: datetime

    @classmethod
    def of(cls, unit: Unit, parent_code: str | None, locale: str | None) -> UnitOut:
        return cls(
            id=unit.id,
            code=unit.code,
            name=display_name(unit.names, locale),
            names=unit.names,
            parent_code=parent_code,
            kind=unit.kind,
            timezone=unit.timezone,
            depth=unit.depth,
            created_at=unit.created_at,
        )


class UnitPage(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None


class MembershipOut(BaseModel):
    role: str
    unit_code: str | None
    unit_name: str | None


class UserCreate(Strict):
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    password: Annotated[str, StringConstraints(max_length=256)] | None = None
    role: Annotated[str, StringConstraints(max_length=20)]
    unit_code: Code | None = None
    locale: Annotated[str, StringConstraints(max_length=10)] | None = None


class UserUpdate(Strict):
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    locale: Annotated[str, StringConstraints(max_length=10)] | None = None
    role: Annotated[str, StringConstraints(max_length=20)] | None = None
    unit_code: Code | None = None
    password: Annotated[str, StringConstraints(max_length=256)] | None = None


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    locale: str | None
    is_active: bool
    role: str | None
    unit_code: str | None
    memberships: list[MembershipOut]
    created_at: datetime

    @classmethod
    def of(cls, view: UserView, locale: str | None) -> UserOut:
        members = [
            MembershipOut(
                role=m.role,
                unit_code=u.code if u else None,
                unit_name=display_name(u.names, locale) if u else None,
            )
            for m, u in view.memberships
        ]
        first = members[0] if members else None
        user = view.user
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            locale=user.locale,
            is_active=user.is_active,
            role=first.role if first else None,
            unit_code=first.unit_code if first else None,
            memberships=members,
            created_at=user.created_at,
        )


class UserPage(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class ServiceSpec(Strict):
    role: Annotated[str, StringConstraints(max_length=20)]
    unit_code: Code | None = None


class TokenCreate(Strict):
    name: ShortText
    scopes: list[Annotated[str, StringConstraints(max_length=20)]] | None = Field(default=None, max_length=3)
    expires_at: datetime | None = None
    service: ServiceSpec | None = Field(
        default=None, description="Make a service token with this role instead of one acting as you (admins)."
    )


class TokenOut(BaseModel):
    id: str
    name: str
    kind: str
    scopes: list[str]
    user_id: str | None
    service_role: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken) -> TokenOut:
        return cls.of_info(token_info(token))

    @classmethod
    def of_info(cls, token: TokenInfo) -> TokenOut:
        return cls(**{**dataclasses.asdict(token), "scopes": list(token.scopes)})


class IssuedTokenOut(TokenOut):
    token: str | None = Field(
        description="The secret. It is shown only this once: null when the answer is replayed "
        "by Idempotency-Key."
    )


class TokenPage(BaseModel):
    items: list[TokenOut]
    next_cursor: str | None


class AuditEventOut(BaseModel):
    id: str
    occurred_at: datetime
    action: str
    actor_user_id: str | None
    actor_token_id: str | None
    actor: str | None
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            occurred_at=event.occurred_at,
            action=event.action,
            actor_user_id=event.actor_user_id,
            actor_token_id=event.actor_token_id,
            actor=event.actor_label,
            target_type=event.target_type,
            target_id=event.target_id,
            ip=event.ip,
            details=event.details,
        )


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


class ScopeOut(BaseModel):
    everywhere: bool
    unit_codes: list[str] = Field(description="Roots of the subtrees (or single units) you can see.")


class TenantOut(BaseModel):
    id: str
    slug: str
    name: str


class MeOut(BaseModel):
    id: str | None
    kind: str
    email: str | None
    name: str
    locale: str | None
    tenant: TenantOut
    memberships: list[MembershipOut]
    permissions: list[str]
    scope: ScopeOut
    token: TokenOut | None = None


class MeUpdate(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    locale: Annotated[str, StringConstraints(max_length=10)] | None = None


def scope_of(principal: Principal) -> ScopeOut:
    reach = principal.reach(Perm.DATA_READ)
    codes = [g.unit_code for g in principal.grants if g.unit_code and not g.tenant_wide]
    return ScopeOut.model_construct(
        everywhere=reach.everywhere, unit_codes=[] if reach.everywhere else sorted(set(codes))
    )
