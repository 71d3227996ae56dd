"""Customer pages for setting things up: segments, journeys and the contact import.

Pages keep no state between requests: the import preview carries the
uploaded file in a hidden field (compressed, base64url) to the import step.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from cxloop.customers.imports import (
    IGNORE,
    Mode,
    RowsInvalid,
    Table,
    import_contacts,
    read_table,
    suggest,
    targets,
)
from cxloop.customers.journeys import list_journeys, save_journey
from cxloop.customers.schemas import JourneyIn
from cxloop.customers.segments import SegmentFilter, count_matching, list_segments, save_segment
from cxloop.identity import Perm
from cxloop.kit.errors import AppError
from cxloop.kit.formjson import parse_form_json
from cxloop.kit.http import DbSession, TransactionalRoute, larger_body_limit
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, form_csrf_ok, render, see_other

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

PAGE_FILE_BYTES = 5 * 1024 * 1024
PAGE_BODY_BYTES = PAGE_FILE_BYTES * 2 + 1024 * 1024
FILTER_EXAMPLE = json.dumps(
    {
        "match": "all",
        "conditions": [
            {"tag": "vip"},
            {"unit_code": "EAST"},
            {"response": {"question_id": "nps", "op": "lte", "value": 6, "within_days": 90}},
        ],
    },
    ensure_ascii=False,
    indent=2,
)


def _expired(request: Request, principal: Any) -> Response:
    return render(
        request, "error.html", {"error_title": N_("The form expired")}, status=403, principal=principal
    )


# --- segments ---------------------------------------------------------------------------


async def _segments_context(session: Any, principal: Any) -> dict[str, Any]:
    reach = principal.reach(Perm.DATA_READ)
    rows = []
    for segment in await list_segments(session, principal.tenant_id):
        where = SegmentFilter.model_validate(segment.filter)
        rows.append(
            {"segment": segment, "count": await count_matching(session, principal.tenant_id, where, reach)}
        )
    return {"rows": rows, "can_edit": principal.can(Perm.CONFIG_WRITE), "example": FILTER_EXAMPLE}


@router.get("/segments")
async def segments_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    context = await _segments_context(session, principal)
    context.update(form={"name": "", "filter": FILTER_EXAMPLE}, error=None, preview=None)
    return render(request, "customers/segments.html", context, principal=principal)


@router.post("/segments")
async def segments_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    principal.require(Perm.DATA_READ)
    name = str(form.get("name") or "").strip()[:200]
    text = str(form.get("filter") or "")[:20_000]
    error: str | None = None
    preview: int | None = None
    try:
        where = SegmentFilter.model_validate(parse_form_json(text))
        if form.get("action") == "preview":
            preview = await count_matching(
                session, principal.tenant_id, where, principal.reach(Perm.DATA_READ)
            )
        else:
            principal.require(Perm.CONFIG_WRITE)
            if not name:
                error = N_("A segment needs a name.")
            else:
                await save_segment(session, principal.tenant_id, name, where)
                return see_other("/segments")
    except (ValueError, ValidationError):
        error = N_("The filter is not valid JSON of conditions (see the example).")
    except AppError as exc:
        if exc.status >= 500 or exc.status == 403:
            raise
        error = N_("The filter or the name is not valid (an unknown unit, or a name in use).")
    context = await _segments_context(session, principal)
    context.update(form={"name": name, "filter": text}, error=error, preview=preview)
    return render(
        request, "customers/segments.html", context, status=200 if error is None else 422, principal=principal
    )


# --- journeys ---------------------------------------------------------------------------


def _parse_stages(text: str) -> list[dict[str, Any]]:
    """One stage a line: ``stage: touchpoint, touchpoint``."""
    stages = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, rest = line.partition(":")
        points = [{"key": t.strip()} for t in rest.split(",") if t.strip()]
        stages.append({"key": key.strip(), "touchpoints": points})
    return stages


@router.get("/journeys")
async def journeys_page(request: Request, session: DbSession, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_READ)
    context = {
        "journeys": await list_journeys(session, principal.tenant_id),
        "can_edit": principal.can(Perm.CONFIG_WRITE),
        "form": {"key": "", "name": "", "stages": ""},
        "error": None,
    }
    return render(request, "customers/journeys.html", context, principal=principal)


@router.post("/journeys")
async def journeys_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form()
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    principal.require(Perm.CONFIG_WRITE)
    values = {key: str(form.get(key) or "")[:5000] for key in ("key", "name", "stages")}
    locale = "zh-CN" if (principal.locale or "zh-CN").startswith("zh") else "en"
    try:
        body = JourneyIn.model_validate(
            {
                "key": values["key"].strip(),
                "name": {locale: values["name"].strip() or values["key"].strip()},
                "stages": _parse_stages(values["stages"]),
            }
        )
        await save_journey(session, principal.tenant_id, body)
        return see_other("/journeys")
    except (ValidationError, AppError) as exc:
        if isinstance(exc, AppError) and (exc.status >= 500 or exc.status == 403):
            raise
        error = N_("Keys are lower-case letters, digits and _; each key once; the journey key must be new.")
    context = {
        "journeys": await list_journeys(session, principal.tenant_id),
        "can_edit": True,
        "form": values,
        "error": error,
    }
    return render(request, "customers/journeys.html", context, status=422, principal=principal)


# --- import -----------------------------------------------------------------------------


def _pack(name: str, data: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(json.dumps([name]).encode() + b"\n" + data, 6)).decode()


def _unpack(packed: str) -> tuple[str, bytes]:
    """The file the preview step packed into the form; ValueError for anything the page did not write."""
    inflater = zlib.decompressobj()
    # A limit on the output, not on the buffer: a tampered field could inflate to gigabytes.
    raw = inflater.decompress(base64.urlsafe_b64decode(packed.encode("ascii")), PAGE_FILE_BYTES + 4096)
    if inflater.unconsumed_tail:
        raise ValueError("the packed file is larger than a page upload may be")
    header, _, data = raw.partition(b"\n")
    name = parse_form_json(header.decode())
    if not (isinstance(name, list) and len(name) == 1 and isinstance(name[0], str)):
        raise ValueError("the packed file has no name")
    return name[0], data


def _import_context(
    table: Table | None, packed: str, mapping: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "table": table,
        "sample": table.rows[:10] if table else [],
        "packed": packed,
        "mapping": mapping,
        "choices": [*targets(), IGNORE],
        "ignore": IGNORE,
        "outcome": None,
        "error": None,
        "detail": None,
        **extra,
    }


@router.get("/contacts/import")
async def import_page(request: Request, principal: SignedIn) -> Response:
    principal.require(Perm.DATA_WRITE)
    return render(request, "customers/import.html", _import_context(None, "", {}), principal=principal)


@router.post("/contacts/import", openapi_extra=larger_body_limit(PAGE_BODY_BYTES))
async def import_form(request: Request, session: DbSession, principal: SignedIn) -> Response:
    form = await request.form(max_part_size=PAGE_BODY_BYTES)
    if not form_csrf_ok(request, form):
        return _expired(request, principal)
    principal.require(Perm.DATA_WRITE)
    upload = form.get("file")
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(PAGE_FILE_BYTES + 1)
            if len(data) > PAGE_FILE_BYTES:
                raise ValueError("too large")
            name = upload.filename
            packed = _pack(name, data)
        else:
            packed = str(form.get("packed") or "")
            name, data = _unpack(packed)
        # A large workbook takes seconds to parse: off the event loop, so other requests go on.
        table = await asyncio.to_thread(read_table, data, name)
    except (ValueError, UnicodeEncodeError, binascii.Error, zlib.error, AppError) as exc:
        if isinstance(exc, AppError) and (exc.status >= 500 or exc.status == 403):
            raise
        context = _import_context(
            None,
            "",
            {},
            error=N_("The file could not be read. Use CSV or XLSX of at most 5 MB."),
            detail=exc.detail if isinstance(exc, AppError) else None,
        )
        return render(request, "customers/import.html", context, status=422, principal=principal)
    mapping = suggest(table)
    for column in table.columns:
        chosen = form.get(f"map:{column}")
        if isinstance(chosen, str) and (chosen in (*targets(), IGNORE) or chosen.startswith("attr:")):
            mapping[column] = chosen
    action = str(form.get("action") or "preview")
    if action == "preview":
        return render(
            request, "customers/import.html", _import_context(table, packed, mapping), principal=principal
        )
    mode: Mode = "skip_bad_rows" if form.get("mode") == "skip_bad_rows" else "all_or_nothing"
    try:
        outcome = await import_contacts(
            session, principal, table, mapping, mode=mode, dry_run=action == "dry_run"
        )
    except RowsInvalid as exc:
        context = _import_context(table, packed, mapping, outcome=exc.outcome, refused=True)
        return render(request, "customers/import.html", context, status=422, principal=principal)
    except AppError as exc:
        if exc.status >= 500 or exc.status == 403:
            raise
        context = _import_context(
            table,
            packed,
            mapping,
            error=N_("The column mapping is not valid: map at least one identity, each target once."),
        )
        return render(request, "customers/import.html", context, status=422, principal=principal)
    context = _import_context(table, packed, mapping, outcome=outcome, refused=False)
    return render(request, "customers/import.html", context, principal=principal)
