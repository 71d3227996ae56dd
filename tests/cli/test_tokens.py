"""``cxloop tokens``."""

from __future__ import annotations

from sqlalchemy import select

from cxloop.identity.models import ApiToken, AuditEvent
from tests.cli.conftest import Cli, flat
from tests.cli.test_users import _query, _rows
from tests.factories import Org


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_create_prints_the_token_alone_on_the_last_line(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    result = cli.ok("tokens", "create", "--email", "store@acme.test", "--name", "my laptop")
    token = result.stdout.splitlines()[-1]
    assert result.stdout == token + "\n"
    assert token.startswith("cxl_")
    token_id = token.split("_")[1]
    assert result.stderr == (
        f"token {token_id} for store@acme.test; scopes read, write; expires never.\n"
        "Store it now: it is shown only this once.\n"
    )
    me = client.get("/api/v1/me", headers=bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "store@acme.test"
    assert me.json()["scope"] == {"everywhere": False, "unit_codes": ["SH001"]}
    assert me.json()["token"]["name"] == "my laptop"
    [(action, actor, details)] = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(AuditEvent.action, AuditEvent.actor_label, AuditEvent.details).where(
            AuditEvent.target_id == token_id
        ),
    )
    assert (action, actor) == ("token.created", "cli")
    assert details["scopes"] == ["read", "write"]


def test_scopes_and_expiry(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    token = cli.ok("tokens", "create", "--email", "admin@acme.test", "--scope", "read", "--expires-days", "7")
    me = client.get("/api/v1/me", headers=bearer(token.stdout.splitlines()[-1])).json()
    assert me["token"]["scopes"] == ["read"]
    assert me["token"]["expires_at"] is not None
    assert "; scopes read; expires 20" in token.stderr
    denied = client.post(
        "/api/v1/units",
        headers=bearer(token.stdout.splitlines()[-1]),
        json={"code": "X1", "name": "x", "parent_code": "HQ"},
    )
    assert denied.status_code == 403


def test_create_refusals(cli: Cli, org: Org) -> None:
    cases = [
        (
            ["--email", "store@acme.test", "--scope", "admin"],
            2,
            "error: The scope 'admin' exceeds what the role allows.\n",
        ),
        (["--email", "nobody@acme.test"], 1, "error: No such user.\n"),
        ([], 2, "error: give either --email (a person's token) or --service NAME (a service token)\n"),
        (
            ["--email", "store@acme.test", "--service", "bi"],
            2,
            "error: give either --email (a person's token) or --service NAME (a service token)\n",
        ),
        (
            ["--email", "store@acme.test", "--role", "admin"],
            2,
            "error: --role and --unit are for service tokens; a person's token acts with the person's role\n",
        ),
        (["--service", "bi"], 2, "error: a service token needs --role\n"),
        (["--service", "bi", "--role", "analyst"], 2, "error: A analyst service token needs a unit.\n"),
        (["--service", "bi", "--role", "analyst", "--unit", "NOPE"], 2, "error: No unit with code 'NOPE'.\n"),
        (
            ["--service", "bi", "--role", "analyst", "--unit", "EAST", "--scope", "write"],
            2,
            "error: The scope 'write' exceeds what the role allows.\n",
        ),
    ]
    for args, code, message in cases:
        result = cli("tokens", "create", *args)
        assert (result.exit_code, result.stderr, result.stdout) == (code, message, ""), args
    never = cli("tokens", "create", "--email", "store@acme.test", "--expires-days", "0")
    assert never.exit_code == 2
    assert "Invalid value for '--expires-days': Input should be greater than or equal to 1" in flat(
        never.stderr
    )
    bad_scope = cli("tokens", "create", "--email", "store@acme.test", "--scope", "root")
    assert bad_scope.exit_code == 2
    assert "Invalid value for '--scope'" in flat(bad_scope.stderr)
    cli("users", "disable", "--email", "east@acme.test")
    disabled = cli("tokens", "create", "--email", "east@acme.test")
    assert (disabled.exit_code, disabled.stderr) == (2, "error: This account is disabled.\n")
    # Only the tokens made by the factory exist.
    assert len(_query(str(cli.env["CXLOOP_DATABASE_URL"]), select(ApiToken.id))) == 6


def test_service_token(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    result = cli.ok("tokens", "create", "--service", "bi-export", "--role", "analyst", "--unit", "EAST")
    assert "for service bi-export (analyst at EAST); scopes read;" in result.stderr
    me = client.get("/api/v1/me", headers=bearer(result.stdout.splitlines()[-1])).json()
    assert (me["kind"], me["name"], me["scope"]) == (
        "service",
        "bi-export",
        {"everywhere": False, "unit_codes": ["EAST"]},
    )


def test_list_and_revoke(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    token = cli.ok(
        "tokens", "create", "--email", "analyst@acme.test", "--name", "sheets"
    ).stdout.splitlines()[-1]
    token_id = token.split("_")[1]
    mine = _rows(cli.ok("tokens", "list", "--email", "analyst@acme.test").stdout)
    assert [r[1:4] for r in mine] == [
        ["tests", "analyst@acme.test", "read"],
        ["sheets", "analyst@acme.test", "read"],
    ]
    assert mine[1][0] == token_id
    assert mine[1][-1] == "active"
    assert len(_rows(cli.ok("tokens", "list").stdout)) == 7

    assert cli.ok("tokens", "revoke", token_id).stdout == f"revoked token {token_id} (sheets)\n"
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401
    assert token_id not in cli.ok("tokens", "list").stdout
    revoked = [r for r in _rows(cli.ok("tokens", "list", "--all").stdout) if r[0] == token_id]
    assert revoked[0][-1] == "revoked"
    again = cli.ok("tokens", "revoke", token_id)
    assert again.stderr == f"token {token_id} was already revoked\n"
    events = _query(
        str(cli.env["CXLOOP_DATABASE_URL"]),
        select(AuditEvent.action, AuditEvent.actor_label).where(AuditEvent.action == "token.revoked"),
    )
    assert [tuple(e) for e in events] == [("token.revoked", "cli")]


def test_revoke_by_the_token_itself(cli: Cli, org: Org, client) -> None:  # type: ignore[no-untyped-def]
    assert cli.ok("tokens", "revoke", org.tokens["agent"]).stdout.startswith("revoked token ")
    assert client.get("/api/v1/me", headers=org.auth("agent")).status_code == 401
    assert client.get("/api/v1/me", headers=org.auth("east")).status_code == 200


def test_revoke_unknown_token(cli: Cli, org: Org) -> None:
    for wanted in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "x" * 300, "cxl_nope_secret"):
        result = cli("tokens", "revoke", wanted)
        assert (result.exit_code, result.stderr) == (1, "error: No such token.\n"), wanted
    other = cli("tokens", "revoke", org.tokens["agent"].split("_")[1], "--tenant", "nope")
    assert (other.exit_code, other.stderr) == (1, "error: No tenant 'nope'.\n")
    assert revoked_count(cli) == 0


def revoked_count(cli: Cli) -> int:
    return len(
        _query(
            str(cli.env["CXLOOP_DATABASE_URL"]), select(ApiToken.id).where(ApiToken.revoked_at.is_not(None))
        )
    )
