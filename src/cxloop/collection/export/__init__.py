"""Response export: CSV (streamed), XLSX and SPSS .sav, within the caller's
DATA_READ reach. See docs/collection.md, "Exporting responses".

``plan_export`` checks everything that can be refused before a byte is sent;
``csv_chunks`` streams CSV; ``write_export`` writes any format to a file,
the heavy writing in a worker thread so that the event loop stays free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.export.csv_format import CsvEncoder, csv_chunks
from cxloop.collection.export.sav_format import SavColumns
from cxloop.collection.export.source import FORMATS, ExportFilter, ExportPlan, Format, plan_export, read_pages
from cxloop.collection.export.xlsx_format import XlsxSheet
from cxloop.identity import Actor, AuditAction, record
from cxloop.kit.db import Database

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "sav": "application/x-spss-sav",
}


def file_name(plan: ExportPlan, format: Format) -> str:
    return f"responses-{plan.survey_id}.{format}"


async def write_export(db: Database, plan: ExportPlan, format: Format, path: Path) -> int:
    """Write the export to ``path``; the number of responses written."""
    count = 0
    if format == "csv":
        encoder = CsvEncoder(plan)
        out = await to_thread.run_sync(path.open, "wb")
        try:
            if plan.where.after is None:
                await to_thread.run_sync(out.write, encoder.header())
            async for page in read_pages(db, plan):
                await to_thread.run_sync(out.write, encoder.page(page))
                count += len(page)
        finally:
            await to_thread.run_sync(out.close)
        return count
    if format == "xlsx":
        sheet = await to_thread.run_sync(XlsxSheet, path, plan)
        try:
            async for page in read_pages(db, plan):
                await to_thread.run_sync(sheet.write, page)
                count += len(page)
        finally:
            await to_thread.run_sync(sheet.close)
        return count
    columns = SavColumns(plan)
    async for page in read_pages(db, plan):
        columns.add(page)
        count += len(page)
    await to_thread.run_sync(columns.write, path)
    return count


def record_export(session: AsyncSession, actor: Actor, plan: ExportPlan, format: Format) -> None:
    """The audit event of an export: what was asked for, never what it held."""
    details: dict[str, Any] = {
        "survey_id": plan.survey_id,
        "format": format,
        "values": "labels" if plan.labelled else "codes",
        "language": plan.language,
        "filters": plan.where.described(),
    }
    action = AuditAction.DATA_EXPORTED
    record(session, actor, action, target_type="survey", target_id=plan.survey_id, details=details)


__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ExportFilter",
    "ExportPlan",
    "Format",
    "csv_chunks",
    "file_name",
    "plan_export",
    "record_export",
    "write_export",
]
