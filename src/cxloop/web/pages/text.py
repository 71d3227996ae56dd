"""Pages of the text domain: ``/text``, the comment explorer (matched words
highlighted, one-click corrections that teach the topic model) and the
taxonomy editor with suggested topics.

The pages call the same services as the API (cxloop.text), so scope and
permissions are the same; nothing here loads a model.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cxloop.identity import Perm
from cxloop.kit.errors import AppError
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.pagination import PageRequest
from cxloop.text import to_simplified
from cxloop.text.service import correct_topic, list_comments
from cxloop.text.suggest import suggest_topics
from cxloop.text.taxonomy import all_topics, create_topic, delete_topic, paths, tenant_locale, update_topic
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

SENTIMENTS = ("negative", "neutral", "positive")
SENTIMENT_LABELS = {"negative": N_("Negative"), "neutral": N_("Neutral"), "positive": N_("Positive")}


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, matched) so the template can mark the matched words (escaped as text)."""
    wanted = sorted({w for w in words if w and len(w) <= 100}, key=len, reverse=True)
    if not wanted:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(to_simplified(w)) for w in wanted), re.IGNORECASE)
    out: list[tuple[str, bool]] = []
    last = 0
    # Matched words are Simplified, a comment may be Traditional: find them in the folded
    # copy (character for character, so the same places) and mark the customer's own text.
    for m in pattern.finditer(to_simplified(text)):
        if m.start() > last:
            out.append((text[last : m.start()], False))
        out.append((text[m.start() : m.end()], True))
        last = m.end()
    if last < len(text):
        out.append((text[last:], False))
    return out


def _csv_words(value: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,，、\n]", value) if w.strip()][:200]


@router.get("/text")
async def text_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    params = request.query_params
    tab = "taxonomy" if params.get("tab") == "taxonomy" else "comments"
    topic_id = (params.get("topic") or "")[:26] or None
    sentiment = params.get("sentiment") if params.get("sentiment") in SENTIMENTS else None
    uncovered = params.get("uncovered") == "1"
    topics = await all_topics(session, principal.tenant_id)
    named = paths(topics, await tenant_locale(session, principal.tenant_id))
    choices = sorted(((named[t.id], t.id) for t in topics), key=lambda pair: pair[0])
    context: dict[str, Any] = {
        "tab": tab,
        "topic_choices": choices,
        "topic_id": topic_id or "",
        "sentiment": sentiment or "",
        "uncovered": uncovered,
        "sentiments": SENTIMENTS,
        "sentiment_labels": SENTIMENT_LABELS,
        "can_correct": principal.can(Perm.DATA_WRITE),
        "can_configure": principal.can(Perm.CONFIG_WRITE),
        "saved": params.get("saved") == "1",
        "error": params.get("error") == "1",
    }
    if tab == "comments":
        try:
            page, hits = await list_comments(
                session,
                principal,
                PageRequest(limit=50, cursor=params.get("cursor") or None),
                topic_id=topic_id,
                sentiment=sentiment,
                uncovered=uncovered,
            )
        except AppError as exc:
            if exc.status >= 500:
                raise
            page, hits = None, {}
        comments = []
        for row in page.items if page else []:
            assigned = sorted(hits.get((row.response_id, row.question_id), []), key=lambda t: t.topic_path)
            words = [w for t in assigned for w in (t.evidence or {}).get("matched", []) if t.source == "rule"]
            comments.append({"row": row, "topics": assigned, "pieces": highlight(row.masked_text, words)})
        context.update(comments=comments, next_cursor=page.next_cursor if page else None)
    else:
        by_parent: dict[str | None, list[Any]] = {}
        for topic in sorted(topics, key=lambda t: (t.position, named[t.id])):
            by_parent.setdefault(topic.parent_id, []).append(topic)
        flat: list[tuple[int, Any]] = []

        def walk(parent: str | None, depth: int) -> None:
            for topic in by_parent.get(parent, []):
                flat.append((depth, topic))
                walk(topic.id, depth + 1)

        walk(None, 0)
        context.update(tree=flat, names=named, suggestions=await suggest_topics(session, principal))
    return render(request, "text/index.html", context, principal=principal)


async def _form(request: Request) -> Any:
    form = await request.form()
    return form if form_csrf_ok(request, form) else None


def _expired(request: Request, principal: Any) -> Response:
    return render(
        request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
    )


@router.post("/text/corrections")
async def correction_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await _form(request)
    if form is None:
        return _expired(request, principal)
    back = str(form.get("back") or "/text")
    back = back if back.startswith("/text") and "//" not in back else "/text"
    try:
        await correct_topic(
            session,
            principal,
            str(form.get("response_id") or "")[:26],
            str(form.get("question_id") or "")[:64],
            str(form.get("topic_id") or "")[:26],
            str(form.get("applies") or "") == "yes",
        )
    except AppError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return see_other(back + ("&" if "?" in back else "?") + "error=1")
    return see_other(back)


@router.post("/text/topics")
async def topic_create_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await _form(request)
    if form is None:
        return _expired(request, principal)
    name_zh = str(form.get("name_zh") or "").strip()[:200]
    name_en = str(form.get("name_en") or "").strip()[:200]
    names = {k: v for k, v in (("zh-CN", name_zh), ("en", name_en)) if v}
    if not names:
        return see_other("/text?tab=taxonomy&error=1")
    data = {
        "name": names,
        "parent_id": str(form.get("parent_id") or "")[:26] or None,
        "keywords": {"any": _csv_words(str(form.get("keywords") or ""))},
    }
    try:
        await create_topic(session, principal, data)
    except AppError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return see_other("/text?tab=taxonomy&error=1")
    return see_other("/text?tab=taxonomy&saved=1")


@router.post("/text/topics/{topic_id}")
async def topic_update_form(
    topic_id: str, request: Request, session: DbSession, principal: SignedIn
) -> Response:
    form = await _form(request)
    if form is None:
        return _expired(request, principal)
    try:
        if form.get("delete") == "yes":
            await delete_topic(session, principal, topic_id)
        else:
            await update_topic(
                session,
                principal,
                topic_id,
                {"keywords": {"any": _csv_words(str(form.get("keywords") or ""))}},
            )
    except AppError as exc:
        if exc.status in (401, 403) or exc.status >= 500:
            raise
        return see_other("/text?tab=taxonomy&error=1")
    return see_other("/text?tab=taxonomy&saved=1")
