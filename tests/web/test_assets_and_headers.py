"""Static assets come from this server only; HTML carries security headers."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from cxloop.web import create_app
from tests.factories import Org

EXTERNAL = re.compile(r'(?:src|href|action)="(?:https?:)?//', re.IGNORECASE)


def test_html_responses_carry_the_security_headers(client: TestClient) -> None:
    for path in ("/login", "/no-such-page"):
        response = client.get(path)
        assert response.headers["content-security-policy"].startswith(
            "default-src 'self'; script-src 'self';"
        )
        assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"
    api = client.get("/healthz")
    assert "content-security-policy" not in api.headers
    assert api.headers["x-content-type-options"] == "nosniff"


def test_pages_have_no_inline_script_and_load_nothing_from_other_hosts(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("admin")
    for path in ("/", "/tokens", "/audit", "/login"):
        html = client.get(path).text
        assert not EXTERNAL.search(html), path
        assert re.findall(r"<script[^>]*>", html) == [
            '<script src="/static/vendor/htmx.min.js" defer>',
            '<script src="/static/cxloop.js?v=0.1.0" defer>',
        ]
        assert " style=" not in html and "<style" not in html
        assert 'hx-headers=\'{"X-CSRF-Token": "' in html


def test_htmx_header_token_passes_the_api_csrf_check(signed_in) -> None:  # type: ignore[no-untyped-def]
    client = signed_in("store")
    html = client.get("/").text
    token = re.search(r'"X-CSRF-Token": "([0-9a-f]+)"', html)
    assert token
    without = client.patch("/api/v1/me", json={"name": "Store Two"})
    assert without.status_code == 403 and without.json()["code"] == "csrf_failed"
    with_token = client.patch(
        "/api/v1/me", json={"name": "Store Two"}, headers={"X-CSRF-Token": token.group(1)}
    )
    assert with_token.status_code == 200, with_token.text
    assert with_token.json()["name"] == "Store Two"


def test_own_and_vendor_assets_are_served_locally(client: TestClient) -> None:
    css = client.get("/static/cxloop.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/cxloop.js")
    assert js.status_code == 200
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and htmx.headers["content-type"].startswith("text/javascript")
    assert "htmx" in htmx.text[:2000]
    assert client.get("/static/vendor/echarts.min.js").status_code == 200
    assert client.get("/static/vendor/package.json").status_code == 404
    assert client.get("/static/vendor/..%2F..%2Fpackage.json").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_without_node_modules_vendor_files_404_and_pages_still_work(
    settings, tmp_path: Path, org: Org
) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "no-assets"
    empty.mkdir()
    with TestClient(create_app(settings.model_copy(update={"assets_dir": empty}))) as client:
        assert client.get("/static/vendor/htmx.min.js").status_code == 404
        assert client.get("/login").status_code == 200
        assert client.get("/static/cxloop.css").status_code == 200
