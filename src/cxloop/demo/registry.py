"""The seed generator: ordered, idempotent steps that build the demo tenant.

Each domain that has demo data registers one step with ``@seed_step``. The
runner calls the steps in ``order``, each in its own transaction, and records
a marker (an audit event ``demo.seeded``) in the same transaction, so a step
runs once per tenant: re-running the demo keeps what is there and only adds
the steps that are new. See docs/demo.md.
"""

from __future__ import annotations

import importlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity.audit import Actor, record
from cxloop.identity.models import AuditEvent, Tenant, Unit, User
from cxloop.identity.tenants import create_tenant
from cxloop.kit.clock import utc_now
from cxloop.kit.db import Database

DEMO_SLUG = "demo"
DEMO_TENANT_NAME = "鲜邻超市 FreshNeighbour Markets"
DEMO_ACTOR_LABEL = "demo"
SEEDED_ACTION = "demo.seeded"

# Modules whose steps make up the demo; a domain with demo data adds its own.
STEP_MODULES: tuple[str, ...] = (
    "cxloop.demo.identity",
    "cxloop.demo.surveys",
    "cxloop.demo.analytics",
    "cxloop.demo.text",
    "cxloop.demo.customers",
    "cxloop.demo.cases",
    "cxloop.demo.dashboards",
    "cxloop.demo.alerts",
)
# Enough for trends by month and store that mean something; `cxloop demo --responses` changes it.
DEFAULT_RESPONSE_COUNT = 52_000


@dataclass
class SeedContext:
    """What a step gets: the open session, the tenant, a random generator of
    its own (seeded from the tenant and step names, so output is repeatable
    and one step's draws never shift another's), and the organisation so far."""

    session: AsyncSession
    tenant: Tenant
    rng: random.Random
    actor: Actor
    now: datetime
    response_count: int = DEFAULT_RESPONSE_COUNT
    units: dict[str, Unit] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def units_of_kind(self, kind: str) -> list[Unit]:
        return sorted((u for u in self.units.values() if u.kind == kind), key=lambda u: u.code)

    async def reload(self) -> None:
        """Re-read units (by code) and users (by email) after adding some."""
        units = await self.session.execute(select(Unit).where(Unit.tenant_id == self.tenant.id))
        self.units = {u.code: u for u in units.scalars()}
        users = await self.session.execute(select(User).where(User.tenant_id == self.tenant.id))
        self.users = {u.email: u for u in users.scalars()}


SeedFunction = Callable[[SeedContext], Awaitable[None]]


@dataclass(frozen=True)
class SeedStep:
    name: str
    order: int
    run: SeedFunction
    description: str


_STEPS: dict[str, SeedStep] = {}


def seed_step(name: str, *, order: int) -> Callable[[SeedFunction], SeedFunction]:
    """Register ``async def step(ctx: SeedContext)`` as the demo step ``name``.

    ``order`` places it among the others (identity is 10; leave gaps).
    """

    def register(function: SeedFunction) -> SeedFunction:
        known = _STEPS.get(name)
        if known is not None and known.run is not function:
            raise ValueError(f"demo seed step {name!r} is registered twice")
        doc = (function.__doc__ or "").strip().splitlines()
        _STEPS[name] = SeedStep(name, order, function, doc[0] if doc else name)
        return function

    return register


def load_steps() -> list[SeedStep]:
    for module in STEP_MODULES:
        importlib.import_module(module)
    return sorted(_STEPS.values(), key=lambda s: (s.order, s.name))


@dataclass(frozen=True)
class SeedResult:
    tenant_slug: str
    created_tenant: bool
    ran: list[str]
    skipped: list[str]


async def seed_demo(
    db: Database,
    *,
    slug: str = DEMO_SLUG,
    only: Iterable[str] | None = None,
    response_count: int = DEFAULT_RESPONSE_COUNT,
    on_step: Callable[[str, float], None] | None = None,
) -> SeedResult:
    """Create the demo tenant if absent and run every step not yet seeded;
    ``on_step(name, seconds)`` hears of each step as it is committed."""
    steps = load_steps()
    if only is not None:
        wanted = set(only)
        unknown = wanted - {s.name for s in steps}
        if unknown:
            raise ValueError(f"unknown demo seed steps: {', '.join(sorted(unknown))}")
        steps = [s for s in steps if s.name in wanted]
    created_tenant = False
    async with db.session(write=True) as session:
        tenant = await _demo_tenant(session, slug)
        if tenant is None:
            tenant = await create_tenant(session, slug=slug, name=DEMO_TENANT_NAME)
            created_tenant = True
        await session.commit()
    ran: list[str] = []
    skipped: list[str] = []
    for step in steps:
        async with db.session(write=True) as session:
            tenant = await _demo_tenant(session, slug)
            assert tenant is not None
            if await _is_seeded(session, tenant.id, step.name):
                skipped.append(step.name)
                continue
            actor = Actor(tenant_id=tenant.id, label=DEMO_ACTOR_LABEL)
            context = SeedContext(
                session=session,
                tenant=tenant,
                rng=random.Random(f"{slug}:{step.name}"),
                actor=actor,
                now=utc_now(),
                response_count=response_count,
            )
            await context.reload()
            started = time.perf_counter()
            await step.run(context)
            record(
                session,
                actor,
                SEEDED_ACTION,
                target_type="seed_step",
                target_id=step.name,
                details={"order": step.order},
            )
            await session.commit()
            ran.append(step.name)
            if on_step is not None:
                on_step(step.name, time.perf_counter() - started)
    return SeedResult(slug, created_tenant, ran, skipped)


async def _demo_tenant(session: AsyncSession, slug: str) -> Tenant | None:
    return (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()


async def _is_seeded(session: AsyncSession, tenant_id: str, step_name: str) -> bool:
    marker = await session.execute(
        select(AuditEvent.id)
        .where(
            AuditEvent.tenant_id == tenant_id,
            AuditEvent.action == SEEDED_ACTION,
            AuditEvent.target_id == step_name,
        )
        .limit(1)
    )
    return marker.first() is not None
