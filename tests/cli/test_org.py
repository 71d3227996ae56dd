"""``cxloop tenants`` and ``cxloop units``."""

from __future__ import annotations

from tests.cli.conftest import Cli
from tests.factories import Org


def test_quick_start_on_an_empty_database(empty_cli: Cli, app_for) -> None:  # type: ignore[no-untyped-def]
    """The documented first steps work with nothing else done before."""
    assert "(head)" in empty_cli.ok("db", "upgrade").output
    assert empty_cli.ok("units", "create", "--code", "HQ", "--name", "总部").output == (
        "created unit HQ (总部) as the root\n"
    )
    created = empty_cli.ok(
        "users",
        "create",
        "--email",
        "Boss@Example.com",
        "--role",
        "admin",
        env={"CXLOOP_PASSWORD": "a-long-password"},
    )
    assert created.output == "created user boss@example.com (admin)\n"
    token = empty_cli.ok("tokens", "create", "--email", "boss@example.com").stdout.splitlines()[-1]
    with app_for(empty_cli) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "boss@example.com"
    assert me.json()["tenant"]["slug"] == "default"
    assert me.json()["scope"] == {"everywhere": True, "unit_codes": []}


def test_units_list_shows_the_tree(cli: Cli, org: Org) -> None:
    result = cli.ok("units", "list")
    assert result.stdout == (
        "Acme Retail (acme)\n"
        "└── HQ  总部 / Head office  [hq]\n"
        "    ├── EAST  华东区 / East  [region, 2 people]\n"
        "    │   └── SH  上海 / Shanghai  [city]\n"
        "    │       ├── SH001  上海南京路店 / Shanghai Nanjing Rd  [store, 2 people]\n"
        "    │       └── SH002  上海徐家汇店 / Shanghai Xujiahui  [store]\n"
        "    └── SOUTH  华南区 / South  [region]\n"
        "        └── GZ  广州 / Guangzhou  [city]\n"
        "            └── GZ001  广州天河店 / Guangzhou Tianhe  [store]\n"
        "8 unit(s)\n"
    )


def test_units_list_subtree_in_english(cli: Cli, org: Org) -> None:
    result = cli.ok("units", "list", "--under", "SOUTH", "--locale", "en")
    assert result.stdout == (
        "Acme Retail (acme)\n"
        "└── SOUTH  South / 华南区  [region]\n"
        "    └── GZ  Guangzhou / 广州  [city]\n"
        "        └── GZ001  Guangzhou Tianhe / 广州天河店  [store]\n"
        "3 unit(s)\n"
    )
    missing = cli("units", "list", "--under", "NOPE")
    assert missing.exit_code == 2
    assert missing.stderr == "error: No unit with code 'NOPE'.\n"


def test_units_create_with_every_option(cli: Cli, org: Org) -> None:
    result = cli.ok(
        "units",
        "create",
        "--code",
        "GZ002",
        "--name",
        "广州北京路店",
        "--name-en",
        "Guangzhou Beijing Rd",
        "--parent",
        "GZ",
        "--kind",
        "store",
        "--timezone",
        "Asia/Urumqi",
    )
    assert result.output == "created unit GZ002 (广州北京路店) under GZ\n"
    assert "GZ002  广州北京路店 / Guangzhou Beijing Rd  [store]" in cli.ok("units", "list").stdout


def test_units_create_refusals_leave_nothing_behind(cli: Cli, org: Org) -> None:
    cases = [
        (
            ["--code", "SH001", "--name", "重复", "--parent", "SH"],
            1,
            "error: A unit with code 'SH001' already exists.\n",
        ),
        (["--code", "X1", "--name", "某店", "--parent", "NOPE"], 2, "error: No unit with code 'NOPE'.\n"),
        (
            ["--code", "X1", "--name", "根"],
            2,
            "error: The organisation already has a root unit; give the parent's code.\n",
        ),
        (
            ["--code", "bad code", "--name", "某店", "--parent", "SH"],
            2,
            "error: A code has 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.\n",
        ),
        (
            ["--code", "X1", "--name", "某店", "--parent", "SH", "--timezone", "Mars/Olympus"],
            2,
            "error: Unknown time zone 'Mars/Olympus'; use an IANA name such as Asia/Shanghai.\n",
        ),
        (
            ["--code", "X1", "--name", "   ", "--parent", "SH"],
            2,
            "error: A name needs 1 to 200 characters.\n",
        ),
    ]
    for args, code, message in cases:
        result = cli("units", "create", *args)
        assert (result.exit_code, result.stderr) == (code, message), args
    assert cli.ok("units", "list").stdout.endswith("8 unit(s)\n")


def test_missing_required_option_is_a_usage_error(cli: Cli) -> None:
    result = cli("units", "create", "--code", "HQ")
    assert result.exit_code == 2
    assert "Missing option '--name'" in result.stderr


def test_tenants_create_and_list(cli: Cli, org: Org) -> None:
    assert cli.ok("tenants", "create", "--slug", "beta", "--name", "Beta Foods", "--locale", "en").output == (
        "created tenant beta (Beta Foods)\n"
    )
    table = cli.ok("tenants", "list").stdout
    lines = [line for line in table.splitlines() if "acme" in line or "beta" in line]
    assert [line.split("│")[1:-1] for line in lines] == [
        [" acme ", " Acme Retail ", " zh-CN  ", " Asia/Shanghai ", " 8     ", " 6     "],
        [" beta ", " Beta Foods  ", " en     ", " Asia/Shanghai ", " 0     ", " 0     "],
    ]


def test_several_tenants_need_the_tenant_option(cli: Cli, org: Org) -> None:
    cli.ok("tenants", "create", "--slug", "beta", "--name", "Beta Foods")
    ambiguous = cli("units", "list")
    assert ambiguous.exit_code == 1
    assert ambiguous.stderr == "error: Several tenants exist; say which with --tenant.\n"
    assert (
        cli.ok("units", "list", "--tenant", "beta").stdout
        == "Beta Foods (beta)\n└── no units yet\n0 unit(s)\n"
    )
    cli.ok("units", "create", "--tenant", "beta", "--code", "HQ", "--name", "总部")
    assert "HQ  总部" in cli.ok("units", "list", "--tenant", "beta").stdout
    unknown = cli("units", "list", "--tenant", "nope")
    assert (unknown.exit_code, unknown.stderr) == (1, "error: No tenant 'nope'.\n")


def test_tenants_create_refusals(cli: Cli, org: Org) -> None:
    cases = [
        (["--slug", "acme", "--name", "Again"], 1, "error: Tenant 'acme' exists already.\n"),
        (
            ["--slug", "Not OK", "--name", "X"],
            2,
            "error: A slug has 1-63 lower-case letters, digits or '-'.\n",
        ),
        (
            ["--slug", "x", "--name", "X", "--timezone", "Nowhere"],
            2,
            "error: Unknown time zone 'Nowhere'; use an IANA name such as Asia/Shanghai.\n",
        ),
    ]
    for args, code, message in cases:
        result = cli("tenants", "create", *args)
        assert (result.exit_code, result.stderr) == (code, message), args
    bad_locale = cli("tenants", "create", "--slug", "x", "--name", "X", "--locale", "fr")
    assert bad_locale.exit_code == 2
    assert "Invalid value for '--locale'" in bad_locale.stderr
    assert cli.ok("tenants", "list").stdout.count("│ acme") == 1
    assert " x " not in cli.ok("tenants", "list").stdout


def test_commands_on_a_database_without_schema(empty_cli: Cli) -> None:
    result = empty_cli("units", "list")
    assert result.exit_code == 1
    assert result.stderr == "error: the database has no schema yet; run `cxloop db upgrade` first\n"
