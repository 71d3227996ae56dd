"""Contact import (preview, then import or dry run) and CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.crypto import aad, keyring
from cxloop.customers.directory import readable
from cxloop.customers.imports import (
    MAX_FILE_BYTES,
    Outcome,
    Table,
    check_mapping,
    import_contacts,
    read_table,
    suggest,
    targets,
)
from cxloop.customers.models import Contact
from cxloop.customers.service import load_identities
from cxloop.identity import Actor, AuditAction, CurrentPrincipal, Perm, record
from cxloop.kit.errors import PayloadTooLarge, invalid
from cxloop.kit.http import DbSession, TransactionalRoute, larger_body_limit, run_after_request

router = APIRouter(route_class=TransactionalRoute, tags=["contacts import and export"])
IMPORT_BODY_BYTES = MAX_FILE_BYTES + 512 * 1024
EXPORT_KINDS = ("email", "phone", "member_id", "external_id", "wechat_openid")

FileField = Annotated[
    UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX; the first row names the columns")
]
MappingField = Annotated[
    str | None, Form(max_length=100_000, description='JSON: {"column": "email" | "attr:tier" | "ignore" ...}')
]


# python-multipart refuses a damaged body before any of our code sees it.
UNPARSABLE_UPLOAD: dict[int | str, dict[str, Any]] = {
    400: {"description": "The multipart body cannot be parsed"}
}


class RowErrorOut(BaseModel):
    row: int
    column: str | None
    message: str


class ImportOut(BaseModel):
    rows: int
    created: int
    updated: int
    skipped: int
    dry_run: bool
    error_count: int
    errors: list[RowErrorOut]


class ImportPreviewOut(BaseModel):
    columns: list[str]
    mapping: dict[str, str]
    targets: list[str]
    total_rows: int
    sample: list[dict[str, str]]


async def read_upload(file: UploadFile) -> Table:
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge("The file is too large.", code="import_file_too_large")
    return await asyncio.to_thread(read_table, data, file.filename or "")


def parse_mapping(raw: str | None) -> dict[str, str] | None:
    if raw is None or not raw.strip():
        return None
    try:
        given: Any = json.loads(raw)
    except ValueError as exc:
        raise invalid("mapping", "The mapping is not JSON.", code="invalid_mapping") from exc
    if not isinstance(given, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in given.items()
    ):
        raise invalid("mapping", 'The mapping is an object {"column": "target"}.', code="invalid_mapping")
    return given


def outcome_out(outcome: Outcome) -> ImportOut:
    return ImportOut(
        rows=outcome.rows,
        created=outcome.created,
        updated=outcome.updated,
        skipped=outcome.skipped,
        dry_run=outcome.dry_run,
        error_count=len(outcome.errors),
        errors=[RowErrorOut(row=e.row, column=e.column, message=e.message) for e in outcome.errors[:200]],
    )


@router.post(
    "/contacts/import/preview",
    response_model=ImportPreviewOut,
    summary="How a contacts file reads: columns, the suggested mapping, the first 20 rows",
    openapi_extra=larger_body_limit(IMPORT_BODY_BYTES),
    responses=UNPARSABLE_UPLOAD,
)
async def preview_import(
    file: FileField, session: DbSession, principal: CurrentPrincipal, mapping: MappingField = None
) -> ImportPreviewOut:
    principal.require(Perm.DATA_WRITE)
    table = await read_upload(file)
    given = parse_mapping(mapping)
    resolved = check_mapping(table, given) if given else suggest(table)
    return ImportPreviewOut(
        columns=table.columns,
        mapping=resolved,
        targets=[*targets(), "attr:<key>", "ignore"],
        total_rows=len(table.rows),
        sample=[dict(zip(table.columns, row, strict=True)) for row in table.rows[:20]],
    )


@router.post(
    "/contacts/import",
    response_model=ImportOut,
    summary="Import contacts from CSV/XLSX (all or nothing, or skipping bad rows; or a dry run)",
    openapi_extra=larger_body_limit(IMPORT_BODY_BYTES),
    responses=UNPARSABLE_UPLOAD,
)
async def post_import(
    file: FileField,
    session: DbSession,
    principal: CurrentPrincipal,
    mapping: MappingField = None,
    mode: Annotated[Literal["all_or_nothing", "skip_bad_rows"], Form()] = "all_or_nothing",
    dry_run: Annotated[bool, Form()] = False,
) -> ImportOut:
    table = await read_upload(file)
    outcome = await import_contacts(
        session, principal, table, parse_mapping(mapping), mode=mode, dry_run=dry_run
    )
    return outcome_out(outcome)


@router.get(
    "/contacts/export",
    summary="Contacts in your scope as CSV (decrypted: the export is audited)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_contacts(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> StreamingResponse:
    statement = readable(principal).order_by(Contact.id)

    async def audit(follow_up: AsyncSession) -> None:
        # A GET's own transaction is read-only; the audit event gets one of its own.
        details = {"format": "csv", "rows": len(rows)}
        record(
            follow_up, Actor.of(principal), AuditAction.DATA_EXPORTED, target_type="contacts", details=details
        )

    ring = keyring()
    rows = list((await session.execute(statement)).all())

    # Written out before answering: the request's session closes when the handler returns.
    parts = await _csv_parts(session, rows, ring)
    run_after_request(request, audit)

    async def lines() -> AsyncIterator[str]:
        for part in parts:
            yield part

    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'},
    )


async def _csv_parts(session: Any, rows: list[Any], ring: Any) -> list[str]:
    parts: list[str] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "unit_code", "name", *EXPORT_KINDS, "language", "timezone", "tags", "attributes"])
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        identities = await load_identities(session, [contact.id for contact, _ in chunk])
        for contact, unit_code in chunk:
            first: dict[str, str] = {}
            for identity in identities.get(contact.id, []):
                if identity.kind not in first:
                    first[identity.kind] = ring.decrypt(
                        identity.value_enc, aad(contact.tenant_id, "contact_identities", "value")
                    )
            name = (
                ring.decrypt(contact.name_enc, aad(contact.tenant_id, "contacts", "name"))
                if contact.name_enc
                else ""
            )
            writer.writerow(
                [
                    contact.id,
                    unit_code or "",
                    name,
                    *(first.get(kind, "") for kind in EXPORT_KINDS),
                    contact.language or "",
                    contact.timezone or "",
                    ";".join(contact.tags or []),
                    json.dumps(contact.attributes or {}, ensure_ascii=False, sort_keys=True),
                ]
            )
        parts.append(buffer.getvalue())
        buffer.seek(0)
        buffer.truncate()
    parts.append(buffer.getvalue())
    return parts
