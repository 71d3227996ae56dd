"""The app talks to nothing but this machine: every connection and name
lookup made while pages and API calls run must be to a loopback address."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from tests.web.conftest import csrf_from

LOCAL_NAMES = {"localhost", "testserver"}


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return True  # AF_UNIX paths and the like
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def destination(address: Any) -> None:
        if isinstance(address, tuple) and not _is_loopback(address[0]):
            seen.append(f"connect {address[0]}:{address[1]}")

    def connect(self: socket.socket, address: Any) -> Any:
        destination(address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        destination(address)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            seen.append(f"lookup {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


def test_pages_and_api_make_no_outbound_connection(outbound: list[str], signed_in, org) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    for path in (
        "/",
        "/tokens",
        "/audit",
        "/login",
        "/static/cxloop.css",
        "/static/vendor/htmx.min.js",
        "/openapi.json",
        "/healthz",
        "/no-such-page",
    ):
        assert client.get(path).status_code in (200, 404), path
    token = csrf_from(client.get("/tokens").text)
    assert (
        client.post("/tokens", data={"csrf_token": token, "name": "n", "scopes": ["read"]}).status_code == 201
    )
    for path in ("/api/v1/me", "/api/v1/units", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit-events"):
        assert client.get(path, headers=org.auth("admin")).status_code == 200, path
    created = client.post(
        "/api/v1/units", headers=org.auth("admin"), json={"code": "BJ", "name": "北京", "parent_code": "HQ"}
    )
    assert created.status_code == 201
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert outbound == []


def test_the_guard_does_see_outbound_attempts(outbound: list[str]) -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.01)
    try:
        probe.connect_ex(("192.0.2.1", 9))  # TEST-NET-1: documentation only, never routed
    finally:
        probe.close()
    assert outbound == ["connect 192.0.2.1:9"]
