"""Where a webhook may send: the guard against server-side request forgery.

A webhook makes the cxloop server send requests to an address a tenant
administrator chose. Unless the operator allows it
(``CXLOOP_WEBHOOK_PRIVATE_TARGETS=true``, e.g. for receivers inside their own
network), that address must be public: a loopback, private, link-local
(cloud metadata at 169.254.169.254), multicast or reserved address would let
a tenant probe or call the operator's internal services. The host is
resolved when the webhook is created and again before every delivery, so a
name that later resolves to an internal address (DNS rebinding) is refused
too; the remaining window between that check and the connection is closed
only by an egress firewall, which the operations guide recommends.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from cxloop.kit.settings import get_settings


def static_refusal(url: str) -> str | None:
    """What is wrong with the URL itself, before any name is resolved."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http or https URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password; receivers check the signature instead"
    return None


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def target_refusal(url: str) -> str | None:
    """Why this URL may not receive webhooks now, or None when it may."""
    refused = static_refusal(url)
    if refused is not None or get_settings().webhook_private_targets:
        return refused
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return f"the host {host!r} does not resolve"
    for *_, address in found:
        if _not_public(str(address[0])):
            return (
                f"the host {host!r} resolves to {address[0]}, a private, loopback or link-local address; "
                "the operator can allow such receivers with CXLOOP_WEBHOOK_PRIVATE_TARGETS=true"
            )
    return None
