"""The respondent pages: ``/s/{survey_id}`` (anonymous and personal links) and
the editor's preview. Server-rendered and usable without JavaScript.

There is no login here, so the CSRF defence is the form token: every page
carries a signed, timed token naming the survey, version, page, response
and language (and, for anonymous respondents, the browser cookie it was
made for). The same token gives the minimum-time bot check its start time.
A page that fails validation answers 422 (the transaction rolls back, so
nothing is saved); a saved page answers 200 with the next page.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop
from cxloop.collection.links import link_id_from, personal_token, verified_params
from cxloop.collection.models import Response as StoredResponse
from cxloop.collection.respond_flow import (
    Fault,
    first_page,
    form_values,
    next_page,
    outcome,
    page_index,
    previous_page,
    read_page,
    shown_on,
)
from cxloop.collection.respondent import (
    COMPLETE,
    PARTIAL,
    Context,
    Incomplete,
    LinkRace,
    Live,
    anonymous_context,
    browser_response,
    definition_of,
    facts_for,
    link_context,
    link_expired,
    live_survey,
    merge_page,
    personal_link,
    response_by_id,
    response_context,
    response_for_link,
    save_page,
)
from cxloop.identity import Perm
from cxloop.kit.clock import utc_now
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.ids import new_id
from cxloop.kit.security import keyed_digest
from cxloop.surveys import Facts, SurveyDefinition, parse_definition
from cxloop.surveys.service import get_survey
from cxloop.web.i18n import N_, parse_accept_language
from cxloop.web.pages.render import SignedIn, secret_key, secure_cookies
from cxloop.web.pages.respond_theme import theme_css_path
from cxloop.web.pages.respond_view import (
    LANGUAGE_NAMES,
    ShownQuestion,
    chrome_locale,
    environments,
    gettext_in,
    piped,
    shown,
    survey_view,
)

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

FORM_SALT = "cxloop.respond.form"
FORM_FIELD = "ft"
FORM_MAX_AGE = 24 * 3600
# Below this many seconds between showing the first page and its answers, a
# form was filled by a program (a person needs longer even for one NPS tap).
MIN_SECONDS_FIRST_PAGE = 2.0
HONEYPOT = "website"
BROWSER_COOKIE = "cxloop_rb"
BROWSER_COOKIE_MAX_AGE = 365 * 24 * 3600
PREVIEW_VERSION = -1

FAULT_MESSAGES = {
    "required": N_("Please answer this question."),
    "pick_one": N_("Please choose one of the options."),
    "picks_min": N_("Please choose at least %(n)s options."),
    "picks_max": N_("Please choose at most %(n)s options."),
    "ranking": N_("Please give each option a different rank."),
    "matrix_rows": N_("Please answer every row."),
    "servqual_both": N_("Please rate both what you expected and what you got."),
    "text_too_long": N_("Please shorten this answer to %(n)s characters."),
    "pattern": N_("This answer does not have the expected format."),
    "number": N_("Please enter a number."),
    "whole_number": N_("Please enter a whole number."),
    "number_between": N_("Please enter a number from %(min)s to %(max)s."),
    "number_min": N_("Please enter a number of at least %(min)s."),
    "number_max": N_("Please enter a number of at most %(max)s."),
    "date": N_("Please enter a date like 2026-01-31."),
    "date_between": N_("Please enter a date from %(min)s to %(max)s."),
    "email": N_("Please enter an email address, like name@example.com."),
    "phone": N_("Please enter a phone number."),
}
NOTICES = {
    "unavailable": (
        N_("This survey is not available"),
        N_("The link may be incomplete, or the survey has not started yet."),
    ),
    "closed": (
        N_("This survey has closed"),
        N_("Thank you for your interest. The survey no longer takes answers."),
    ),
    "expired": (
        N_("This link has expired"),
        N_("Thank you for your interest. The link can no longer be used."),
    ),
    "invalid": (N_("This link is not valid"), N_("Please check that you opened the whole link.")),
    "answered": (N_("You have already answered this survey"), N_("Thank you! Your answers were saved.")),
    "stale": (N_("This page has expired"), N_("Please open the survey again to go on.")),
    "bot": (
        N_("We could not accept these answers"),
        N_("Please open the survey again and answer it once more."),
    ),
    "race": (
        N_("These answers were just saved on another device"),
        N_("Please open the link again to go on."),
    ),
}
TOO_FAST = N_("Please check your answers, then send them again.")
INCOMPLETE = N_("An earlier page needs an answer before you can finish.")
THANK_YOU = N_("Thank you for your answers!")


# --- tokens, cookies, language -------------------------------------------------------


def _serializer(request: Request) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(request), salt=FORM_SALT)


def _read_token(request: Request, token: object) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > 4000:
        return None
    try:
        data = _serializer(request).loads(token, max_age=FORM_MAX_AGE)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def _browser_cookie(request: Request) -> tuple[str, bool]:
    """This browser's random value, and whether it is new (to be set on the answer)."""
    value = request.cookies.get(BROWSER_COOKIE)
    if value and 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value, False
    return secrets.token_urlsafe(18), True


def _browser_key(request: Request, cookie: str) -> str:
    return keyed_digest(secret_key(request), "respond-browser:" + cookie)


def _choose_language(definition: SurveyDefinition, request: Request, *wanted: str | None) -> str:
    languages = definition.languages
    for tag in wanted:
        if tag and tag in languages:
            return tag
    lowered = {lang.lower(): lang for lang in languages}
    for tag in parse_accept_language(request.headers.get("accept-language")):
        if tag.lower() in lowered:
            return lowered[tag.lower()]
        near = chrome_locale(tag)
        if tag.lower().startswith("zh") and near in languages:
            return near
        primary = tag.split("-")[0].lower()
        match = next((lang for lang in languages if lang.split("-")[0].lower() == primary), None)
        if match:
            return match
    return definition.default_language


def _negotiated_chrome(request: Request) -> str:
    for tag in parse_accept_language(request.headers.get("accept-language")):
        return chrome_locale(tag)
    return "zh-CN"


# --- rendering -------------------------------------------------------------------------


_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action {form}; frame-ancestors {frame}"
)
ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")


def redirect_origin(definition: SurveyDefinition) -> str | None:
    """The origin of the survey's redirect, when it is plain enough to name in a header."""
    if not definition.redirect_url:
        return None
    parts = urlsplit(definition.redirect_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return origin if ORIGIN.match(origin) else None


def _html(
    template: str,
    locale: str,
    context: dict[str, Any],
    status: int = 200,
    *,
    frame: bool = False,
    form_origin: str | None = None,
) -> HTMLResponse:
    env = environments()[locale]
    values = {"version": cxloop.__version__, "chrome": locale, **context}
    response = HTMLResponse(env.get_template(template).render(values), status_code=status)
    # The pages carry form tokens and personal answers: never keep them in a cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = context.get("lang", locale)
    if frame:
        # The survey editor shows the preview in an iframe on the same origin.
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = _POLICY.format(form="'self'", frame="'self'")
    elif form_origin:
        # Browsers check form-action on the redirect that follows a form too: the last
        # page's 303 to the survey's redirect_url must be allowed by the page that sent it.
        response.headers["Content-Security-Policy"] = _POLICY.format(
            form=f"'self' {form_origin}", frame="'none'"
        )
    return response


def _theme(definition: SurveyDefinition) -> dict[str, Any]:
    theme = definition.theme
    return {"theme_css": theme_css_path(theme.color) if theme.color else None, "logo": theme.logo_url}


def notice(
    request: Request,
    kind: str,
    status: int,
    *,
    definition: SurveyDefinition | None = None,
    language: str | None = None,
    again: str | None = None,
) -> HTMLResponse:
    locale = chrome_locale(language) if language else _negotiated_chrome(request)
    title, message = NOTICES[kind]
    context: dict[str, Any] = {
        "lang": language or locale,
        "heading": gettext_in(locale, title),
        "message": gettext_in(locale, message),
        "again": again,
        "kind": kind,
    }
    if definition is not None:
        context.update(_theme(definition))
    return _html("respond/notice.html", locale, context, status)


def _switcher(
    definition: SurveyDefinition, language: str, path: str, kept: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    if len(definition.languages) < 2:
        return []
    links = []
    for tag in definition.languages:
        query = urlencode([*kept, ("lang", tag)])
        links.append(
            {
                "tag": tag,
                "name": LANGUAGE_NAMES.get(tag, tag),
                "href": f"{path}?{query}",
                "current": tag == language,
            }
        )
    return links


class FormValues:
    """The values a page shows again, as the template asks for them."""

    def __init__(self, values: dict[str, list[str]]) -> None:
        self.values = values

    def has(self, name: str, value: object) -> bool:
        return str(value) in self.values.get(name, ())

    def one(self, name: str) -> str:
        found = self.values.get(name)
        return found[-1] if found else ""


# Rendered questions that show nothing of one respondent's own, by (survey, version, language, question).
_fragments: OrderedDict[tuple[str, int, str, str], Markup] = OrderedDict()
_FRAGMENTS = 4096


def _question_html(
    key: tuple[str, int, str] | None,
    item: ShownQuestion,
    values: dict[str, list[str]],
    faults: dict[str, str],
    locale: str,
) -> Markup:
    """One question's HTML; a fresh question (no values, error, piping or shuffle) is rendered once."""
    q = item.q
    name = "q." + q.id
    own = (
        key is None
        or q.id in faults
        or q.randomize
        or q.text.piped
        or q.description.piped
        or any(k == name or k.startswith(name + ".") for k in values)
    )
    cache_key = None if own or key is None else (*key, q.id)
    if cache_key is not None:
        cached = _fragments.get(cache_key)
        if cached is not None:
            return cached
    template = environments()[locale].get_template("respond/question.html")
    # Jinja autoescapes everything the template shows, so its output is safe markup.
    html = Markup(template.render(item=item, v=FormValues(values), faults=faults))  # noqa: S704
    if cache_key is not None:
        _fragments[cache_key] = html
        while len(_fragments) > _FRAGMENTS:
            _fragments.popitem(last=False)
    return html


def _fault_text(locale: str, fault: Fault) -> str:
    message = gettext_in(locale, FAULT_MESSAGES[fault.code])
    return message % dict(fault.params) if fault.params else message


def render_page(
    request: Request,
    *,
    survey_id: str,
    version: int,
    definition: SurveyDefinition,
    language: str,
    index: int,
    facts: Facts,
    seed: str,
    values: dict[str, list[str]],
    faults: dict[str, Fault] | None = None,
    token: str | None,
    back: bool,
    notice_text: str | None = None,
    status: int = 200,
    preview: bool = False,
    path: str,
    kept: list[tuple[str, str]],
) -> HTMLResponse:
    locale = chrome_locale(language)
    view = survey_view(survey_id, version, definition, language)
    page_view = view.pages[index]
    if preview:
        questions = list(page_view.questions)
    else:
        shown_ids = {q.id for q in shown_on(definition, index, facts)}
        questions = [q for q in page_view.questions if q.id in shown_ids]
    items = shown(questions, facts, view, seed)
    faults_text = {qid: _fault_text(locale, f) for qid, f in (faults or {}).items()}
    env_key = (survey_id, version, language) if version >= 0 else None
    faults = faults or {}
    errors = [
        (item.q.id, item.text, _fault_text(locale, faults[item.q.id]))
        for item in items
        if item.q.id in faults
    ]
    last = index == len(definition.pages) - 1 or (not preview and next_page(definition, index, facts) is None)
    context: dict[str, Any] = {
        "lang": language,
        "title": view.title,
        "description": piped(view.description, facts, view) if index == 0 else "",
        "page_title": piped(page_view.title, facts, view),
        "questions": [_question_html(env_key, item, values, faults_text, locale) for item in items],
        "errors": errors,
        "form_field": FORM_FIELD,
        "form_token": token,
        "honeypot": HONEYPOT,
        "back": back,
        "last": last,
        "notice": gettext_in(locale, notice_text) if notice_text else None,
        "preview": preview,
        "action": path,
        "page_number": index + 1,
        "page_count": len(definition.pages),
        "switcher": _switcher(definition, language, path, kept),
        **_theme(definition),
    }
    return _html(
        "respond/page.html",
        locale,
        context,
        status,
        frame=preview,
        form_origin=None if preview else redirect_origin(definition),
    )


def _token(request: Request, **data: Any) -> str:
    data["at"] = utc_now().timestamp()
    return _serializer(request).dumps(data)


def _values_of(definition: SurveyDefinition, index: int, answers: dict[str, Any]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for question in definition.pages[index].questions:
        values.update(form_values(question, answers.get(question.id)))
    return values


def _seed(context: Context, response_id: str, browser: str | None) -> str:
    # Stable for one respondent across reloads and devices: the link, else the browser, else the response.
    return context.link_id or browser or response_id


def _set_browser_cookie(request: Request, response: Response, cookie: str, new: bool) -> Response:
    if new:
        response.set_cookie(
            BROWSER_COOKIE,
            cookie,
            max_age=BROWSER_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/s/",
        )
    return response


def thank_you(
    request: Request, definition: SurveyDefinition, survey_id: str, version: int, response: StoredResponse
) -> Response:
    if definition.redirect_url:
        return RedirectResponse(definition.redirect_url, status_code=303)
    language = response.language if response.language in definition.languages else definition.default_language
    locale = chrome_locale(language)
    view = survey_view(survey_id, version, definition, language)
    context_facts = facts_for(definition, dict(response.answers), response_context(response))
    message = view.thank_you.get(outcome(definition, response.answers)) or view.thank_you.get("default")
    text = piped(message, context_facts, view) if message else gettext_in(locale, THANK_YOU)
    context = {
        "lang": language,
        "title": view.title,
        "message": text,
        "outcome": outcome(definition, response.answers),
        **_theme(definition),
    }
    return _html("respond/thanks.html", locale, context)


# --- the respondent's pages ------------------------------------------------------------------


@router.get("/s/{survey_id}")
async def start(
    request: Request,
    survey_id: str,
    session: DbSession,
    t: str | None = Query(default=None, max_length=400),
    lang: str | None = Query(default=None, max_length=35),
) -> Response:
    live = await live_survey(session, survey_id)
    if live is None:
        return notice(request, "unavailable", 404)
    definition = live.definition
    if live.closed:
        return notice(
            request,
            "closed",
            410,
            definition=definition,
            language=_choose_language(definition, request, lang),
        )
    existing: StoredResponse | None = None
    cookie, new_cookie = None, False
    if t is not None:
        link_id = link_id_from(secret_key(request), t)
        link = await personal_link(session, live, link_id) if link_id else None
        if link is None:
            return notice(
                request,
                "invalid",
                404,
                definition=definition,
                language=_choose_language(definition, request, lang),
            )
        language = _choose_language(definition, request, lang, link.language)
        if link.completed_at is not None:
            return notice(request, "answered", 200, definition=definition, language=language)
        if link_expired(link, utc_now()):
            return notice(request, "expired", 410, definition=definition, language=language)
        existing = await response_for_link(session, link.id)
        context = response_context(existing) if existing is not None else link_context(link)
    else:
        cookie, new_cookie = _browser_cookie(request)
        if not new_cookie:
            key = _browser_key(request, cookie)
            if definition.settings.one_response_per_browser and await browser_response(
                session, live, key, COMPLETE
            ):
                language = _choose_language(definition, request, lang)
                return notice(request, "answered", 200, definition=definition, language=language)
            existing = await browser_response(session, live, key, PARTIAL)
        params = verified_params(secret_key(request), survey_id, request.query_params)
        context = (
            response_context(existing)
            if existing is not None
            else await anonymous_context(session, live, params)
        )
    version = existing.survey_version if existing is not None else live.version
    if version != live.version:
        definition = await definition_of(session, survey_id, version) or definition
    language = _choose_language(
        definition, request, lang, existing.language if existing else None, context.language
    )
    answers = dict(existing.answers) if existing is not None else {}
    facts = facts_for(definition, answers, context)
    index = page_index(definition, existing.resume_page) if existing is not None else None
    if index is None:
        index = first_page(definition, facts) or 0
    response_id = existing.id if existing is not None else new_id()
    # A token is bound to a browser only when its cookie was already there: a browser
    # that refuses cookies must still be able to answer.
    browser_key = _browser_key(request, cookie) if cookie and not new_cookie else None
    token = _token(
        request,
        s=survey_id,
        v=version,
        p=definition.pages[index].id,
        r=response_id,
        l=context.link_id,
        x=context.as_token() if existing is None and context.link_id is None else None,
        lang=language,
        b=browser_key,
    )
    page = render_page(
        request,
        survey_id=survey_id,
        version=version,
        definition=definition,
        language=language,
        index=index,
        facts=facts,
        seed=_seed(context, response_id, cookie),
        values=_values_of(definition, index, answers),
        token=token,
        back=previous_page(definition, index, facts) is not None,
        path=f"/s/{survey_id}",
        kept=[(k, v) for k, v in request.query_params.multi_items() if k != "lang"],
    )
    return _set_browser_cookie(request, page, cookie, new_cookie) if cookie else page


def _multi(form: Any) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str) and len(key) <= 200:
            values.setdefault(key, []).append(value)
    return values


@router.post("/s/{survey_id}")
async def answer(request: Request, survey_id: str, session: DbSession) -> Response:
    live = await live_survey(session, survey_id)
    if live is None:
        return notice(request, "unavailable", 404)
    form = await request.form()
    data = _read_token(request, form.get(FORM_FIELD))
    again = f"/s/{survey_id}"
    language = data.get("lang") if data is not None and isinstance(data.get("lang"), str) else None
    if live.closed:
        return notice(request, "closed", 410, definition=live.definition, language=language)
    if data is None or data.get("s") != survey_id:
        return notice(request, "stale", 400, definition=live.definition, again=again)
    if form.get(HONEYPOT):
        return notice(request, "bot", 400, definition=live.definition, language=language, again=again)
    return await _answer(request, session, live, data, _multi(form), str(language or ""))


async def _answer(
    request: Request,
    session: AsyncSession,
    live: Live,
    data: dict[str, Any],
    form: dict[str, list[str]],
    language: str,
) -> Response:
    survey_id = live.survey_id
    again = f"/s/{survey_id}"
    version = data.get("v")
    definition = await definition_of(session, survey_id, version) if isinstance(version, int) else None
    response_id = data.get("r")
    if definition is None or not isinstance(response_id, str) or language not in definition.languages:
        return notice(request, "stale", 400, definition=live.definition, again=again)
    assert isinstance(version, int)
    link = None
    if isinstance(data.get("l"), str):
        link = await personal_link(session, live, data["l"])
        if link is None:
            return notice(request, "invalid", 404, definition=definition, language=language)
        if link.completed_at is not None:
            return notice(request, "answered", 200, definition=definition, language=language)
        if link_expired(link, utc_now()):
            return notice(request, "expired", 410, definition=definition, language=language)
    existing = await response_by_id(session, live, response_id, lock=True)
    if existing is None and link is not None:
        # Started on another device since this page was shown: go on with that response.
        existing = await response_for_link(session, link.id, lock=True)
    if existing is not None and existing.link_id != (link.id if link else None):
        return notice(request, "stale", 400, definition=definition, language=language, again=again)
    if existing is not None and existing.status == COMPLETE:
        # The same last page sent twice (a reload, a double tap): it completed once already.
        return thank_you(request, definition, survey_id, existing.survey_version, existing)
    cookie, _ = _browser_cookie(request)
    browser_key = (
        _browser_key(request, cookie) if link is None and request.cookies.get(BROWSER_COOKIE) else None
    )
    if data.get("b") and data.get("b") != browser_key:
        return notice(request, "stale", 400, definition=definition, language=language, again=again)
    if existing is not None:
        context = response_context(existing)
    elif link is not None:
        context = link_context(link)
    else:
        context = Context.from_token(data.get("x"))
    index = page_index(definition, data.get("p") if isinstance(data.get("p"), str) else None)
    if index is None:
        return notice(request, "stale", 400, definition=definition, language=language, again=again)
    before = dict(existing.answers) if existing is not None else {}
    facts = facts_for(definition, before, context)
    seed = _seed(context, response_id, cookie if browser_key else None)
    token_fields = {k: v for k, v in data.items() if k != "at"}
    # The language links of a personal link must keep naming the link.
    kept = [("t", personal_token(secret_key(request), link.id))] if link is not None else []

    def again_at(page: int, **kwargs: Any) -> HTMLResponse:
        page_facts = kwargs.pop("facts", facts)
        token = _token(request, **{**token_fields, "p": definition.pages[page].id})
        return render_page(
            request,
            survey_id=survey_id,
            version=version,
            definition=definition,
            language=language,
            index=page,
            facts=page_facts,
            seed=seed,
            token=token,
            back=previous_page(definition, page, page_facts) is not None,
            path=again,
            kept=kept,
            **kwargs,
        )

    if form.get("nav") == ["back"]:
        previous = previous_page(definition, index, facts)
        target = previous if previous is not None else index
        return again_at(target, values=_values_of(definition, target, before))
    read = read_page(shown_on(definition, index, facts), form)
    started = data.get("at")
    too_fast = (
        existing is None
        and isinstance(started, int | float)
        and utc_now().timestamp() - started < MIN_SECONDS_FIRST_PAGE
    )
    if read.faults or too_fast:
        return again_at(
            index,
            values=read.raw,
            faults=read.faults,
            status=422,
            notice_text=TOO_FAST if too_fast and not read.faults else None,
        )
    merged = merge_page(definition, before, index, read.answers)
    after = facts_for(definition, merged, context)
    following = next_page(definition, index, after)
    if (
        following is None
        and link is None
        and browser_key is not None
        and definition.settings.one_response_per_browser
        and await browser_response(session, live, browser_key, COMPLETE) is not None
    ):
        return notice(request, "answered", 200, definition=definition, language=language)
    try:
        saved = await save_page(
            session,
            live,
            version,
            definition,
            response_id=existing.id if existing is not None else response_id,
            existing=existing,
            context=context,
            language=language,
            browser_key=browser_key,
            page=index,
            answers=read.answers,
            next_page_id=definition.pages[following].id if following is not None else None,
        )
    except Incomplete as missing:
        return again_at(
            missing.page,
            values=_values_of(definition, missing.page, merged),
            facts=after,
            status=422,
            notice_text=INCOMPLETE,
        )
    except LinkRace:
        return notice(request, "race", 409, definition=definition, language=language)
    if saved.completed:
        return thank_you(request, definition, survey_id, version, saved.response)
    assert following is not None
    token_fields["r"] = saved.response.id
    token_fields["x"] = None
    return again_at(following, values=_values_of(definition, following, merged), facts=after)


# --- the editor's preview -------------------------------------------------------------------


@router.get("/surveys/{survey_id}/preview")
async def preview(
    request: Request,
    survey_id: str,
    session: DbSession,
    principal: SignedIn,
    lang: str | None = Query(default=None, max_length=35),
    page: int = Query(default=1, ge=1, le=1000),
) -> Response:
    principal.require(Perm.DATA_READ)
    view = await get_survey(session, principal, survey_id)
    definition = parse_definition(view.current.definition)
    language = _choose_language(definition, request, lang)
    index = min(page, len(definition.pages)) - 1
    return render_page(
        request,
        survey_id=survey_id,
        version=PREVIEW_VERSION,
        definition=definition,
        language=language,
        index=index,
        facts=Facts(),
        seed="preview",
        values={},
        token=None,
        back=index > 0,
        preview=True,
        path=f"/surveys/{survey_id}/preview",
        kept=[("page", str(index + 1))],
    )


__all__ = ["router"]
