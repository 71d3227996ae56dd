"""What the respondent pages show, prepared once per (survey, version, language).

A published version never changes, so the texts of each page in each
language (with the language fallback applied), scales and choice lists are
built once per process and reused by every request; a request only adds
what is its own: piped texts, its choice order, the values and the errors.
The respondent's page chrome comes from its own catalogs (zh-CN, zh-TW, en),
so a zh-TW respondent reads Traditional Chinese buttons even though the
signed-in pages have no zh-TW catalog.
"""

from __future__ import annotations

import gettext
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxloop.collection.respond_flow import choice_order
from cxloop.surveys import Facts, SurveyDefinition, render, text_in
from cxloop.web.i18n import TEMPLATE_DIR, load_translations

CHROME_LOCALES = ("zh-CN", "zh-TW", "en")
LANGUAGE_NAMES = {
    "zh-CN": "简体中文",
    "zh-TW": "繁體中文",
    "zh-HK": "繁體中文（香港）",
    "en": "English",
    "ja": "日本語",
    "ko": "한국어",
    "fr": "Français",
    "de": "Deutsch",
    "es": "Español",
}
SCALES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
_CACHE_SIZE = 1024


def chrome_locale(language: str) -> str:
    """The catalog of the page's own texts for a survey language."""
    tag = language.lower()
    if tag in ("zh-tw", "zh-hk", "zh-mo") or tag.startswith("zh-hant"):
        return "zh-TW"
    if tag == "zh" or tag.startswith("zh-"):
        return "zh-CN"
    return "en"


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    if locale == "zh-TW":
        # zh_TW holds the respondent texts only; anything missing reads in zh-CN.
        translation = load_translations("zh-TW")
        translation.add_fallback(load_translations("zh-CN"))
        return translation
    return load_translations(locale)


@cache
def environments() -> dict[str, Environment]:
    loader = FileSystemLoader(str(TEMPLATE_DIR))
    made: dict[str, Environment] = {}
    for locale in CHROME_LOCALES:
        env = Environment(
            loader=loader,
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        env.install_gettext_translations(_translations(locale), newstyle=True)  # type: ignore[attr-defined]
        made[locale] = env
    return made


def gettext_in(locale: str, message: str) -> str:
    return _translations(locale).gettext(message)


@dataclass(frozen=True)
class Text:
    """A survey text in one language; ``piped`` when it has placeholders to fill per respondent."""

    value: str
    piped: bool

    @classmethod
    def of(cls, text: Mapping[str, str] | None, language: str, default: str) -> Text:
        value = text_in(dict(text) if text else None, language, default)
        return cls(value, "{{" in value)


@dataclass(frozen=True)
class QuestionView:
    id: str
    type: str
    text: Text
    description: Text
    required: bool
    choices: tuple[tuple[str, str, bool], ...] = ()
    randomize: bool = False
    points: tuple[tuple[int, str], ...] = ()
    low: str = ""
    high: str = ""
    rows: tuple[tuple[str, str], ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PageView:
    id: str
    title: Text
    questions: tuple[QuestionView, ...]


@dataclass(frozen=True)
class SurveyView:
    language: str
    title: str
    description: Text
    pages: tuple[PageView, ...]
    # Choice labels by question, for piping a pick as its text.
    labels: Mapping[str, Mapping[str, str]]
    thank_you: Mapping[str, Text]


def _question(question: Any, language: str, default: str) -> QuestionView:
    def t(text: Mapping[str, str] | None) -> str:
        return text_in(dict(text) if text else None, language, default)

    kind = question.type
    common: dict[str, Any] = {
        "id": question.id,
        "type": kind,
        "text": Text.of(question.text, language, default),
        "description": Text.of(question.description, language, default),
        "required": question.required,
    }
    if kind in SCALES or kind in ("rating", "servqual"):
        low, high = SCALES.get(kind, (1, getattr(question, "points", 5)))
        common["points"] = tuple((v, str(v)) for v in range(low, high + 1))
    if hasattr(question, "low_label"):
        common["low"], common["high"] = t(question.low_label), t(question.high_label)
    if hasattr(question, "choices"):
        common["choices"] = tuple((c.id, t(c.text), c.other) for c in question.choices)
        common["randomize"] = question.randomize
    if kind == "matrix":
        common["rows"] = tuple((r.id, t(r.text)) for r in question.rows)
        common["points"] = tuple((p.value, t(p.text)) for p in question.scale)
        common["randomize"] = question.randomize
    options: dict[str, Any] = {}
    if kind == "text":
        options = {"long": question.size == "long", "max_length": question.max_length}
        options["placeholder"] = t(question.placeholder) if question.placeholder else ""
    elif kind == "number":
        options = {"min": question.min, "max": question.max, "integer": question.integer}
    elif kind == "date":
        options = {
            "min": question.min.isoformat() if question.min else "",
            "max": question.max.isoformat() if question.max else "",
        }
    elif kind == "servqual":
        options = {"expectation": t(question.expectation_label), "perception": t(question.perception_label)}
    elif kind == "multiple_choice":
        options = {"min_picks": question.min_picks, "max_picks": question.max_picks}
    return QuestionView(options=options, **common)


def _build(definition: SurveyDefinition, language: str) -> SurveyView:
    default = definition.default_language
    pages = tuple(
        PageView(
            page.id,
            Text.of(page.title, language, default),
            tuple(_question(q, language, default) for q in page.questions),
        )
        for page in definition.pages
    )
    labels: dict[str, dict[str, str]] = {}
    for _, question in definition.questions():
        if hasattr(question, "choices"):
            labels[question.id] = {c.id: text_in(dict(c.text), language, default) for c in question.choices}
    thank_you: dict[str, Text] = {
        t.outcome: Text.of(t.message, language, default) for t in definition.thank_you
    }
    return SurveyView(
        language=language,
        title=text_in(dict(definition.title), language, default),
        description=Text.of(definition.description, language, default),
        pages=pages,
        labels=labels,
        thank_you=thank_you,
    )


_views: OrderedDict[tuple[str, int, str], SurveyView] = OrderedDict()


def survey_view(survey_id: str, version: int, definition: SurveyDefinition, language: str) -> SurveyView:
    """Cached for published versions; a preview (version < 0) is built afresh every time."""
    if version < 0:
        return _build(definition, language)
    key = (survey_id, version, language)
    view = _views.get(key)
    if view is None:
        view = _build(definition, language)
        _views[key] = view
        while len(_views) > _CACHE_SIZE:
            _views.popitem(last=False)
    return view


def piped(text: Text, facts: Facts, view: SurveyView) -> str:
    return render(text.value, facts, view.labels) if text.piped else text.value


@dataclass(frozen=True)
class ShownQuestion:
    """A question as one request shows it."""

    q: QuestionView
    text: str
    description: str
    choices: tuple[tuple[str, str, bool], ...]
    rows: tuple[tuple[str, str], ...]


def shown(questions: list[QuestionView], facts: Facts, view: SurveyView, seed: str) -> list[ShownQuestion]:
    result: list[ShownQuestion] = []
    for q in questions:
        choices, rows = q.choices, q.rows
        if q.randomize and q.choices:
            order = choice_order(seed, q.id, [c[0] for c in q.choices])
            by_id = {c[0]: c for c in q.choices}
            # An "other" choice stays last, where people look for it.
            ordered = [by_id[i] for i in order if not by_id[i][2]] + [c for c in q.choices if c[2]]
            choices = tuple(ordered)
        if q.randomize and q.rows:
            row_order = choice_order(seed, q.id, [r[0] for r in q.rows])
            row_by_id = dict(q.rows)
            rows = tuple((i, row_by_id[i]) for i in row_order)
        result.append(
            ShownQuestion(q, piped(q.text, facts, view), piped(q.description, facts, view), choices, rows)
        )
    return result
