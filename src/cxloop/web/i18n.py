"""Page languages: gettext catalogs compiled at startup, and negotiation.

The catalogs are the ``.po`` files under ``cxloop/locale``; compiled ``.mo``
files are build products we do not keep, so each start compiles the ``.po``
text in memory with Babel. Each supported language gets its own Jinja
environment with the i18n extension installed, so a template renders in one
language without any per-request state.

To refresh the catalogs after changing texts::

    .venv/bin/pybabel extract -F src/cxloop/locale/babel.cfg -k N_ -o /tmp/messages.pot src/cxloop/web
    .venv/bin/pybabel update -i /tmp/messages.pot -d src/cxloop/locale

New texts of a capability go into that capability's own file next to
``messages.po`` (``respond.po``, ``editor.po``...); all files of a language
are merged at startup.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

# Page languages, in the order the switcher lists them, with their own names.
PAGE_LOCALES: dict[str, str] = {"zh-CN": "简体中文", "en": "English"}
# Languages a person may choose that are served by a near catalog.
FALLBACKS = {"zh-TW": "zh-CN", "zh-HK": "zh-CN", "zh": "zh-CN"}
LANG_COOKIE = "lang"


def N_(message: str) -> str:
    """Mark a text for extraction; templates translate it with ``_()``."""
    return message


def catalog_dir_name(locale: str) -> str:
    return locale.replace("-", "_")


def catalog_files(locale: str) -> list[Path]:
    """``messages.po`` first, then one ``.po`` per capability (respond.po, editor.po...).

    Each capability keeps its texts in a file of its own so that work on two
    capabilities never edits the same catalog file.
    """
    folder = LOCALE_DIR / catalog_dir_name(locale) / "LC_MESSAGES"
    return sorted(folder.glob("*.po"), key=lambda path: (path.name != "messages.po", path.name))


def read_catalog(locale: str) -> Catalog:
    """Every catalog file of ``locale`` merged into one; a message may appear in one file only."""
    merged: Catalog | None = None
    for po_path in catalog_files(locale):
        with po_path.open("rb") as handle:
            part = read_po(handle, locale=catalog_dir_name(locale))
        if merged is None:
            merged = part
            continue
        for message in part:
            if message.id:
                merged[message.id] = message
    assert merged is not None, f"no catalog for {locale}"
    return merged


def load_translations(locale: str) -> gettext.GNUTranslations:
    catalog = read_catalog(locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class PageLanguages:
    """One Jinja environment and one translation table per page language."""

    environments: dict[str, Environment]
    translations: dict[str, gettext.GNUTranslations]
    default: str

    def environment(self, locale: str) -> Environment:
        return self.environments[locale]

    def gettext(self, locale: str, message: str) -> str:
        return self.translations[locale].gettext(message)


def build_languages(default_locale: str, template_dir: Path = TEMPLATE_DIR) -> PageLanguages:
    loader = FileSystemLoader(str(template_dir))
    environments: dict[str, Environment] = {}
    translations: dict[str, gettext.GNUTranslations] = {}
    for locale in PAGE_LOCALES:
        translation = load_translations(locale)
        env = Environment(
            loader=loader,
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
        environments[locale] = env
        translations[locale] = translation
    return PageLanguages(environments, translations, page_locale(default_locale) or "zh-CN")


def page_locale(tag: str | None) -> str | None:
    """The page language that serves ``tag``, or None when none does."""
    if not tag:
        return None
    tag = tag.strip()
    for known in PAGE_LOCALES:
        if known.lower() == tag.lower():
            return known
    for near, served_by in FALLBACKS.items():
        if near.lower() == tag.lower():
            return served_by
    primary = tag.split("-")[0].lower()
    for known in PAGE_LOCALES:
        if known.split("-")[0].lower() == primary:
            return known
    return None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags by preference (RFC 9110 q-values); malformed parts are skipped."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:1000].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality <= 0:
            continue
        weighted.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(user_locale: str | None, cookie: str | None, accept_language: str | None, default: str) -> str:
    """The user's setting, then the switcher's cookie, then the browser, then the default."""
    for candidate in (user_locale, cookie):
        chosen = page_locale(candidate)
        if chosen:
            return chosen
    for tag in parse_accept_language(accept_language):
        chosen = page_locale(tag)
        if chosen:
            return chosen
    return page_locale(default) or "zh-CN"
