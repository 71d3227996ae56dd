"""Factories that build data through the services, as the product does."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cxloop.identity.audit import Actor
from cxloop.identity.tenants import create_tenant
from cxloop.identity.tokens import create_user_token
from cxloop.identity.units import create_unit
from cxloop.identity.users import create_user
from cxloop.kit.db import Database

OPERATOR = Actor(tenant_id=None, label="tests")

UNITS = [
    ("HQ", {"zh-CN": "总部", "en": "Head office"}, None, "hq"),
    ("EAST", {"zh-CN": "华东区", "en": "East"}, "HQ", "region"),
    ("SH", {"zh-CN": "上海", "en": "Shanghai"}, "EAST", "city"),
    ("SH001", {"zh-CN": "上海南京路店", "en": "Shanghai Nanjing Rd"}, "SH", "store"),
    ("SH002", {"zh-CN": "上海徐家汇店", "en": "Shanghai Xujiahui"}, "SH", "store"),
    ("SOUTH", {"zh-CN": "华南区", "en": "South"}, "HQ", "region"),
    ("GZ", {"zh-CN": "广州", "en": "Guangzhou"}, "SOUTH", "city"),
    ("GZ001", {"zh-CN": "广州天河店", "en": "Guangzhou Tianhe"}, "GZ", "store"),
]

# name -> (role, unit)
PEOPLE = {
    "admin": ("admin", None),
    "cx": ("cx_manager", None),
    "east": ("unit_manager", "EAST"),
    "store": ("unit_manager", "SH001"),
    "agent": ("agent", "SH001"),
    "analyst": ("analyst", "EAST"),
}


@dataclass
class Org:
    tenant_id: str
    unit_ids: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _make_org(url: str, slug: str, email_domain: str) -> Org:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            tenant = await create_tenant(session, slug=slug, name=f"{slug.title()} Retail")
            org = Org(tenant_id=tenant.id)
            actor = Actor(tenant_id=tenant.id, label="tests")
            for code, names, parent, kind in UNITS:
                unit = await create_unit(
                    session,
                    tenant,
                    code=code if slug == "acme" else f"{slug.upper()}-{code}",
                    names=names,
                    parent_code=None
                    if parent is None
                    else (parent if slug == "acme" else f"{slug.upper()}-{parent}"),
                    kind=kind,
                    actor=actor,
                )
                org.unit_ids[code] = unit.id
            for who, (role, unit) in PEOPLE.items():
                unit_code = None if unit is None else (unit if slug == "acme" else f"{slug.upper()}-{unit}")
                view = await create_user(
                    session,
                    tenant,
                    email=f"{who}@{email_domain}",
                    name=who.title(),
                    password=None,
                    role=role,
                    unit_code=unit_code,
                    actor=actor,
                )
                org.user_ids[who] = view.user.id
                issued = await create_user_token(
                    session, view.user, name="tests", scopes=None, expires_at=None, actor=actor
                )
                org.tokens[who] = issued.secret
            await session.commit()
        return org
    finally:
        await db.dispose()


def make_org(url: str, slug: str = "acme", email_domain: str = "acme.test") -> Org:
    return run(_make_org(url, slug, email_domain))
