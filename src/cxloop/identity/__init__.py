"""Identity: tenants, the unit tree, users, roles, tokens, the scope funnel
and the audit log. Other packages import only what is listed here.
"""

from cxloop.identity.access import TENANT_WIDE_ROLES, Grant, Perm, Principal, Reach, Role, TokenScope
from cxloop.identity.audit import Actor, AuditAction, record
from cxloop.identity.auth import SESSION_COOKIE, CurrentPrincipal, OptionalPrincipal, client_ip
from cxloop.identity.logins import purge_expired as purge_expired_logins
from cxloop.identity.models import ApiToken, AuditEvent, Membership, Tenant, Unit, User, UserSession
from cxloop.identity.principals import AUTH_CHANNEL, WATCHED_AUTH_STATE, use_change_watcher
from cxloop.identity.routes import router
from cxloop.identity.unit_edits import rename_unit
from cxloop.identity.units import display_name, get_unit_by_code, visible_unit

__all__ = [
    "AUTH_CHANNEL",
    "SESSION_COOKIE",
    "TENANT_WIDE_ROLES",
    "WATCHED_AUTH_STATE",
    "Actor",
    "ApiToken",
    "AuditAction",
    "AuditEvent",
    "CurrentPrincipal",
    "Grant",
    "Membership",
    "OptionalPrincipal",
    "Perm",
    "Principal",
    "Reach",
    "Role",
    "Tenant",
    "TokenScope",
    "Unit",
    "User",
    "UserSession",
    "client_ip",
    "display_name",
    "get_unit_by_code",
    "purge_expired_logins",
    "record",
    "rename_unit",
    "router",
    "use_change_watcher",
    "visible_unit",
]
