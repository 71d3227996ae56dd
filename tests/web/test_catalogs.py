"""Every text the pages show has a Chinese translation, and the catalogs parse."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from cxloop.web.i18n import LOCALE_DIR, PAGE_LOCALES, catalog_files, load_translations, read_catalog

WEB_DIR = Path(LOCALE_DIR).parent / "web"


def used_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = extract_from_dir(
        str(WEB_DIR),
        method_map=method_map,
        keywords={"_": None, "N_": None, "gettext": None},
        options_map={"**/templates/**.html": {"trimmed": "true"}},
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def catalog(locale: str):  # type: ignore[no-untyped-def]
    return read_catalog(locale)


def test_a_message_lives_in_one_catalog_file_only() -> None:
    for locale in PAGE_LOCALES:
        seen: dict[str, str] = {}
        for path in catalog_files(locale):
            with path.open("rb") as handle:
                for message in read_po(handle):
                    if message.id:
                        assert message.id not in seen, (locale, message.id, seen.get(message.id), path.name)
                        seen[message.id] = path.name


def test_every_page_text_is_translated_to_chinese() -> None:
    used = used_messages()
    assert "Sign in" in used and "Surveys" in used
    zh = catalog("zh-CN")
    missing = sorted(m for m in used if not (zh.get(m) and zh.get(m).string))
    assert missing == []


def test_catalogs_hold_no_stale_entries() -> None:
    used = used_messages()
    for locale in PAGE_LOCALES:
        stale = sorted(m.id for m in catalog(locale) if m.id and m.id not in used)
        assert stale == [], locale


def test_catalogs_compile_in_memory() -> None:
    assert load_translations("zh-CN").gettext("Sign in") == "登录"
    assert load_translations("en").gettext("Sign in") == "Sign in"
