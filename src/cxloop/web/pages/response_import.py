"""The response import page: upload a CSV/XLSX file, check the column mapping
on a preview, run a dry run, import. Works without scripts.

Pages keep no state between requests, so the uploaded file travels with the
form: compressed, base64url, cut into hidden fields under the 1 MB a form
field may hold. The checks and the import are the API's own services.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, UploadFile

from cxloop.collection.imports import (
    ALL_OR_NOTHING,
    IGNORE,
    MAX_FILE_BYTES,
    SKIP_BAD_ROWS,
    Mode,
    RowsInvalid,
    Table,
    check_rows,
    preview,
    read_table,
    store_checked,
    targets,
)
from cxloop.collection.service import published_survey
from cxloop.identity import Perm, Principal
from cxloop.kit.db import Database
from cxloop.kit.errors import AppError, PayloadTooLarge
from cxloop.kit.http import DbSession, TransactionalRoute, get_session, larger_body_limit
from cxloop.kit.idempotency import idempotent
from cxloop.kit.ids import new_id
from cxloop.surveys import SurveyDefinition, text_in
from cxloop.web.i18n import N_
from cxloop.web.pages.render import SignedIn, render, request_locale

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)

# The file as carried by the form: compressed text may not shrink, and base64 adds a third.
PAGE_BODY_BYTES = MAX_FILE_BYTES * 3 // 2 + 1024 * 1024
CHUNK_CHARS = 900_000
MAX_LISTED_ERRORS = 200
ZONES = (
    "UTC",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
)
FIELD_LABELS = {
    IGNORE: N_("Do not import"),
    "unit_code": N_("Unit code"),
    "channel": N_("Channel"),
    "touchpoint": N_("Touchpoint"),
    "language": N_("Language"),
    "submitted_at": N_("Submitted at"),
    "contact.email": N_("Contact email"),
    "contact.phone": N_("Contact phone"),
    "contact.external_id": N_("Customer id"),
}
LAYOUT_LABELS = {
    "plain": N_("one header row"),
    "qualtrics": N_("Qualtrics export, three header rows"),
    "qualtrics_legacy": N_("Qualtrics legacy export, two header rows"),
}
FILE_PROBLEMS = {
    "no_file": N_("Choose a CSV or XLSX file to upload."),
    "bad_upload": N_("The uploaded file could not be read back; upload it again."),
    "unreadable": N_("This file cannot be imported."),
    "bad_zone": N_("Choose a time zone from the list."),
}


def _survey_title(definition: SurveyDefinition, locale: str) -> str:
    return text_in(definition.title, locale, definition.default_language)


def target_options(definition: SurveyDefinition, locale: str) -> list[tuple[str, str, bool]]:
    """(value, label, label is a text to translate) for each target, in survey order."""
    options: list[tuple[str, str, bool]] = [(IGNORE, FIELD_LABELS[IGNORE], True)]
    for target in targets(definition):
        if target in FIELD_LABELS:
            options.append((target, FIELD_LABELS[target], True))
        elif target.startswith("embedded."):
            options.append((target, target, False))
        else:
            _, question_id, *part = target.split(".")
            question = definition.question(question_id)
            assert question is not None
            label = f"{question_id}: {text_in(question.text, locale, definition.default_language)}"
            if part and question.type == "matrix":
                row = next(r for r in question.rows if r.id == part[0])
                label += f" / {text_in(row.text, locale, definition.default_language)}"
            elif part:
                label += f" / {part[0]}"
            options.append((target, label[:120], False))
    return options


def pack(data: bytes) -> list[str]:
    packed = base64.urlsafe_b64encode(zlib.compress(data, 6)).decode("ascii")
    return [packed[i : i + CHUNK_CHARS] for i in range(0, len(packed), CHUNK_CHARS)] or [""]


def unpack(chunks: list[str]) -> bytes | None:
    try:
        squeezed = base64.urlsafe_b64decode("".join(chunks).encode("ascii"))
        inflater = zlib.decompressobj()
        data = inflater.decompress(squeezed, MAX_FILE_BYTES + 1)
    except (binascii.Error, zlib.error, ValueError, UnicodeEncodeError):
        return None
    if len(data) > MAX_FILE_BYTES or inflater.unconsumed_tail:
        raise PayloadTooLarge(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
    return data


async def _upload_page(
    request: Request,
    principal: Principal,
    survey_id: str,
    definition: SurveyDefinition,
    *,
    problem: str | None = None,
    detail: str | None = None,
    status: int = 200,
) -> Response:
    locale = request_locale(request, principal)
    context = {
        "survey_id": survey_id,
        "survey_title": _survey_title(definition, locale),
        "step": "upload",
        "zones": ZONES,
        "form": {"timezone": "UTC", "mode": ALL_OR_NOTHING},
        "problem": problem,
        "problem_detail": detail,
    }
    return render(request, "response_import.html", context, status=status, principal=principal)


async def _published(session: AsyncSession, principal: Principal, survey_id: str) -> SurveyDefinition:
    principal.require(Perm.DATA_WRITE)
    return (await published_survey(session, principal, survey_id[:27])).definition


@router.get("/surveys/{survey_id}/import")
async def import_page(request: Request, survey_id: str, session: DbSession, principal: SignedIn) -> Response:
    definition = await _published(session, principal, survey_id)
    return await _upload_page(request, principal, survey_id, definition)


def _field(form: FormData, name: str, default: str = "") -> str:
    value = form.get(name)
    return value[:200] if isinstance(value, str) else default


async def _file_from(form: FormData) -> tuple[str, bytes | None, str | None]:
    """(filename, bytes, problem key): a new upload, or the one the form carries."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.")
        return upload.filename[:200], data, None
    chunks = [c for c in form.getlist("upload") if isinstance(c, str)]
    if not chunks:
        return "", None, "no_file"
    unpacked = unpack(chunks)
    return _field(form, "filename"), unpacked, None if unpacked is not None else "bad_upload"


def _with_key(request: Request, key: str) -> Request:
    """The request as if it carried the form's key in the Idempotency-Key header."""
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"idempotency-key"]
    if key:
        headers.append((b"idempotency-key", key.encode("utf-8", "replace")))
    return Request({**request.scope, "headers": headers})


def _mapping_from(form: FormData, table: Table) -> dict[str, str] | None:
    """The selects of the preview (map-<column index>), when the form has them."""
    chosen: dict[str, str] = {}
    for column in table.columns:
        value = form.get(f"map-{column.index}")
        if isinstance(value, str):
            chosen[column.name] = value[:200]
    return chosen or None


@dataclass
class Step:
    """What one submission of the import form asked for, and what came of it."""

    survey_id: str
    definition: SurveyDefinition
    filename: str
    data: bytes
    table: Table
    zone_name: str
    mode: Mode
    # Outcome.as_dict(): also what an import answered the first time, for a form sent twice.
    outcome: dict[str, Any] | None = None
    refused: bool = False
    mapping_errors: list[str] = field(default_factory=list)


@router.post("/surveys/{survey_id}/import", openapi_extra=larger_body_limit(PAGE_BODY_BYTES))
async def import_step(request: Request, survey_id: str, principal: SignedIn) -> Response:
    # Everything but storing reads in a session of its own; the request's write session is
    # opened only to store (on SQLite after the turn at the one write lock, held until the
    # response), so reading and checking a big file blocks no other writer.
    db: Database = request.app.state.db
    async with db.session(write=False) as reading:
        return await _step(request, survey_id, reading, principal)


async def _step(request: Request, survey_id: str, reading: AsyncSession, principal: Principal) -> Response:
    definition = await _published(reading, principal, survey_id)
    form = await request.form(max_part_size=CHUNK_CHARS + 1024)
    filename, data, problem = await _file_from(form)
    if data is None:
        problem_text = FILE_PROBLEMS[problem or "no_file"]
        return await _upload_page(request, principal, survey_id, definition, problem=problem_text, status=422)
    zone_name = _field(form, "timezone", "UTC")
    if zone_name not in ZONES:
        problem_text = FILE_PROBLEMS["bad_zone"]
        return await _upload_page(request, principal, survey_id, definition, problem=problem_text, status=422)
    try:
        table = await asyncio.to_thread(read_table, filename, data)
    except AppError as error:
        if error.status == 413:
            raise
        problem_text, detail = FILE_PROBLEMS["unreadable"], error.detail
        return await _upload_page(
            request, principal, survey_id, definition, problem=problem_text, detail=detail, status=422
        )
    mode: Mode = SKIP_BAD_ROWS if _field(form, "mode") == SKIP_BAD_ROWS else ALL_OR_NOTHING
    step = Step(survey_id, definition, filename, data, table, zone_name, mode)
    action = _field(form, "action", "preview")
    given = _mapping_from(form, table)
    zone = ZoneInfo(zone_name)
    status = 200
    try:
        if action in ("dry_run", "import"):
            dry_run = action == "dry_run"
            checked = await check_rows(
                reading, principal, survey_id, table, given, mode=mode, dry_run=dry_run, zone=zone
            )
            step.outcome = checked.outcome.as_dict()
        if action == "import":
            session = await get_session(request)

            async def create() -> Any:
                return (await store_checked(session, principal, checked)).as_dict()

            # The form's key makes a second click (or a reload) answer the first import
            # instead of importing the file again.
            digest = hashlib.sha256(data).hexdigest()
            fingerprint = {"file": digest, "mapping": given, "mode": mode, "zone": zone_name}
            keyed = _with_key(request, _field(form, "import_key"))
            owner = principal.idempotency_owner
            answered = await idempotent(keyed, session, owner, fingerprint, create, status_code=200)
            step.outcome = json.loads(bytes(answered.body))
        shown = await preview(reading, principal, survey_id, table, given, zone=zone)
    except RowsInvalid as exc:
        # A 4xx answer rolls the transaction back: nothing of the file is kept.
        step.outcome, step.refused, status = exc.outcome.as_dict(), True, 422
        shown = await preview(reading, principal, survey_id, table, given, zone=zone)
    except AppError as error:
        if error.code != "invalid_mapping":
            raise
        # Two columns chose the same target: show the suggestion again with the reason.
        step.mapping_errors = [e.message for e in error.errors]
        status = 422
        shown = await preview(reading, principal, survey_id, table, None, zone=zone)
    return _preview_page(request, principal, step, shown, status)


def _preview_page(
    request: Request, principal: Principal, step: Step, shown: dict[str, Any], status: int
) -> Response:
    locale = request_locale(request, principal)
    names = [c["name"] for c in shown["columns"]]
    result = step.outcome
    if result is not None:
        result = {**result, "errors": result["errors"][:MAX_LISTED_ERRORS]}
    table = step.table
    context = {
        "survey_id": step.survey_id,
        "survey_title": _survey_title(step.definition, locale),
        "step": "result" if result is not None and not result["dry_run"] and not step.refused else "preview",
        "zones": ZONES,
        "form": {"timezone": step.zone_name, "mode": step.mode},
        "file": {
            "name": step.filename,
            "format": table.format.upper(),
            "encoding": table.encoding,
            "delimiter": {"\t": "Tab"}.get(table.delimiter or "", table.delimiter),
            "layout": LAYOUT_LABELS[table.layout],
            "rows": len(table.rows),
        },
        "columns": [{"index": i, **c} for i, c in enumerate(shown["columns"])],
        "options": target_options(step.definition, locale),
        "rows": [
            {"row": r["row"], "cells": [r["cells"][n] for n in names], "errors": r["errors"]}
            for r in shown["rows"]
        ],
        "upload_chunks": pack(step.data),
        "filename": step.filename,
        "outcome": result,
        "refused": step.refused,
        "mapping_errors": step.mapping_errors,
        "listed_errors": MAX_LISTED_ERRORS,
        "import_key": new_id(),
    }
    return render(request, "response_import.html", context, status=status, principal=principal)
