"""Alert rules: create, list, change, enable/disable; and the per-tenant compiled cache.

Every change bumps the tenant's ``AlertConfigVersion`` in the same transaction, so
every process notices on its next response (one primary-key read) and recompiles.
Services take a session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.alerts.evaluate import CompiledRule, compile_rule
from cxloop.alerts.models import AlertConfigVersion, AlertRule, Webhook
from cxloop.alerts.rules import MetricRule, ResponseRule, parse_rule
from cxloop.identity import Perm, Principal, Unit
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import invalid, not_found, refuse_control_characters
from cxloop.kit.ids import is_id, new_id
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page


async def bump_config(session: AsyncSession, tenant_id: str) -> None:
    result = await session.execute(
        update(AlertConfigVersion)
        .where(AlertConfigVersion.tenant_id == tenant_id)
        .values(version=AlertConfigVersion.version + 1)
    )
    if not getattr(result, "rowcount", 0):
        session.add(AlertConfigVersion(tenant_id=tenant_id, version=1))
    await session.flush()


async def check_units(session: AsyncSession, tenant_id: str, rule: ResponseRule | MetricRule) -> None:
    codes = rule.filters.units if isinstance(rule, ResponseRule) else [rule.unit]
    if not codes:
        return
    known = set(
        (await session.execute(select(Unit.code).where(Unit.tenant_id == tenant_id, Unit.code.in_(codes))))
        .scalars()
        .all()
    )
    for index, code in enumerate(codes):
        if code not in known:
            path = (
                f"definition.filters.units[{index}]" if isinstance(rule, ResponseRule) else "definition.unit"
            )
            raise invalid(path, f"There is no unit {code!r}.", code="unknown_unit")


async def create_rule(
    session: AsyncSession, principal: Principal, name: str, raw: dict[str, Any], enabled: bool
) -> AlertRule:
    principal.require(Perm.CONFIG_WRITE)
    refuse_control_characters("name", name)
    rule = parse_rule(raw)
    await check_units(session, principal.tenant_id, rule)
    now = utc_now()
    row = AlertRule(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=name,
        kind=rule.kind,
        enabled=enabled,
        definition=rule.model_dump(mode="json", by_alias=True),
        version=1,
        created_by=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await bump_config(session, principal.tenant_id)
    return row


async def get_rule(session: AsyncSession, principal: Principal, rule_id: str) -> AlertRule:
    principal.require(Perm.DATA_READ)
    if not is_id(rule_id):
        raise not_found("alert_rule")
    row = await session.get(AlertRule, rule_id)
    if row is None or row.tenant_id != principal.tenant_id:
        raise not_found("alert_rule")
    return row


async def list_rules(
    session: AsyncSession, principal: Principal, page: PageRequest, kind: str | None, enabled: bool | None
) -> Page[AlertRule]:
    principal.require(Perm.DATA_READ)
    query = select(AlertRule).where(AlertRule.tenant_id == principal.tenant_id)
    if kind is not None:
        query = query.where(AlertRule.kind == kind)
    if enabled is not None:
        query = query.where(AlertRule.enabled == enabled)
    rows = (await session.execute(apply_keyset(query, AlertRule.id, "alert_rules", page))).scalars().all()
    return make_page(rows, "alert_rules", page, lambda r: r.id)


async def update_rule(
    session: AsyncSession,
    principal: Principal,
    rule_id: str,
    *,
    name: str | None,
    raw: dict[str, Any] | None,
    enabled: bool | None,
) -> AlertRule:
    principal.require(Perm.CONFIG_WRITE)
    row = await get_rule(session, principal, rule_id)
    if name is not None:
        refuse_control_characters("name", name)
    if raw is not None:
        rule = parse_rule(raw)
        if rule.kind != row.kind:
            raise invalid("definition.kind", "A rule keeps its kind; create a new rule instead.")
        await check_units(session, principal.tenant_id, rule)
        row.definition = rule.model_dump(mode="json", by_alias=True)
    if name is not None:
        row.name = name
    if enabled is not None:
        row.enabled = enabled
    row.version += 1
    row.updated_at = utc_now()
    await bump_config(session, principal.tenant_id)
    return row


@dataclass(frozen=True)
class TenantConfig:
    version: int
    rules: tuple[CompiledRule, ...]
    # webhook id -> the events it subscribes to
    webhooks: tuple[tuple[str, frozenset[str]], ...]
    needs_contact: bool
    needs_text: bool
    needs_unit_path: bool

    def webhooks_for(self, event: str) -> list[str]:
        return [hook_id for hook_id, events in self.webhooks if event in events]


_cache: dict[str, TenantConfig] = {}


def clear_cache() -> None:
    _cache.clear()


async def compile_rows(session: AsyncSession, tenant_id: str, rows: list[AlertRule]) -> list[CompiledRule]:
    parsed = [(row, parse_rule(row.definition)) for row in rows]
    codes = {c for _, r in parsed if isinstance(r, ResponseRule) for c in r.filters.units}
    paths: dict[str, str] = {}
    if codes:
        found = await session.execute(
            select(Unit.code, Unit.path).where(Unit.tenant_id == tenant_id, Unit.code.in_(codes))
        )
        paths = {code: path for code, path in found}
    return [
        compile_rule(row.id, row.version, row.name, rule, paths)
        for row, rule in parsed
        if isinstance(rule, ResponseRule)
    ]


async def tenant_config(session: AsyncSession, tenant_id: str) -> TenantConfig:
    """The tenant's enabled response rules, compiled, and its webhook subscriptions."""
    version = (
        await session.execute(
            select(AlertConfigVersion.version).where(AlertConfigVersion.tenant_id == tenant_id)
        )
    ).scalar() or 0
    cached = _cache.get(tenant_id)
    if cached is not None and cached.version == version:
        return cached
    rows = list(
        (
            await session.execute(
                select(AlertRule)
                .where(AlertRule.tenant_id == tenant_id, AlertRule.kind == "response", AlertRule.enabled)
                .order_by(AlertRule.id)
            )
        )
        .scalars()
        .all()
    )
    compiled = await compile_rows(session, tenant_id, rows)
    hooks = await session.execute(
        select(Webhook.id, Webhook.events).where(Webhook.tenant_id == tenant_id, Webhook.enabled)
    )
    config = TenantConfig(
        version=version,
        rules=tuple(compiled),
        webhooks=tuple((hook_id, frozenset(events)) for hook_id, events in hooks),
        needs_contact=any(r.needs_contact for r in compiled),
        needs_text=any(r.needs_text for r in compiled),
        needs_unit_path=any(r.unit_paths for r in compiled),
    )
    _cache[tenant_id] = config
    return config
