"""Field encryption (AES-256-GCM) and blind indexes (HMAC-SHA256): the key ring.

Personal fields (the contact directory) and configuration secrets (webhook
signing secrets, notification and distribution channel settings) are sealed
with the same ring; kit/sealed.py keeps the list of sealed columns that key
rotation re-encrypts. A stored value is
``<key id>:<base64url(nonce || ciphertext || tag)>``; the associated data binds
it to ``tenant/table/column`` (and the row, for configuration secrets), so a
ciphertext copied into another tenant's row or another column does not
decrypt. Lookups use a keyed hash of the normalised value under a separate key,
so a database dump shows neither the values nor (without the key) a way to
test guesses. See docs/adr/0014-field-encryption-and-blind-index.md and
docs/adr/0032-configuration-secrets-sealed-with-the-field-keys.md.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cxloop.kit.settings import Settings, get_settings

KEY_FILE = "field.keys"
NONCE_BYTES = 12


class FieldKeyError(Exception):
    """A key ring that cannot be built, or a value no key opens."""


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """``"k2:base64,k1:base64"`` -> [(id, 32-byte key)], the first being active."""
    keys: list[tuple[str, bytes]] = []
    for given in spec.split(","):
        part = given.strip()
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        if not sep or not key_id.isalnum() or len(key_id) > 16:
            raise FieldKeyError(f"field key {part[:8]!r}...: expected <id>:<base64>")
        try:
            raw = _b64decode(encoded)
        except (binascii.Error, ValueError) as exc:
            raise FieldKeyError(f"field key {key_id}: not base64") from exc
        if len(raw) != 32:
            raise FieldKeyError(f"field key {key_id}: needs 32 bytes, has {len(raw)}")
        if any(known == key_id for known, _ in keys):
            raise FieldKeyError(f"field key {key_id} is listed twice")
        keys.append((key_id, raw))
    if not keys:
        raise FieldKeyError("no field keys")
    return keys


def new_key_spec(key_id: str = "k1") -> str:
    return f"{key_id}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}"


def _key_file_spec(data_dir: Path) -> str:
    """Like Settings.effective_secret_key: generated once, shared through the file."""
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x") as handle:
            handle.write(new_key_spec())
        path.chmod(0o600)
    except FileExistsError:
        pass
    return path.read_text().strip()


@dataclass(frozen=True)
class KeyRing:
    keys: tuple[tuple[str, bytes], ...]
    blind_key: bytes

    @property
    def active_id(self) -> str:
        return self.keys[0][0]

    def _aead(self, key_id: str) -> AESGCM:
        for known, raw in self.keys:
            if known == key_id:
                return AESGCM(raw)
        raise FieldKeyError(f"no field key {key_id!r} is configured")

    def encrypt(self, value: str, aad: str) -> str:
        key_id, raw = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(raw).encrypt(nonce, value.encode(), aad.encode())
        return f"{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, stored: str, aad: str) -> str:
        key_id, _, encoded = stored.partition(":")
        try:
            blob = _b64decode(encoded)
            plain = self._aead(key_id).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise FieldKeyError("a stored value does not decrypt with its key") from exc
        return plain.decode()

    def key_id_of(self, stored: str) -> str:
        return stored.partition(":")[0]

    def blind(self, tenant_id: str, kind: str, normalised: str) -> str:
        message = f"{tenant_id}\x1f{kind}\x1f{normalised}".encode()
        return hmac.new(self.blind_key, message, hashlib.sha256).hexdigest()


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"cxloop", info=info).derive(secret)


def build_keyring(settings: Settings) -> KeyRing:
    spec = settings.field_keys or _key_file_spec(settings.data_dir)
    keys = parse_keys(spec)
    if settings.blind_index_key:
        try:
            blind_secret = _b64decode(settings.blind_index_key)
        except (binascii.Error, ValueError) as exc:
            raise FieldKeyError("CXLOOP_BLIND_INDEX_KEY is not base64") from exc
    else:
        # Derived from the secret key, not from a field key: rotating field
        # keys must not change every lookup hash.
        blind_secret = settings.effective_secret_key().encode()
    return KeyRing(tuple(keys), _derive(blind_secret, b"cxloop blind index v1"))


_ring: KeyRing | None = None


def configure(settings: Settings) -> KeyRing:
    """Use this installation's keys (the app's lifespan, CLI commands, tests)."""
    global _ring
    _ring = build_keyring(settings)
    return _ring


def keyring() -> KeyRing:
    """The configured ring; a worker process without an app builds it from the environment."""
    global _ring
    if _ring is None:
        _ring = build_keyring(get_settings())
    return _ring


def aad(tenant_id: str, table: str, column: str, row_id: str | None = None) -> str:
    """The associated data: a value opens only in its tenant, table and column (and row, when given)."""
    place = f"{tenant_id}/{table}/{column}"
    return place if row_id is None else f"{place}/{row_id}"
