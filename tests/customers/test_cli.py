"""``cxloop import contacts FILE`` and ``cxloop contacts reencrypt`` (key rotation)."""

from __future__ import annotations

import base64
from pathlib import Path

from fastapi.testclient import TestClient

from cxloop.kit.settings import Settings
from tests.cli.conftest import Cli, cli  # noqa: F401  (the fixture)
from tests.customers.support import make_contact, rows, written
from tests.factories import Org

CSV = "email,phone,name,unit\na@example.com,13800138000,甲,SH001\nbad,13800138001,乙,SH001\n"


def _same_keys(settings: Settings, **extra: str) -> dict[str, str | None]:
    # The CLI must use the app's keys: the same key file and the secret the blind index derives from.
    return {"CXLOOP_DATA_DIR": str(settings.data_dir), "CXLOOP_SECRET_KEY": settings.secret_key, **extra}


def test_import_contacts_all_or_nothing_then_skip(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(CSV.encode("gb18030"))
    before = written(database_url)
    refused = cli("import", "contacts", str(path), env=_same_keys(settings))
    assert refused.exit_code == 2, refused.output
    assert refused.stderr == (
        "2 rows, 4 columns\n"
        "row 3, column email: 'bad' is not a valid email address (An email address must have an @-sign.)\n"
        "error: 1 problem(s); nothing was imported\n"
    )
    assert written(database_url) == before
    dry = cli("import", "contacts", str(path), "--dry-run", "--skip-bad-rows", env=_same_keys(settings))
    assert dry.exit_code == 1 and "dry run: 1 of 2 rows are valid" in dry.stdout
    assert written(database_url) == before
    done = cli("import", "contacts", str(path), "--skip-bad-rows", env=_same_keys(settings))
    assert done.exit_code == 1, done.output
    assert done.stdout == "imported: 1 created, 0 updated, 1 skipped\n"
    found = client.get(
        "/api/v1/contacts", params={"kind": "email", "value": "a@example.com"}, headers=org.auth("cx")
    )
    [contact] = found.json()["items"]
    assert (contact["name"], contact["phone"], contact["unit_code"]) == ("甲", "+8613800138000", "SH001")
    missing = cli("import", "contacts", str(tmp_path / "nope.csv"), env=_same_keys(settings))
    assert missing.exit_code == 2


def test_reencrypt_moves_every_value_to_the_new_key(
    cli: Cli,  # noqa: F811
    client: TestClient,
    org: Org,
    settings: Settings,
    database_url: str,
) -> None:
    made = make_contact(client, org, identities={"email": "r@example.com", "phone": "13700137000"}, name="丙")
    old = (settings.data_dir / "field.keys").read_text().strip()
    assert old.startswith("k1:")
    new = "k2:" + base64.urlsafe_b64encode(b"\x07" * 32).decode()
    ring = _same_keys(settings, CXLOOP_FIELD_KEYS=f"{new},{old}")
    counted = cli("contacts", "reencrypt", "--dry-run", env=ring)
    assert counted.exit_code == 0 and counted.stdout == "3 value(s) are sealed with an older key\n"
    done = cli("contacts", "reencrypt", env=ring)
    assert done.exit_code == 0, done.output
    assert done.stdout == "re-encrypted 3 row(s) with key k2\n"
    stored = rows(database_url, "SELECT value_enc FROM contact_identities") + rows(
        database_url, "SELECT name_enc FROM contacts"
    )
    assert all(str(value).startswith("k2:") for (value,) in stored)
    # With only the new key, everything still reads, and lookups still find the contact.
    only_new = _same_keys(settings, CXLOOP_FIELD_KEYS=new)
    again = cli("contacts", "reencrypt", "--dry-run", env=only_new)
    assert again.stdout == "0 value(s) are sealed with an older key\n"
    bad = cli("contacts", "reencrypt", env=_same_keys(settings, CXLOOP_FIELD_KEYS="k3:short"))
    assert bad.exit_code == 2
    from cxloop.customers import crypto

    crypto.configure(settings.model_copy(update={"field_keys": new}))
    fetched = client.get(f"/api/v1/contacts/{made['id']}", headers=org.auth("cx")).json()
    assert fetched["name"] == "丙"
    assert sorted(i["value"] for i in fetched["identities"]) == ["+8613700137000", "r@example.com"]
