"""Field encryption and blind indexes: key rings, associated data, rotation, tenant separation."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxloop.customers import crypto, find_contact
from cxloop.customers.crypto import FieldKeyError, build_keyring, parse_keys
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings
from tests.customers.support import make_contact
from tests.factories import Org, make_org, run
from tests.identity.support import assert_problem

K1 = "k1:" + base64.urlsafe_b64encode(b"\x01" * 32).decode()
K2 = "k2:" + base64.standard_b64encode(b"\x02" * 32).decode()


def ring(tmp_path: Path, keys: str | None, secret: str = "s" * 40) -> crypto.KeyRing:
    return build_keyring(Settings(data_dir=tmp_path, field_keys=keys, secret_key=secret))


def test_values_name_their_key_and_decrypt_only_in_their_place(tmp_path: Path) -> None:
    old = ring(tmp_path, K1)
    sealed = old.encrypt("13800138000", "t1/contact_identities/value")
    assert sealed.startswith("k1:") and "13800138000" not in sealed
    assert old.encrypt("13800138000", "t1/contact_identities/value") != sealed  # a fresh nonce each time
    assert old.decrypt(sealed, "t1/contact_identities/value") == "13800138000"
    with pytest.raises(FieldKeyError):
        old.decrypt(sealed, "t2/contact_identities/value")  # another tenant's row
    with pytest.raises(FieldKeyError):
        old.decrypt(sealed, "t1/contacts/name")  # another column
    rotated = ring(tmp_path, f"{K2},{K1}")
    assert rotated.active_id == "k2"
    assert rotated.decrypt(sealed, "t1/contact_identities/value") == "13800138000"
    assert rotated.encrypt("x", "a").startswith("k2:")
    with pytest.raises(FieldKeyError):
        ring(tmp_path, K2).decrypt(sealed, "t1/contact_identities/value")
    # The blind index does not depend on the field keys, only on the blind key.
    assert old.blind("t1", "phone", "+86") == rotated.blind("t1", "phone", "+86")
    assert old.blind("t1", "phone", "+86") != old.blind("t2", "phone", "+86")
    assert old.blind("t1", "phone", "+86") != ring(tmp_path, K1, secret="other" * 10).blind(
        "t1", "phone", "+86"
    )


def test_key_specs_are_checked(tmp_path: Path) -> None:
    for bad in (
        "",
        "k1",
        "k1:!!!",
        "k1:" + base64.b64encode(b"short").decode(),
        f"{K1},{K1}",
        "k-1:" + K1[3:],
    ):
        with pytest.raises(FieldKeyError):
            parse_keys(bad)
    generated = ring(tmp_path / "fresh", None)
    assert (tmp_path / "fresh" / "field.keys").read_text().startswith("k1:")
    assert ring(tmp_path / "fresh", None).keys == generated.keys  # made once, then read


def test_tenants_do_not_see_each_others_contacts(client: TestClient, org: Org, database_url: str) -> None:
    other = make_org(database_url, slug="beta", email_domain="beta.test")
    mine = make_contact(client, org, identities={"email": "same@example.com"})
    theirs = make_contact(client, other, identities={"email": "same@example.com"})
    assert mine["id"] != theirs["id"]
    assert_problem(
        client.get(f"/api/v1/contacts/{theirs['id']}", headers=org.auth("cx")), 404, "contact_not_found"
    )

    async def lookup(tenant_id: str) -> str | None:
        db = Database(database_url)
        try:
            async with db.session(write=False) as session:
                return await find_contact(session, tenant_id, "email", "SAME@example.com")
        finally:
            await db.dispose()

    assert run(lookup(org.tenant_id)) == mine["id"]
    assert run(lookup(other.tenant_id)) == theirs["id"]
