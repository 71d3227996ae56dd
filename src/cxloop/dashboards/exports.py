"""Widget and table exports (CSV, XLSX) and the dashboard as a PDF report.

All three are pure functions of rows already computed for the viewer, so an
export never shows more than the screen does. They block (xlsxwriter,
WeasyPrint's layout): callers run them in the thread pool or in a job.
"""

from __future__ import annotations

import csv
import html
import importlib
import io
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

# Chinese needs a CJK font, or WeasyPrint draws boxes; these are Debian's
# fonts-noto-cjk and fonts-wqy-microhei family names, tried in order.
CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans CJK", "WenQuanYi Micro Hei", "Noto Serif CJK SC", sans-serif'
# Cells a spreadsheet would run as a formula: prefixed with a quote (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every key that occurs, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    # Negative numbers are numbers above; a text starting with "-" could be a formula.
    return "'" + text if text.startswith(FORMULA_START) else text


def rows_to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> bytes:
    columns = list(columns or columns_of(rows))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    # A BOM, so that Excel opens Chinese CSV as UTF-8.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def rows_to_xlsx(sheets: Iterable[tuple[str, Sequence[dict[str, Any]]]]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for title, rows in sheets:
        name = _sheet_name(title, used)
        sheet = book.add_worksheet(name)
        columns = columns_of(rows)
        for col, key in enumerate(columns):
            sheet.write_string(0, col, key, bold)
        for r, row in enumerate(rows, start=1):
            for col, key in enumerate(columns):
                value = _cell(row.get(key))
                if isinstance(value, int | float) and not isinstance(value, bool):
                    sheet.write_number(r, col, value)
                else:
                    sheet.write_string(r, col, str(value))
    book.close()
    return buffer.getvalue()


def _sheet_name(title: str, used: set[str]) -> str:
    # Excel: at most 31 characters, none of []:*?/\ and unique.
    base = "".join("_" if c in "[]:*?/\\" else c for c in title).strip() or "Sheet"
    base = base[:28]
    name, n = base, 2
    while name.casefold() in used:
        name, n = f"{base[:25]}~{n}", n + 1
    used.add(name.casefold())
    return name


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    cell = _cell(value)
    return html.escape(str(cell).lstrip("'") if isinstance(cell, str) else str(cell))


def report_html(
    title: str,
    subtitle: str,
    sections: Sequence[tuple[str, Sequence[dict[str, Any]], str | None]],
    generated_at: datetime,
    labels: dict[str, str],
    charts: Sequence[str | None] | None = None,
) -> str:
    """The report as HTML for WeasyPrint: per widget its chart (server-drawn SVG, when the
    type has one) and its table below."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><style>",
        f"body{{font-family:{CJK_FONTS};font-size:10pt;color:#1f2933}}",
        "h1{font-size:16pt;margin:0 0 4pt}h2{font-size:12pt;margin:14pt 0 4pt}",
        "table{border-collapse:collapse;width:100%}th,td{border:0.5pt solid #cbd2d9;padding:2pt 4pt;"
        "text-align:left}th{background:#f0f4f8}.muted{color:#616e7c}",
        ".chart{margin:4pt 0 6pt;page-break-inside:avoid}",
        "@page{size:A4;margin:14mm}",
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='muted'>{html.escape(subtitle)}</p>",
        f"<p class='muted'>{html.escape(labels.get('generated', 'Generated'))}: "
        f"{html.escape(generated_at.isoformat(timespec='minutes'))}</p>",
    ]
    for index, (heading, rows, note) in enumerate(sections):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if note:
            parts.append(f"<p class='muted'>{html.escape(note)}</p>")
        chart = charts[index] if charts is not None and index < len(charts) else None
        if chart:
            # Built by svg_charts from escaped labels: safe to embed as markup.
            parts.append(f"<div class='chart'>{chart}</div>")
        if not rows:
            parts.append(f"<p class='muted'>{html.escape(labels.get('empty', 'No data'))}</p>")
            continue
        columns = columns_of(rows)
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{html.escape(c)}</th>" for c in columns)
        parts.append("</tr></thead><tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{_fmt(row.get(c))}</td>" for c in columns) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def html_to_pdf(document: str) -> bytes:
    # Imported on use: it loads pango through cffi, which only PDF exports need.
    weasyprint: Any = importlib.import_module("weasyprint")
    pdf: bytes = weasyprint.HTML(string=document).write_pdf()
    return pdf
