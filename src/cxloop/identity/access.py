"""Roles, permissions and the scope funnel: who may do what, and where.

Every question "may this caller see or touch this?" is answered here, so it
is answered the same way everywhere. A principal holds grants (a role at a
unit, or tenant-wide); a permission is *reached* over the union of the
subtrees (or, for agents, the single units) of the grants whose role carries
it. Queries call ``unit_clause`` to apply that reach; single objects out of
reach raise the same NotFound as missing ones.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from cxloop.kit.errors import Forbidden


class Role(enum.StrEnum):
    ADMIN = "admin"
    CX_MANAGER = "cx_manager"
    UNIT_MANAGER = "unit_manager"
    AGENT = "agent"
    ANALYST = "analyst"


TENANT_WIDE_ROLES = frozenset({Role.ADMIN, Role.CX_MANAGER})


class Perm(enum.StrEnum):
    UNITS_READ = "units.read"
    UNITS_WRITE = "units.write"
    USERS_READ = "users.read"
    USERS_WRITE = "users.write"
    TOKENS_OWN = "tokens.own"
    TOKENS_ALL = "tokens.all"
    AUDIT_READ = "audit.read"
    CONFIG_WRITE = "config.write"
    DATA_READ = "data.read"
    DATA_WRITE = "data.write"
    CASES_WORK = "cases.work"
    SYSTEM = "system"


_READ_ONLY = {Perm.UNITS_READ, Perm.USERS_READ, Perm.DATA_READ, Perm.AUDIT_READ}
_ADMIN_ONLY = {Perm.USERS_WRITE, Perm.TOKENS_ALL, Perm.AUDIT_READ, Perm.SYSTEM}

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.CX_MANAGER: frozenset(
        {
            Perm.UNITS_READ,
            Perm.UNITS_WRITE,
            Perm.USERS_READ,
            Perm.TOKENS_OWN,
            Perm.CONFIG_WRITE,
            Perm.DATA_READ,
            Perm.DATA_WRITE,
            Perm.CASES_WORK,
        }
    ),
    Role.UNIT_MANAGER: frozenset(
        {Perm.UNITS_READ, Perm.USERS_READ, Perm.TOKENS_OWN, Perm.DATA_READ, Perm.DATA_WRITE, Perm.CASES_WORK}
    ),
    Role.AGENT: frozenset({Perm.UNITS_READ, Perm.TOKENS_OWN, Perm.DATA_READ, Perm.CASES_WORK}),
    Role.ANALYST: frozenset({Perm.UNITS_READ, Perm.USERS_READ, Perm.TOKENS_OWN, Perm.DATA_READ}),
}


class TokenScope(enum.StrEnum):
    """What a token may do, on top of what its user or service role may do."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


def scope_allows(scopes: frozenset[str], perm: Perm) -> bool:
    if TokenScope.ADMIN in scopes:
        return True
    if perm in _ADMIN_ONLY:
        return False
    if perm in _READ_ONLY:
        return TokenScope.READ in scopes or TokenScope.WRITE in scopes
    return TokenScope.WRITE in scopes


def scopes_for_role(role: Role) -> list[str]:
    """The most a token of this role can use: nothing beyond the role itself."""
    if role == Role.ADMIN:
        return [TokenScope.READ, TokenScope.WRITE, TokenScope.ADMIN]
    if role == Role.ANALYST:
        return [TokenScope.READ]
    return [TokenScope.READ, TokenScope.WRITE]


@dataclass(frozen=True)
class Grant:
    role: Role
    unit_id: str | None
    unit_path: str | None
    unit_code: str | None
    unit_names: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def tenant_wide(self) -> bool:
        return self.role in TENANT_WIDE_ROLES

    @property
    def subtree(self) -> bool:
        """Agents work their own unit; every other unit-bound role its subtree."""
        return self.role != Role.AGENT


@dataclass(frozen=True)
class Reach:
    """Where a permission applies: everywhere, or these subtrees and units."""

    everywhere: bool = False
    subtree_paths: tuple[str, ...] = ()
    unit_ids: tuple[str, ...] = ()

    @property
    def nowhere(self) -> bool:
        return not self.everywhere and not self.subtree_paths and not self.unit_ids

    def covers(self, unit_id: str | None, unit_path: str | None) -> bool:
        if self.everywhere:
            return True
        if unit_id is None or unit_path is None:
            return False
        return unit_id in self.unit_ids or any(unit_path.startswith(p) for p in self.subtree_paths)

    def unit_clause(self, unit_id_column: Any, unit_path_column: Any) -> ColumnElement[bool]:
        if self.everywhere:
            return true()
        clauses: list[ColumnElement[bool]] = [unit_path_column.startswith(p) for p in self.subtree_paths]
        if self.unit_ids:
            clauses.append(unit_id_column.in_(self.unit_ids))
        return or_(*clauses) if clauses else false()


@dataclass(frozen=True)
class TokenInfo:
    """What a caller may know about the token it is using (never the secret)."""

    id: str
    name: str
    kind: str
    scopes: tuple[str, ...]
    user_id: str | None
    service_role: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (by session or token) or a service token."""

    tenant_id: str
    kind: str  # "user" or "service"
    user_id: str | None
    token_id: str | None
    label: str
    name: str
    locale: str | None
    grants: tuple[Grant, ...]
    token_scopes: frozenset[str] | None = None
    ip: str | None = field(default=None, compare=False)
    tenant_slug: str = field(default="", compare=False)
    tenant_name: str = field(default="", compare=False)
    token: TokenInfo | None = field(default=None, compare=False)

    @functools.cached_property
    def _permissions(self) -> frozenset[Perm]:
        perms: set[Perm] = set()
        for grant in self.grants:
            perms |= ROLE_PERMISSIONS[grant.role]
        if self.token_scopes is not None:
            perms = {p for p in perms if scope_allows(self.token_scopes, p)}
        return frozenset(perms)

    def permissions(self) -> frozenset[Perm]:
        # Cached on the instance: a principal is immutable and asked often.
        return self._permissions

    @property
    def idempotency_owner(self) -> str:
        """Whose Idempotency-Keys these are: keys are scoped per credential."""
        return self.token_id or self.user_id or self.label

    @functools.cached_property
    def memo(self) -> dict[str, Any]:
        """Values derived from this (immutable, cached) principal, by key."""
        return {}

    def can(self, perm: Perm) -> bool:
        return perm in self.permissions()

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise Forbidden("Your role or token does not allow this action.", code="permission_denied")

    def require_writing_token(self) -> None:
        """Writes outside the permission table (one's own profile) still need a token that may write."""
        if self.token_scopes is not None and not self.token_scopes & {TokenScope.WRITE, TokenScope.ADMIN}:
            raise Forbidden("This token is read-only.", code="permission_denied")

    def reach(self, perm: Perm) -> Reach:
        if self.token_scopes is not None and not scope_allows(self.token_scopes, perm):
            return Reach()
        subtrees: list[str] = []
        units: list[str] = []
        for grant in self.grants:
            if perm not in ROLE_PERMISSIONS[grant.role]:
                continue
            if grant.tenant_wide:
                return Reach(everywhere=True)
            if grant.unit_id is None or grant.unit_path is None:
                continue
            if grant.subtree:
                subtrees.append(grant.unit_path)
            else:
                units.append(grant.unit_id)
        return Reach(subtree_paths=tuple(subtrees), unit_ids=tuple(units))

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(g.role for g in self.grants)
