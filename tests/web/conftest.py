"""Helpers for page tests: passwords for the factory's people, signing in
through the real form, and reading rows back to check what was (not) saved."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import create_engine, text, update

from cxloop.identity.models import User
from cxloop.kit.security import hash_password
from tests.factories import Org, make_org

PASSWORD = "correct-horse-battery"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def in_thread(function: Any, *args: Any) -> Any:
    """Run set-up code that calls asyncio.run away from any running loop
    (Playwright's sync API keeps one running in the test's thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


@pytest.fixture
def org(database_url: str) -> Org:
    return in_thread(make_org, database_url)


def set_password(database_url: str, email: str, password: str = PASSWORD) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(User).where(User.email == email).values(password_hash=hash_password(password))
            )
    finally:
        engine.dispose()


def scalar(database_url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD, **extra: str) -> Any:
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


@pytest.fixture
def signed_in(client: Any, org: Org, database_url: str) -> Any:
    """Sign ``who`` in on the shared client; returns the client."""

    def as_user(who: str) -> Any:
        email = f"{who}@acme.test"
        set_password(database_url, email)
        response = sign_in(client, email)
        assert response.status_code == 303, response.text
        return client

    return as_user
