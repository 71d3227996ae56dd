"""What distribution needs from the customer directory, behind one seam.

The real one is the customers package's public surface (``contact_reach``,
``consent_allows``, their batch forms ``contacts_reach`` and
``consents_allow`` for delivery jobs, ``record_consent``,
``segment_contact_ids``, ``find_contact``); tests that exercise distribution's own rules install an
in-memory ``Directory`` with ``use_directory``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers import (
    consent_allows,
    consents_allow,
    contact_reach,
    contacts_reach,
    find_contact,
    record_consent,
    segment_contact_ids,
)


@dataclass(frozen=True)
class Person:
    """The customers ``Reach`` as distribution reads it."""

    contact_id: str
    language: str | None = None
    timezone: str | None = None
    unit_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    first_name: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    wechat_openid: str | None = None
    wecom_userid: str | None = None


class Directory(Protocol):
    async def reach(self, session: AsyncSession, tenant_id: str, contact_id: str) -> Person | None: ...

    async def consent(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
    ) -> bool: ...

    async def reach_many(
        self, session: AsyncSession, tenant_id: str, contact_ids: Collection[str]
    ) -> dict[str, Person]:
        """``reach`` for a batch: {contact id: Person}, an id that is gone left out."""
        ...

    async def consent_many(
        self,
        session: AsyncSession,
        tenant_id: str,
        wanted: Iterable[tuple[str, str]],
        purpose: str = "survey",
    ) -> dict[tuple[str, str], bool]:
        """``consent`` for a batch of (contact id, channel) pairs: {pair: allowed}."""
        ...

    async def withdraw(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, *, source: str
    ) -> None: ...

    async def segment(self, session: AsyncSession, tenant_id: str, segment_id: str) -> list[str]: ...

    async def find(self, session: AsyncSession, tenant_id: str, kind: str, value: str) -> str | None: ...


def _person(reach: Any) -> Person:
    def get(name: str) -> Any:
        return getattr(reach, name, None)

    return Person(
        contact_id=str(get("contact_id")),
        language=get("language"),
        timezone=get("timezone"),
        unit_id=get("unit_id"),
        attributes=dict(get("attributes") or {}),
        tags=list(get("tags") or []),
        first_name=get("first_name"),
        name=get("name"),
        email=get("email"),
        phone=get("phone"),
        wechat_openid=get("wechat_openid"),
        wecom_userid=get("wecom_userid"),
    )


class CustomersDirectory:
    """The real directory: the customers package's public functions."""

    async def reach(self, session: AsyncSession, tenant_id: str, contact_id: str) -> Person | None:
        found = await contact_reach(session, tenant_id, contact_id)
        return None if found is None else _person(found)

    async def consent(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
    ) -> bool:
        return bool(await consent_allows(session, tenant_id, contact_id, channel, purpose))

    async def reach_many(
        self, session: AsyncSession, tenant_id: str, contact_ids: Collection[str]
    ) -> dict[str, Person]:
        found = await contacts_reach(session, tenant_id, contact_ids)
        return {contact_id: _person(reach) for contact_id, reach in found.items()}

    async def consent_many(
        self,
        session: AsyncSession,
        tenant_id: str,
        wanted: Iterable[tuple[str, str]],
        purpose: str = "survey",
    ) -> dict[tuple[str, str], bool]:
        return await consents_allow(session, tenant_id, wanted, purpose)

    async def withdraw(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, *, source: str
    ) -> None:
        await record_consent(session, tenant_id, contact_id, channel, "survey", False, source=source)

    async def segment(self, session: AsyncSession, tenant_id: str, segment_id: str) -> list[str]:
        return list(await segment_contact_ids(session, tenant_id, segment_id))

    async def find(self, session: AsyncSession, tenant_id: str, kind: str, value: str) -> str | None:
        found = await find_contact(session, tenant_id, kind, value)
        return None if found is None else str(found)


_directory: Directory = CustomersDirectory()


def directory() -> Directory:
    return _directory


def use_directory(replacement: Directory | None) -> None:
    """Swap the directory (tests); None restores the customers package."""
    global _directory
    _directory = replacement if replacement is not None else CustomersDirectory()
