"""Survey pages: the list (filter, new from a template, duplicate, close) and
the editor (raw JSON that works without scripts, a structured editor from
editor.js over the same document, live preview, publish).

Every write goes through the survey services, so the same validation and
versioning rules hold as on the API: saving a published survey starts the
next version as a draft.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Perm, Principal
from cxloop.kit.errors import Conflict, FieldError, ValidationFailed, invalid
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import MAX_LIMIT, PageRequest
from cxloop.surveys.definition import QUESTION_TYPES, parse_definition, text_in
from cxloop.surveys.piping import CONTACT_FIELDS
from cxloop.surveys.service import (
    CLOSED,
    DRAFT,
    PUBLISHED,
    STATUSES,
    TEMPLATE_IDS,
    SurveyView,
    close_survey,
    create_survey,
    duplicate_survey,
    get_survey,
    list_surveys,
    publish_survey,
    template_definition,
    template_document,
    update_survey,
)
from cxloop.web.i18n import N_, PAGE_LOCALES
from cxloop.web.pages.render import SignedIn, languages, render, request_locale, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# Enough for any real organisation's survey library; beyond it the list says it is cut.
MAX_LISTED = 1000
# A generous ceiling: the biggest template is about 10 kB; the request body limit applies as well.
MAX_DEFINITION_CHARS = 500_000
BLANK = "blank"

STATUS_LABELS = {DRAFT: N_("Draft"), PUBLISHED: N_("Published"), CLOSED: N_("Closed")}
QUESTION_TYPE_LABELS = {
    "nps": N_("NPS (0-10)"),
    "csat": N_("CSAT (1-5)"),
    "ces": N_("CES (1-7)"),
    "rating": N_("Rating scale"),
    "single_choice": N_("Single choice"),
    "multiple_choice": N_("Multiple choice"),
    "dropdown": N_("Dropdown"),
    "matrix": N_("Matrix"),
    "ranking": N_("Ranking"),
    "text": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "email": N_("Email"),
    "phone": N_("Phone"),
    "consent": N_("Consent"),
    "servqual": N_("SERVQUAL item"),
}
assert set(QUESTION_TYPE_LABELS) == QUESTION_TYPES, "every question type needs a label in the editor"

# Texts editor.js shows, translated on the server so that one catalog serves both.
EDITOR_TEXTS = {
    "structured": N_("Structured editor"),
    "json": N_("JSON"),
    "survey": N_("Survey"),
    "title": N_("Title"),
    "description": N_("Description"),
    "languages": N_("Survey languages"),
    "language_tag": N_("Language tag, e.g. ja"),
    "add_language": N_("Add language"),
    "remove_language": N_("Remove language %(lang)s"),
    "default_language": N_("Default language"),
    "missing": N_("Translation missing"),
    "pages": N_("Pages"),
    "page": N_("Page %(n)s"),
    "page_id": N_("Page id"),
    "page_title": N_("Page title"),
    "add_page": N_("Add page"),
    "question": N_("Question %(n)s"),
    "question_id": N_("Question id"),
    "question_type": N_("Question type"),
    "question_text": N_("Question text"),
    "add_question": N_("Add question"),
    "no_questions": N_("This page has no questions yet."),
    "required": N_("Answer required"),
    "delete": N_("Delete"),
    "move_up_named": N_("Move %(name)s up"),
    "move_down_named": N_("Move %(name)s down"),
    "delete_named": N_("Delete %(name)s"),
    "confirm_delete": N_("Delete %(name)s?"),
    "choices": N_("Choices"),
    "choice": N_("Choice %(n)s"),
    "choice_id": N_("Choice id"),
    "choice_text": N_("Choice text"),
    "add_choice": N_("Add choice"),
    "other": N_("Asks for text (“other”)"),
    "randomize": N_("Shuffle the order for each respondent"),
    "rows": N_("Rows"),
    "row": N_("Row %(n)s"),
    "row_id": N_("Row id"),
    "row_text": N_("Row text"),
    "add_row": N_("Add row"),
    "scale": N_("Scale"),
    "scale_point": N_("Scale point %(n)s"),
    "scale_value": N_("Value"),
    "scale_text": N_("Label"),
    "add_scale_point": N_("Add scale point"),
    "low_label": N_("Label of the lowest point"),
    "high_label": N_("Label of the highest point"),
    "points": N_("Number of points"),
    "min_picks": N_("At least this many picks"),
    "max_picks": N_("At most this many picks"),
    "size": N_("Answer box"),
    "size_short": N_("One line"),
    "size_long": N_("Several lines"),
    "pattern": N_("Pattern the answer must match (regular expression)"),
    "max_length": N_("Longest answer (characters)"),
    "placeholder": N_("Placeholder"),
    "min": N_("Lowest allowed"),
    "max": N_("Highest allowed"),
    "integer": N_("Whole numbers only"),
    "dimension": N_("SERVQUAL dimension"),
    "expectation_label": N_("Expectation label"),
    "perception_label": N_("Perception label"),
    "display_logic": N_("Display logic"),
    "skip_logic": N_("Skip logic"),
    "always": N_("Always shown"),
    "when_all": N_("Shown when all of these are true"),
    "when_any": N_("Shown when any of these is true"),
    "skip_all": N_("When all of these are true"),
    "skip_any": N_("When any of these is true"),
    "condition": N_("Condition %(n)s"),
    "source": N_("Source"),
    "field": N_("Field"),
    "op": N_("Comparison"),
    "value": N_("Value"),
    "value_list": N_("Values, separated by commas"),
    "add_condition": N_("Add condition"),
    "complex_condition": N_(
        "This condition is nested more deeply than the builder shows. Edit it in the JSON view."
    ),
    "add_rule": N_("Add skip rule"),
    "rule": N_("Rule %(n)s"),
    "when": N_("When"),
    "skip_to": N_("Then go to"),
    "end": N_("End of survey"),
    "no_rules": N_("No skip rules: respondents go on to the next page."),
    "embedded": N_("Embedded fields"),
    "embedded_help": N_(
        "Hidden values that the survey link or the API supplies, such as a store or an order."
    ),
    "embedded_name": N_("Name"),
    "embedded_default": N_("Default value"),
    "add_embedded": N_("Add embedded field"),
    "embedded_field": N_("Embedded field %(n)s"),
    "theme": N_("Theme"),
    "color": N_("Colour (#RRGGBB)"),
    "color_picker": N_("Pick a colour"),
    "logo_url": N_("Logo path (starts with /)"),
    "thank_you": N_("Thank-you messages"),
    "outcome": N_("Shown to"),
    "message": N_("Message"),
    "add_thank_you": N_("Add thank-you message"),
    "thank_you_n": N_("Thank-you message %(n)s"),
    "redirect_url": N_("Afterwards, go to this address (http or https)"),
    "saving": N_("Saving…"),
    "saved": N_("Saved."),
    "unsaved": N_("Unsaved changes."),
    "save_failed": N_("Not saved: the server did not accept the request. Reload the page and try again."),
    "errors_found": N_("Not saved. Problems found: %(n)s; each is shown next to its field."),
    "bad_json": N_("The JSON view does not hold valid JSON; fix it before switching views."),
    "save_first": N_("Save your changes before publishing."),
}
OUTCOME_LABELS = {
    "default": N_("Everyone (default)"),
    "promoter": N_("Promoters (NPS 9-10)"),
    "passive": N_("Passives (NPS 7-8)"),
    "detractor": N_("Detractors (NPS 0-6)"),
}
SOURCE_LABELS = {"answers": N_("Answer"), "embedded": N_("Embedded field"), "contact": N_("Contact")}
OP_LABELS = {
    "eq": N_("equals"),
    "ne": N_("does not equal"),
    "lt": N_("is less than"),
    "le": N_("is at most"),
    "gt": N_("is greater than"),
    "ge": N_("is at least"),
    "in": N_("is one of"),
    "not_in": N_("is none of"),
    "contains": N_("contains"),
    "answered": N_("is answered"),
    "not_answered": N_("is not answered"),
}
DIMENSION_LABELS = {
    "tangibles": N_("Tangibles"),
    "reliability": N_("Reliability"),
    "responsiveness": N_("Responsiveness"),
    "assurance": N_("Assurance"),
    "empathy": N_("Empathy"),
}


def _t(request: Request, locale: str, message: str) -> str:
    return languages(request).gettext(locale, message)


def _title(definition: dict[str, Any], locale: str) -> str:
    return text_in(definition.get("title"), locale, str(definition.get("default_language", "")))


def _can_edit(principal: Principal) -> bool:
    return principal.can(Perm.CONFIG_WRITE)


# --- list ---------------------------------------------------------------------


async def _all_surveys(
    session: AsyncSession, principal: Principal, status: str | None
) -> tuple[list[SurveyView], bool]:
    views: list[SurveyView] = []
    cursor: str | None = None
    while True:
        page = await list_surveys(session, principal, PageRequest(limit=MAX_LIMIT, cursor=cursor), status)
        views.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return views, False
        if len(views) >= MAX_LISTED:
            return views, True


def _row(view: SurveyView, locale: str) -> dict[str, Any]:
    survey = view.survey
    return {
        "id": survey.id,
        "title": _title(view.current.definition, locale),
        "status": survey.status,
        "version": survey.current_version,
        "version_published": view.current.published_at is not None,
        "published_version": survey.published_version,
        "updated_at": survey.updated_at,
    }


@router.get("/surveys")
async def surveys_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    locale = request_locale(request, principal)
    status = request.query_params.get("status", "")[:20]
    errors: dict[str, str] = {}
    if status and status not in STATUSES:
        errors["status"] = N_("Choose a status from the list.")
    views, cut = ([], False) if errors else await _all_surveys(session, principal, status or None)
    rows = sorted((_row(v, locale) for v in views), key=lambda r: (r["updated_at"], r["id"]), reverse=True)
    templates = [
        {"id": t, "title": _title(template_document(t), locale), "questions": _question_count(t)}
        for t in TEMPLATE_IDS
    ]
    context = {
        "rows": rows,
        "cut": cut,
        "status": status,
        "statuses": STATUSES,
        "status_labels": STATUS_LABELS,
        "errors": errors,
        "templates": templates,
        "page_languages": PAGE_LOCALES,
        "can_edit": _can_edit(principal),
        "can_import": principal.can(Perm.DATA_WRITE),
        "closed_notice": request.query_params.get("closed") == "1",
    }
    return render(request, "surveys/list.html", context, status=422 if errors else 200, principal=principal)


def _question_count(template_id: str) -> int:
    return sum(len(page["questions"]) for page in template_document(template_id)["pages"])


def _blank_definition(request: Request, language: str) -> dict[str, Any]:
    others = [lang for lang in PAGE_LOCALES if lang != language]
    return {
        "title": {lang: _t(request, lang, N_("Untitled survey")) for lang in [language, *others]},
        "languages": [language, *others],
        "default_language": language,
        "pages": [{"id": "p1", "questions": []}],
    }


@router.post("/surveys")
async def new_survey(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    form = await request.form()
    template = str(form.get("template") or "")
    language = str(form.get("language") or "")
    if language not in PAGE_LOCALES:
        raise invalid("language", "Choose zh-CN or en as the default language.", "unknown_language")
    if template == BLANK:
        document = _blank_definition(request, language)
    elif template in TEMPLATE_IDS:
        document = template_definition(template, language)
    else:
        raise invalid("template", "Choose a template from the list.", "unknown_template")
    view = await create_survey(session, principal, parse_definition(document))
    return see_other(f"/surveys/{view.survey.id}/edit?created=1")


@router.post("/surveys/{survey_id}/duplicate")
async def duplicate(survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    view = await duplicate_survey(session, principal, survey_id[:27])
    return see_other(f"/surveys/{view.survey.id}/edit?created=1")


@router.post("/surveys/{survey_id}/close")
async def close(survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    await close_survey(session, principal, survey_id[:27])
    return see_other("/surveys?closed=1")


# --- editor ---------------------------------------------------------------------

NOTICES = {
    "created": N_("The survey was created as a draft."),
    "saved": N_("Saved."),
    "published": N_("Published. Respondents now answer this version."),
}


def _pretty(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2)


def _editor_settings(request: Request, locale: str) -> dict[str, Any]:
    """What editor.js needs besides the document: translated labels and the fixed lists."""

    def ordered(labels: dict[str, str]) -> list[tuple[str, str]]:
        # Pairs, not an object: tojson sorts keys, and these lists are shown in this order.
        return [(key, _t(request, locale, text)) for key, text in labels.items()]

    return {
        "texts": {key: _t(request, locale, text) for key, text in EDITOR_TEXTS.items()},
        "question_types": ordered(QUESTION_TYPE_LABELS),
        "outcomes": ordered(OUTCOME_LABELS),
        "sources": ordered(SOURCE_LABELS),
        "ops": ordered(OP_LABELS),
        "dimensions": ordered(DIMENSION_LABELS),
        "contact_fields": sorted(CONTACT_FIELDS),
    }


def _version_note(request: Request, locale: str, view: SurveyView) -> str:
    survey = view.survey
    if survey.status == CLOSED:
        return _t(
            request, locale, N_("This survey is closed and cannot be changed. Duplicate it to reuse it.")
        )
    if view.current.published_at is not None:
        text = _t(
            request,
            locale,
            N_(
                "Version %(version)s is published. Saving creates version %(next)s as a draft; "
                "respondents keep answering version %(version)s until you publish again."
            ),
        )
        return text % {"version": survey.current_version, "next": survey.current_version + 1}
    if survey.published_version is not None:
        text = _t(
            request,
            locale,
            N_(
                "Version %(version)s is a draft. Respondents answer version %(published)s "
                "until you publish this one."
            ),
        )
        return text % {"version": survey.current_version, "published": survey.published_version}
    text = _t(
        request, locale, N_("Version %(version)s is a draft; nobody can answer it until you publish it.")
    )
    return text % {"version": survey.current_version}


def _editor_context(request: Request, locale: str, view: SurveyView) -> dict[str, Any]:
    survey = view.survey
    definition = view.current.definition
    preview_languages = [lang for lang in definition.get("languages", []) if isinstance(lang, str)]
    return {
        "survey": _row(view, locale),
        "closed": survey.status == CLOSED,
        "can_publish": survey.status != CLOSED and view.current.published_at is None,
        "version_note": _version_note(request, locale, view),
        "status_labels": STATUS_LABELS,
        "preview_languages": preview_languages,
        "preview_language": locale if locale in preview_languages else definition.get("default_language"),
        "page_count": len(definition.get("pages", [])),
        "settings": _editor_settings(request, locale),
    }


async def _editor_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    *,
    text: str | None = None,
    errors: list[FieldError] | None = None,
    notice: str | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    locale = request_locale(request, principal)
    view = await get_survey(session, principal, survey_id)
    context = _editor_context(request, locale, view)
    context.update(
        {
            "definition_text": _pretty(view.current.definition) if text is None else text,
            "errors": errors or [],
            "error_items": [{"path": e.path, "message": e.message} for e in errors or []],
            "notice": notice,
            "problem": problem,
        }
    )
    return render(request, "surveys/edit.html", context, status=status, principal=principal)


@router.get("/surveys/{survey_id}/edit")
async def editor(request: Request, survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    notice = next((NOTICES[key] for key in NOTICES if request.query_params.get(key) == "1"), None)
    return await _editor_page(request, session, principal, survey_id, notice=notice)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


class _NotJsonNumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON (and PostgreSQL's json type) does not allow.
    raise _NotJsonNumber(name)


def _read_definition(request: Request, locale: str, value: object) -> tuple[Any, list[FieldError]]:
    """The submitted document, or the errors that keep it from being one."""
    if not isinstance(value, str) or not value.strip():
        return None, [
            FieldError("definition", _t(request, locale, N_("Enter the survey definition as JSON.")))
        ]
    if len(value) > MAX_DEFINITION_CHARS:
        message = _t(request, locale, N_("The definition is longer than %(n)s characters."))
        return None, [FieldError("definition", message % {"n": MAX_DEFINITION_CHARS})]
    try:
        return json.loads(value, parse_constant=_refuse_constant), []
    except _NotJsonNumber as exc:
        message = _t(request, locale, N_("This is not valid JSON: %(problem)s is not a number in JSON."))
        return None, [FieldError("definition", message % {"problem": exc.args[0]})]
    except json.JSONDecodeError as exc:
        message = _t(
            request, locale, N_("This is not valid JSON: %(problem)s (line %(line)s, column %(column)s).")
        )
        return None, [
            FieldError("definition", message % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno})
        ]
    except RecursionError:
        return None, [FieldError("definition", _t(request, locale, N_("The JSON is nested too deeply.")))]
    except ValueError:  # an integer literal over the interpreter's 4,300-digit limit
        message = _t(request, locale, N_("This is not valid JSON: a number has too many digits."))
        return None, [FieldError("definition", message)]


def _problem(status: int, code: str, detail: str, errors: list[FieldError] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": status, "code": code, "detail": detail}
    if errors is not None:
        body["errors"] = [{"path": e.path, "message": e.message} for e in errors]
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@router.post("/surveys/{survey_id}/edit")
async def save(request: Request, survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    locale = request_locale(request, principal)
    # Answers 404 for a missing or foreign survey before looking at the body.
    await get_survey(session, principal, survey_id)
    form = await request.form()
    value = form.get("definition")
    text = value if isinstance(value, str) else ""
    data, errors = _read_definition(request, locale, value)
    definition = None
    if not errors:
        try:
            definition = parse_definition(data, prefix="")
        except ValidationFailed as exc:
            errors = exc.errors
    not_saved = _t(
        request, locale, N_("Not saved: the definition has problems. Each is listed with its path.")
    )
    if definition is None:
        if _wants_json(request):
            return _problem(422, "validation_failed", not_saved, errors)
        return await _editor_page(
            request, session, principal, survey_id, text=text, errors=errors, problem=not_saved, status=422
        )
    try:
        view = await update_survey(session, principal, survey_id, definition)
    except Conflict as exc:
        closed = _t(
            request, locale, N_("This survey is closed and cannot be changed. Duplicate it to reuse it.")
        )
        if _wants_json(request):
            return _problem(409, exc.code, closed)
        return await _editor_page(
            request, session, principal, survey_id, text=text, problem=closed, status=409
        )
    if _wants_json(request):
        context = _editor_context(request, locale, view)
        return JSONResponse(
            {
                "version": view.survey.current_version,
                "status": view.survey.status,
                "status_label": _t(request, locale, STATUS_LABELS[view.survey.status]),
                "version_note": context["version_note"],
                "can_publish": context["can_publish"],
                "message": _t(request, locale, N_("Saved.")),
            }
        )
    return see_other(f"/surveys/{survey_id}/edit?saved=1")


@router.post("/surveys/{survey_id}/publish")
async def publish(request: Request, survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.CONFIG_WRITE)
    locale = request_locale(request, principal)
    try:
        await publish_survey(session, principal, survey_id[:27])
    except Conflict as exc:
        problem = (
            N_("This version is already published. Change something and save to start a new version.")
            if exc.code == "already_published"
            else N_("This survey is closed and cannot be changed. Duplicate it to reuse it.")
        )
        return await _editor_page(
            request, session, principal, survey_id, problem=_t(request, locale, problem), status=409
        )
    except ValidationFailed as exc:
        problem = _t(
            request, locale, N_("Not published: the definition has problems. Each is listed with its path.")
        )
        errors = [FieldError(e.path.removeprefix("definition."), e.message) for e in exc.errors]
        return await _editor_page(
            request, session, principal, survey_id, errors=errors, problem=problem, status=422
        )
    return see_other(f"/surveys/{survey_id}/edit?published=1")
