"""The response import API: preview a CSV/XLSX file against a published
survey, then import it (all or nothing, or skipping bad rows; or a dry run)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cxloop.collection.imports import (
    MAX_FILE_BYTES,
    Table,
    check_rows,
    parse_mapping,
    preview,
    read_table,
    store_checked,
)
from cxloop.identity import CurrentPrincipal, Perm
from cxloop.kit.db import Database
from cxloop.kit.errors import PayloadTooLarge, invalid
from cxloop.kit.http import TransactionalRoute, get_session, larger_body_limit
from cxloop.kit.idempotency import idempotent

# The file plus the form's other fields and the multipart framing.
IMPORT_BODY_BYTES = MAX_FILE_BYTES + 512 * 1024

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["responses"])


class RowErrorOut(BaseModel):
    row: int
    column: str | None
    path: str
    message: str


class ImportOut(BaseModel):
    mode: Literal["all_or_nothing", "skip_bad_rows"]
    dry_run: bool
    rows: int
    valid: int
    imported: int
    skipped: int
    error_count: int
    errors: list[RowErrorOut]
    unmapped: list[str]


class ColumnOut(BaseModel):
    name: str
    text: str | None
    import_id: str | None
    target: str
    suggested: str


class PreviewRowOut(BaseModel):
    row: int
    cells: dict[str, str]
    item: dict[str, Any]
    errors: list[RowErrorOut]


class PreviewOut(BaseModel):
    format: Literal["csv", "xlsx"]
    layout: Literal["plain", "qualtrics", "qualtrics_legacy"]
    encoding: str | None
    delimiter: str | None
    header_rows: int
    columns: list[ColumnOut]
    mapping: dict[str, str]
    unmapped: list[str]
    targets: list[str]
    total_rows: int
    rows: list[PreviewRowOut]


FileField = Annotated[UploadFile, File(description="A CSV (UTF-8, UTF-8 with BOM or GB18030) or XLSX file")]
MappingField = Annotated[
    str | None, Form(description='JSON: {"column": "answers.nps" | "unit_code" | ... | "ignore"}')
]
ZoneField = Annotated[
    str | None, Form(max_length=64, description="IANA time zone for times without an offset (default UTC)")
]


async def read_upload(file: UploadFile) -> tuple[bytes, Table]:
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.", code="import_file_too_large"
        )
    # Parsing a large workbook takes seconds: keep it off the event loop.
    table = await asyncio.to_thread(read_table, file.filename or "", data)
    return data, table


def time_zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid("timezone", f"{name!r} is not a known time zone such as Asia/Shanghai.") from exc


# python-multipart refuses a damaged body before any of our code sees it.
UNPARSABLE_UPLOAD: dict[int | str, dict[str, Any]] = {
    400: {"description": "The multipart body cannot be parsed"}
}


@router.post(
    "/surveys/{survey_id}/responses/import/preview",
    response_model=PreviewOut,
    summary="How a CSV/XLSX file of responses reads: layout, suggested mapping, first 20 rows converted",
    responses=UNPARSABLE_UPLOAD,
    openapi_extra=larger_body_limit(IMPORT_BODY_BYTES),
)
async def post_import_preview(
    request: Request,
    survey_id: str,
    principal: CurrentPrincipal,
    file: FileField,
    mapping: MappingField = None,
    timezone: ZoneField = None,
) -> JSONResponse:
    principal.require(Perm.DATA_WRITE)
    given = parse_mapping(mapping)
    zone = time_zone(timezone)
    _, table = await read_upload(file)
    # Only reads: no write transaction (nor, on SQLite, a turn at the write lock) for a preview.
    db: Database = request.app.state.db
    async with db.session(write=False) as reading:
        return JSONResponse(await preview(reading, principal, survey_id, table, given, zone=zone))


@router.post(
    "/surveys/{survey_id}/responses/import",
    response_model=ImportOut,
    summary="Import responses from a CSV/XLSX file: all or nothing, or skipping bad rows; or a dry run",
    responses=UNPARSABLE_UPLOAD,
    openapi_extra=larger_body_limit(IMPORT_BODY_BYTES),
)
async def post_import(
    request: Request,
    survey_id: str,
    principal: CurrentPrincipal,
    file: FileField,
    mapping: MappingField = None,
    mode: Annotated[Literal["all_or_nothing", "skip_bad_rows"], Form()] = "all_or_nothing",
    dry_run: Annotated[bool, Form()] = False,
    timezone: ZoneField = None,
) -> JSONResponse:
    principal.require(Perm.DATA_WRITE)
    given = parse_mapping(mapping)
    zone = time_zone(timezone)
    data, table = await read_upload(file)
    # The rows are checked in a read transaction of their own. The request's write
    # session is opened only then (on SQLite after waiting for the turn at the one
    # write lock, which is held until the response), so checking blocks no writer.
    db: Database = request.app.state.db
    async with db.session(write=False) as reading:
        checked = await check_rows(
            reading, principal, survey_id, table, given, mode=mode, dry_run=dry_run, zone=zone
        )
    session = await get_session(request)

    async def create() -> Any:
        outcome = await store_checked(session, principal, checked)
        return outcome.as_dict()

    fingerprint = {
        "survey_id": survey_id,
        "file": hashlib.sha256(data).hexdigest(),
        "mapping": given,
        "mode": mode,
        "dry_run": dry_run,
        "timezone": zone.key,
    }
    return await idempotent(
        request, session, principal.idempotency_owner, fingerprint, create, status_code=200
    )
