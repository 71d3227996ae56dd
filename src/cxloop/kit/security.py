"""Password hashing and secret tokens.

argon2 costs ~180 ms per hash by design, so callers on the event loop run
it in a thread (``hash_password_async``/``verify_password_async``).
Tokens are random and high-entropy, so a plain SHA-256 is the right store:
it is fast to check on every request and useless to an attacker with a dump.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the account does not exist, so that a failed
    login takes as long for an unknown email as for a wrong password. Made on
    first use: hashing at import would slow every CLI command."""
    return str(_hasher.hash("cxloop-timing-equaliser"))


TOKEN_PREFIX = "cxl"  # noqa: S105 - a public marker, not a secret


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash or _dummy_hash(), password)) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await run_in_threadpool(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    return await run_in_threadpool(verify_password, password_hash, password)


def new_token(public_id: str) -> str:
    """``cxl_<public id>_<secret>``: the id finds the row, the whole is hashed."""
    return f"{TOKEN_PREFIX}_{public_id}_{secrets.token_urlsafe(32)}"


def split_token(token: str) -> str | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1]


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def keyed_digest(key: str, value: str) -> str:
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
