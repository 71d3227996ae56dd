"""The survey definition document: what a survey asks, in which languages,
with which logic. Validated in two passes: Pydantic checks the shape, then
``cross_check`` checks what refers to what (ids, languages, piping, logic),
each error with the exact path of the field at fault.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    ValidationError,
    model_validator,
)

from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.surveys.conditions import TAG_PREFIX, Condition, comparisons
from cxloop.surveys.piping import CONTACT_FIELDS, Reference, references

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
END = "end"

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Language = Annotated[str, Field(pattern=LANGUAGE_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
# Text in several languages: {"zh-CN": "...", "en": "..."}.
LangText = Annotated[dict[Language, Text], Field(min_length=1)]


class _Strict(BaseModel):
    # JSON has no NaN or Infinity, and PostgreSQL's jsonb refuses to store them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _pattern_compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from exc
    return value


def _local_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        raise ValueError("must be a local path starting with / (no other hosts)")
    return value


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http or https URL")
    return value


class Choice(_Strict):
    id: Id
    text: LangText
    # An "other" choice asks for text alongside the pick.
    other: bool = False


class _Question(_Strict):
    id: Id
    text: LangText
    description: LangText | None = None
    required: bool = False
    display_logic: Condition | None = None


class NpsQuestion(_Question):
    type: Literal["nps"]
    low_label: LangText | None = None
    high_label: LangText | None = None


class CsatQuestion(_Question):
    type: Literal["csat"]
    low_label: LangText | None = None
    high_label: LangText | None = None


class CesQuestion(_Question):
    type: Literal["ces"]
    low_label: LangText | None = None
    high_label: LangText | None = None


class RatingQuestion(_Question):
    type: Literal["rating"]
    points: int = Field(default=5, ge=2, le=11)
    low_label: LangText | None = None
    high_label: LangText | None = None


class SingleChoiceQuestion(_Question):
    type: Literal["single_choice"]
    choices: list[Choice] = Field(min_length=1, max_length=200)
    randomize: bool = False


class MultipleChoiceQuestion(_Question):
    type: Literal["multiple_choice"]
    choices: list[Choice] = Field(min_length=1, max_length=200)
    randomize: bool = False
    min_picks: int | None = Field(default=None, ge=0)
    max_picks: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _picks_in_order(self) -> MultipleChoiceQuestion:
        if self.min_picks is not None and self.max_picks is not None and self.min_picks > self.max_picks:
            raise ValueError("min_picks may not exceed max_picks")
        return self


class DropdownQuestion(_Question):
    type: Literal["dropdown"]
    choices: list[Choice] = Field(min_length=1, max_length=1000)
    randomize: bool = False


class MatrixRow(_Strict):
    id: Id
    text: LangText


class ScalePoint(_Strict):
    value: int = Field(ge=-100, le=100)
    text: LangText


class MatrixQuestion(_Question):
    type: Literal["matrix"]
    rows: list[MatrixRow] = Field(min_length=1, max_length=100)
    scale: list[ScalePoint] = Field(min_length=2, max_length=11)
    randomize: bool = False


class RankingQuestion(_Question):
    type: Literal["ranking"]
    choices: list[Choice] = Field(min_length=2, max_length=50)
    randomize: bool = False


class TextQuestion(_Question):
    type: Literal["text"]
    size: Literal["short", "long"] = "short"
    pattern: Annotated[str, Field(max_length=500), AfterValidator(_pattern_compiles)] | None = None
    max_length: int = Field(default=2000, ge=1, le=20000)
    placeholder: LangText | None = None


class NumberQuestion(_Question):
    type: Literal["number"]
    min: float | None = None
    max: float | None = None
    integer: bool = False

    @model_validator(mode="after")
    def _range_in_order(self) -> NumberQuestion:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min may not exceed max")
        return self


class DateQuestion(_Question):
    type: Literal["date"]
    min: date | None = None
    max: date | None = None


class EmailQuestion(_Question):
    type: Literal["email"]


class PhoneQuestion(_Question):
    type: Literal["phone"]


class ConsentQuestion(_Question):
    type: Literal["consent"]


class ServqualQuestion(_Question):
    """One SERVQUAL item: the respondent rates expectation and perception."""

    type: Literal["servqual"]
    dimension: Literal["tangibles", "reliability", "responsiveness", "assurance", "empathy"]
    points: int = Field(default=7, ge=3, le=10)
    expectation_label: LangText | None = None
    perception_label: LangText | None = None


Question = Annotated[
    NpsQuestion
    | CsatQuestion
    | CesQuestion
    | RatingQuestion
    | SingleChoiceQuestion
    | MultipleChoiceQuestion
    | DropdownQuestion
    | MatrixQuestion
    | RankingQuestion
    | TextQuestion
    | NumberQuestion
    | DateQuestion
    | EmailQuestion
    | PhoneQuestion
    | ConsentQuestion
    | ServqualQuestion,
    Discriminator("type"),
]
QUESTION_TYPES = frozenset(
    {
        "nps",
        "csat",
        "ces",
        "rating",
        "single_choice",
        "multiple_choice",
        "dropdown",
        "matrix",
        "ranking",
        "text",
        "number",
        "date",
        "email",
        "phone",
        "consent",
        "servqual",
    }
)
CHOICE_TYPES = (SingleChoiceQuestion, MultipleChoiceQuestion, DropdownQuestion, RankingQuestion)


class SkipRule(_Strict):
    when: Condition
    to: Id  # a later page id, or "end"


class Page(_Strict):
    id: Id
    title: LangText | None = None
    questions: list[Question] = Field(default_factory=list, max_length=200)
    display_logic: Condition | None = None
    skip_logic: list[SkipRule] = Field(default_factory=list, max_length=50)


class EmbeddedField(_Strict):
    """A hidden value the link or the API supplies (store, order number...)."""

    name: Id
    default: str | None = Field(default=None, max_length=500)


class Theme(_Strict):
    logo_url: Annotated[str, Field(max_length=500), AfterValidator(_local_url)] | None = None
    color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$")


class ThankYou(_Strict):
    outcome: Literal["default", "promoter", "passive", "detractor"] = "default"
    message: LangText


class SurveySettings(_Strict):
    # Anonymous links only: a browser that completed the survey is told so
    # instead of answering again (a cookie; clearing it starts afresh).
    one_response_per_browser: bool = False


class SurveyDefinition(_Strict):
    title: LangText
    description: LangText | None = None
    languages: list[Language] = Field(min_length=1, max_length=20)
    default_language: Language
    pages: list[Page] = Field(min_length=1, max_length=100)
    embedded: list[EmbeddedField] = Field(default_factory=list, max_length=100)
    theme: Theme = Field(default_factory=Theme)
    thank_you: list[ThankYou] = Field(default_factory=list, max_length=10)
    redirect_url: Annotated[str, Field(max_length=2000), AfterValidator(_web_url)] | None = None
    settings: SurveySettings = Field(default_factory=SurveySettings)

    def questions(self) -> Iterator[tuple[int, Question]]:
        for page_index, page in enumerate(self.pages):
            for question in page.questions:
                yield page_index, question

    def question(self, question_id: str) -> Question | None:
        return next((q for _, q in self.questions() if q.id == question_id), None)


def text_in(text: dict[str, str] | None, language: str, default_language: str) -> str:
    """The text in ``language``, falling back to the default language."""
    if not text:
        return ""
    return text.get(language) or text.get(default_language) or next(iter(text.values()))


# --- validation -----------------------------------------------------------


def format_path(loc: tuple[Any, ...] | list[Any], prefix: str = "", *, tagged: bool = False) -> str:
    """("pages", 0, "questions", 2, "nps", "min") -> "pages[0].questions[2].min".

    ``tagged`` locations (Pydantic's) name the union member after a list
    index; that tag is not part of the document and is dropped.
    """
    path = prefix
    previous: Any = None
    before_previous: Any = None
    for part in loc:
        # Only a question's list index is followed by its type tag: in
        # "choices[0].text", "text" is a field, not the question type "text".
        tagged_question = (
            tagged and isinstance(previous, int) and before_previous == "questions" and part in QUESTION_TYPES
        )
        if (isinstance(part, str) and part.startswith(TAG_PREFIX)) or tagged_question:
            before_previous, previous = previous, part
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
        before_previous, previous = previous, part
    return path or (prefix or "definition")


def _friendly(error: Any) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


# Deep enough for any real survey (conditions nest a few levels); a deeper
# document is refused before anything recurses over it.
MAX_DEPTH = 40


def _too_deep(data: Any) -> tuple[Any, ...] | None:
    """The location of the first value nested deeper than MAX_DEPTH, without recursing."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, loc = stack.pop()
        if len(loc) > MAX_DEPTH:
            return loc
        if isinstance(value, dict):
            stack.extend((child, (*loc, key)) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*loc, index)) for index, child in enumerate(value))
    return None


def parse_definition(data: Any, prefix: str = "definition") -> SurveyDefinition:
    """A validated definition, or ValidationFailed listing every fault with its path."""
    deep = _too_deep(data)
    if deep is not None:
        path = format_path(deep[:MAX_DEPTH], prefix)
        raise ValidationFailed(
            "The survey definition is nested too deeply.",
            errors=[FieldError(path, f"nested more than {MAX_DEPTH} levels deep")],
        )
    try:
        definition = SurveyDefinition.model_validate(data)
    except ValidationError as exc:
        errors = [FieldError(format_path(e["loc"], prefix, tagged=True), _friendly(e)) for e in exc.errors()]
        raise ValidationFailed("The survey definition is not valid; see errors.", errors=errors) from exc
    problems = cross_check(definition)
    if problems:
        errors = [FieldError(format_path(loc, prefix), message) for loc, message in problems]
        raise ValidationFailed("The survey definition is not valid; see errors.", errors=errors)
    return definition


Problems = list[tuple[tuple[Any, ...], str]]


def _lang_texts(value: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], dict[str, str]]]:
    """Every per-language text in the dumped document, with its location."""
    if isinstance(value, dict):
        if value and all(isinstance(v, str) for v in value.values()) and loc and loc[-1] in _LANG_TEXT_KEYS:
            yield loc, value
            return
        for key, child in value.items():
            yield from _lang_texts(child, (*loc, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _lang_texts(child, (*loc, index))


_LANG_TEXT_KEYS = frozenset(
    {
        "title",
        "description",
        "text",
        "low_label",
        "high_label",
        "placeholder",
        "message",
        "expectation_label",
        "perception_label",
    }
)


def cross_check(definition: SurveyDefinition) -> Problems:
    problems: Problems = []
    problems += _check_languages(definition)
    problems += _check_ids(definition)
    problems += _check_logic(definition)
    problems += _check_piping(definition)
    if any(t.outcome != "default" for t in definition.thank_you) and not any(
        isinstance(q, NpsQuestion) for _, q in definition.questions()
    ):
        problems.append((("thank_you",), "outcome messages need an nps question"))
    outcomes = [t.outcome for t in definition.thank_you]
    for index, outcome in enumerate(outcomes):
        if outcome in outcomes[:index]:
            problems.append((("thank_you", index, "outcome"), f"duplicate outcome {outcome!r}"))
    return problems


def _check_languages(definition: SurveyDefinition) -> Problems:
    problems: Problems = []
    languages = definition.languages
    for index, language in enumerate(languages):
        if language in languages[:index]:
            problems.append((("languages", index), f"duplicate language {language!r}"))
    if definition.default_language not in languages:
        problems.append((("default_language",), "must be one of languages"))
        return problems
    dumped = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    for loc, text in _lang_texts(dumped, ()):
        if definition.default_language not in text:
            problems.append((loc, f"needs text in the default language {definition.default_language!r}"))
        for language in text:
            if language not in languages:
                problems.append(((*loc, language), f"language {language!r} is not in languages"))
    return problems


def _check_ids(definition: SurveyDefinition) -> Problems:
    problems: Problems = []
    pages: set[str] = set()
    questions: set[str] = set()
    for page_index, page in enumerate(definition.pages):
        if page.id in pages or page.id == END:
            problems.append((("pages", page_index, "id"), f"duplicate or reserved page id {page.id!r}"))
        pages.add(page.id)
        for question_index, question in enumerate(page.questions):
            loc = ("pages", page_index, "questions", question_index)
            if question.id in questions:
                problems.append(((*loc, "id"), f"duplicate question id {question.id!r}"))
            questions.add(question.id)
            options: list[Any] = []
            key = "choices"
            if isinstance(question, CHOICE_TYPES):
                options = list(question.choices)
            elif isinstance(question, MatrixQuestion):
                options, key = list(question.rows), "rows"
                values = [p.value for p in question.scale]
                for point_index, value in enumerate(values):
                    if value in values[:point_index]:
                        problems.append(((*loc, "scale", point_index, "value"), f"duplicate value {value}"))
            seen: set[str] = set()
            for option_index, option in enumerate(options):
                if option.id in seen:
                    problems.append(((*loc, key, option_index, "id"), f"duplicate id {option.id!r}"))
                seen.add(option.id)
            too_many = isinstance(question, MultipleChoiceQuestion) and (question.max_picks or 0) > len(
                options
            )
            if too_many:
                problems.append(((*loc, "max_picks"), "may not exceed the number of choices"))
    names = [e.name for e in definition.embedded]
    for index, name in enumerate(names):
        if name in names[:index]:
            problems.append((("embedded", index, "name"), f"duplicate embedded field {name!r}"))
    return problems


def _page_of_questions(definition: SurveyDefinition) -> dict[str, int]:
    return {q.id: page_index for page_index, q in definition.questions()}


def _check_condition(
    definition: SurveyDefinition, condition: Condition, loc: tuple[Any, ...], last_page: int
) -> Problems:
    """Answers may come from pages up to ``last_page``; embedded and contact fields must exist."""
    problems: Problems = []
    page_of = _page_of_questions(definition)
    embedded = {e.name for e in definition.embedded}
    for comparison, path in comparisons(condition):
        where = (*loc, *path)
        if comparison.source == "answers":
            page = page_of.get(comparison.field)
            if page is None:
                problems.append(((*where, "field"), f"no question {comparison.field!r}"))
            elif page > last_page:
                problems.append(
                    ((*where, "field"), f"question {comparison.field!r} is not answered before this")
                )
        elif comparison.source == "embedded" and comparison.field not in embedded:
            problems.append(((*where, "field"), f"no embedded field {comparison.field!r}"))
        elif comparison.source == "contact" and comparison.field not in CONTACT_FIELDS:
            problems.append(((*where, "field"), f"no contact attribute {comparison.field!r}"))
        if comparison.op in ("answered", "not_answered"):
            if comparison.value is not None:
                problems.append(((*where, "value"), f"{comparison.op} takes no value"))
        elif comparison.op in ("in", "not_in"):
            if not isinstance(comparison.value, list) or not comparison.value:
                problems.append(((*where, "value"), f"{comparison.op} needs a non-empty list"))
        elif comparison.value is None or isinstance(comparison.value, list):
            problems.append(((*where, "value"), f"{comparison.op} needs a single value"))
    return problems


def _check_logic(definition: SurveyDefinition) -> Problems:
    problems: Problems = []
    page_index_of = {page.id: index for index, page in enumerate(definition.pages)}
    for page_index, page in enumerate(definition.pages):
        loc = ("pages", page_index)
        if page.display_logic is not None:
            problems += _check_condition(
                definition, page.display_logic, (*loc, "display_logic"), page_index - 1
            )
        for question_index, question in enumerate(page.questions):
            if question.display_logic is not None:
                shown_when = (*loc, "questions", question_index, "display_logic")
                problems += _check_condition(definition, question.display_logic, shown_when, page_index - 1)
        for rule_index, rule in enumerate(page.skip_logic):
            where = (*loc, "skip_logic", rule_index)
            problems += _check_condition(definition, rule.when, (*where, "when"), page_index)
            target = page_index_of.get(rule.to)
            if rule.to != END and target is None:
                problems.append(((*where, "to"), f"no page {rule.to!r}"))
            elif target is not None and target <= page_index:
                problems.append(((*where, "to"), "may only skip forward"))
    return problems


def _check_references(
    definition: SurveyDefinition, value: Any, loc: tuple[Any, ...], last_page: int
) -> Problems:
    problems: Problems = []
    page_of = _page_of_questions(definition)
    embedded = {e.name for e in definition.embedded}
    for text_loc, text in _lang_texts(value, loc):
        for language, content in text.items():
            for ref in references(content):
                where = (*text_loc, language)
                if not isinstance(ref, Reference):
                    problems.append((where, f"{ref} is not a placeholder like {{{{answers.q1}}}}"))
                elif ref.source == "answers":
                    page = page_of.get(ref.name)
                    if page is None:
                        problems.append((where, f"{{{{answers.{ref.name}}}}} names no question"))
                    elif page > last_page:
                        problems.append(
                            (where, f"{{{{answers.{ref.name}}}}} is not answered on an earlier page")
                        )
                elif ref.source == "embedded" and ref.name not in embedded:
                    problems.append((where, f"{{{{embedded.{ref.name}}}}} is not a declared embedded field"))
                elif ref.source == "contact" and ref.name not in CONTACT_FIELDS:
                    problems.append((where, f"{{{{contact.{ref.name}}}}} is not a contact attribute"))
    return problems


def _check_piping(definition: SurveyDefinition) -> Problems:
    dumped = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    problems: Problems = []
    problems += _check_references(definition, {"title": dumped["title"]}, (), -1)
    if "description" in dumped:
        problems += _check_references(definition, {"description": dumped["description"]}, (), -1)
    for page_index, page in enumerate(dumped["pages"]):
        problems += _check_references(definition, page, ("pages", page_index), page_index - 1)
    last = len(definition.pages) - 1
    problems += _check_references(definition, dumped["thank_you"], ("thank_you",), last)
    return problems


@cache
def definition_schema() -> dict[str, Any]:
    """Built once per process; callers must not change it."""
    schema = SurveyDefinition.model_json_schema(by_alias=True)
    schema["title"] = "cxloop survey definition"
    return schema
