"""The export API: a survey's responses as CSV, XLSX or SPSS .sav."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response as HttpResponse
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.export import (
    MEDIA_TYPES,
    ExportFilter,
    Format,
    csv_chunks,
    file_name,
    plan_export,
    record_export,
    write_export,
)
from cxloop.identity import Actor, CurrentPrincipal
from cxloop.kit.http import DbSession, TransactionalRoute, run_after_request

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["responses"])

Text = Annotated[str | None, Query(min_length=1, max_length=64)]
When = Annotated[AwareDatetime | None, Query()]
# Resuming a cut-off download: the last response id received.
After = Annotated[str | None, Query(pattern=r"^[0-9A-Za-z]{1,26}$")]
Language = Annotated[str | None, Query(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35)]

CHUNK_BYTES = 64 * 1024
_FILES = {
    media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for media in MEDIA_TYPES.values()
}


@router.get(
    "/surveys/{survey_id}/responses/export",
    response_class=HttpResponse,
    responses={200: {"content": _FILES, "description": "The export, as an attachment"}},
    summary="Export responses as CSV, XLSX or SPSS .sav (codes or labels)",
)
async def export_responses(
    request: Request,
    survey_id: str,
    session: DbSession,
    principal: CurrentPrincipal,
    format_: Annotated[Format, Query(alias="format")] = "csv",
    values: Literal["codes", "labels"] = "codes",
    language: Language = None,
    unit_code: Text = None,
    channel: Text = None,
    touchpoint: Text = None,
    submitted_from: When = None,
    submitted_to: When = None,
    status: Literal["complete", "partial", "all"] = "complete",
    after: After = None,
) -> HttpResponse:
    where = ExportFilter(unit_code, channel, touchpoint, submitted_from, submitted_to, status, after)
    plan = await plan_export(
        session, principal, survey_id, where, labelled=values == "labels", language=language
    )
    actor = Actor.of(principal)

    async def audit(follow_up: AsyncSession) -> None:
        record_export(follow_up, actor, plan, format_)

    db = request.app.state.db
    headers = {
        "Content-Disposition": f'attachment; filename="{file_name(plan, format_)}"',
        "Cache-Control": "no-store",
    }
    if format_ == "csv":
        run_after_request(request, audit)
        return StreamingResponse(csv_chunks(db, plan), media_type=MEDIA_TYPES["csv"], headers=headers)
    path = await to_thread.run_sync(_temporary_file, format_)
    try:
        await write_export(db, plan, format_, path)
    except BaseException:
        await to_thread.run_sync(_remove, path)
        raise
    handle, size = await to_thread.run_sync(_open_and_remove, path)
    headers["Content-Length"] = str(size)
    run_after_request(request, audit)
    return StreamingResponse(_file_chunks(handle), media_type=MEDIA_TYPES[format_], headers=headers)


def _temporary_file(format_: Format) -> Path:
    descriptor, name = tempfile.mkstemp(prefix="cxloop-export-", suffix=f".{format_}")
    os.close(descriptor)
    return Path(name)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _open_and_remove(path: Path) -> tuple[BinaryIO, int]:
    """Gone from the disk once open: whatever becomes of the download, the space comes back."""
    handle = path.open("rb")
    path.unlink()
    return handle, os.fstat(handle.fileno()).st_size


async def _file_chunks(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await to_thread.run_sync(handle.read, CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()
