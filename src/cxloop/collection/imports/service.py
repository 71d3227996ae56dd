"""Rows of a response file become responses, checked one by one by the same
``prepare()`` as the API, then stored in one transaction. Never commits.

All or nothing: one bad row and nothing is stored (the refusal lists every
bad row). Skip bad rows: the good ones are stored, the bad ones reported.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.imports import cells
from cxloop.collection.imports.mapping import IGNORE, OTHER_TEXT, resolve, suggest, targets
from cxloop.collection.imports.reading import Table, cell_text
from cxloop.collection.models import Response
from cxloop.collection.schemas import ResponseIn
from cxloop.collection.service import Published, UnitResolver, item_errors, prepare, published_survey, store
from cxloop.identity import Perm, Principal
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.surveys import SurveyDefinition

SOURCE_IMPORT = "import"
DEFAULT_CHANNEL = "import"
Mode = Literal["all_or_nothing", "skip_bad_rows"]
ALL_OR_NOTHING: Mode = "all_or_nothing"
SKIP_BAD_ROWS: Mode = "skip_bad_rows"
# Rows added and flushed together: bounded memory and statement size for big files.
CHUNK_ROWS = 1000
# Errors listed in an answer; error_count says how many there were in all.
MAX_REPORTED_ERRORS = 1000
PREVIEW_ROWS = 20
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "path": self.path, "message": self.message}


@dataclass
class RowItem:
    row: int
    item: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)


@dataclass
class Plan:
    table: Table
    definition: SurveyDefinition
    mapping: dict[str, str]
    zone: tzinfo = UTC
    column_of: dict[str, str] = field(default_factory=dict)
    choices: dict[str, cells.Choices] = field(default_factory=dict)
    questions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.column_of = {target: column for column, target in self.mapping.items() if target != IGNORE}
        qualtrics = self.table.layout.startswith("qualtrics")
        for _, question in self.definition.questions():
            self.questions[question.id] = question
            if hasattr(question, "choices"):
                self.choices[question.id] = cells.Choices(question.choices, numeric_codes=qualtrics)

    def column_for(self, path: str) -> str | None:
        """The column an error path comes from (answers.liked[1] -> the liked column)."""
        clean = re.sub(r"\[\d+\]", "", path)
        while clean:
            if clean in self.column_of:
                return self.column_of[clean]
            nested = next((c for t, c in self.column_of.items() if t.startswith(clean + ".")), None)
            if nested is not None:
                return nested
            clean = clean.rpartition(".")[0]
        return None


def make_plan(
    table: Table, definition: SurveyDefinition, given: dict[str, str] | None, zone: tzinfo = UTC
) -> Plan:
    return Plan(table, definition, resolve(table, definition, given), zone)


def _answer(plan: Plan, question: Any, value: Any) -> Any:
    kind = question.type
    if kind in ("nps", "csat", "ces", "rating"):
        return cells.whole_number(value)
    if kind in ("single_choice", "dropdown"):
        return plan.choices[question.id].one(value)
    if kind in ("multiple_choice", "ranking"):
        return plan.choices[question.id].many(value)
    if kind == "number":
        return cells.number(value)
    if kind == "date":
        return cells.day(value)
    if kind == "consent":
        return cells.consent(value)
    return cells.plain(value)


def _place(
    plan: Plan, item: dict[str, Any], pending: dict[str, dict[str, Any]], target: str, value: Any
) -> None:
    head, _, rest = target.partition(".")
    if head == "answers":
        question_id, _, part = rest.partition(".")
        question = plan.questions[question_id]  # targets come from the definition
        if question.type == "matrix":
            item["answers"].setdefault(question_id, {})[part] = cells.scale_point(value, question.scale)
        elif question.type == "servqual":
            item["answers"].setdefault(question_id, {})[part] = cells.whole_number(value)
        elif part == OTHER_TEXT:
            pending.setdefault(question_id, {})[OTHER_TEXT] = cells.plain(value)
        elif part and question.type == "multiple_choice":
            if plan.choices[question_id].picked(part, value):
                pending.setdefault(question_id, {})[part] = 0
        elif part:  # ranking, one rank per choice
            pending.setdefault(question_id, {})[part] = cells.whole_number(value)
        else:
            item["answers"][question_id] = _answer(plan, question, value)
    elif head in ("contact", "embedded"):
        item[head][rest] = cells.plain(value)
    elif target == "submitted_at":
        item["submitted_at"] = cells.moment(value, plan.zone).isoformat()
    elif target == "language":
        item["language"] = cells.language(value, plan.definition.languages)
    elif target == "channel":
        item["channel"] = cells.plain(value).lower()
    else:  # unit_code, touchpoint
        item[target] = cells.plain(value)


def _settle(plan: Plan, answers: dict[str, Any], pending: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """Per-choice columns and other texts joined into their answers; (target, fault) for what cannot be."""
    faults: list[tuple[str, str]] = []
    for question_id, parts in pending.items():
        question = plan.questions[question_id]
        other = parts.pop(OTHER_TEXT, None)
        if question.type == "multiple_choice":
            whole = answers.get(question_id)
            picks = list(whole) if isinstance(whole, list) else []
            # In the question's choice order, whatever the order of the columns.
            order = [c.id for c in question.choices]
            # Unknown picks go last, for the check to name them.
            answers[question_id] = sorted(
                {*picks, *parts}, key=lambda pick: order.index(pick) if pick in order else len(order)
            )
        elif question.type == "ranking":
            ranks = sorted(parts.items(), key=lambda item: item[1])
            if len({rank for _, rank in ranks}) != len(ranks):
                faults.append((f"answers.{question_id}", "gives two choices the same rank"))
            answers[question_id] = [choice for choice, _ in ranks]
        if other and question.type == "multiple_choice":
            # The text belongs to the (first) choice that takes text, picked or not in the columns.
            takes_text = plan.choices[question_id].other
            picks = list(answers.get(question_id) or [])
            if takes_text not in picks:
                order = [c.id for c in question.choices]
                picks.append(takes_text)
                picks.sort(key=lambda pick: order.index(pick) if pick in order else len(order))
            answers[question_id] = [{"choice": p, "other": other} if p == takes_text else p for p in picks]
        elif other:
            picked = answers.get(question_id)
            default = plan.choices[question_id].other
            answers[question_id] = {"choice": picked if isinstance(picked, str) else default, "other": other}
    return faults


def convert_row(plan: Plan, number: int, row: list[Any]) -> RowItem:
    item: dict[str, Any] = {"answers": {}, "embedded": {}, "contact": {}, "channel": DEFAULT_CHANNEL}
    pending: dict[str, dict[str, Any]] = {}
    converted = RowItem(number, item)
    for column in plan.table.columns:
        target = plan.mapping.get(column.name, IGNORE)
        value = row[column.index] if column.index < len(row) else None
        if target == IGNORE or cells.blank(value):
            continue
        try:
            _place(plan, item, pending, target, value)
        except cells.CellError as exc:
            converted.errors.append(RowError(number, column.name, target, str(exc)))
    for target, fault in _settle(plan, item["answers"], pending):
        converted.errors.append(RowError(number, plan.column_for(target), target, fault))
    return converted


def convert(plan: Plan, rows: list[tuple[int, list[Any]]] | None = None) -> list[RowItem]:
    return [convert_row(plan, number, row) for number, row in (plan.table.rows if rows is None else rows)]


def _without(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    """Drop the value at a validation error's location, so the rest can still be checked."""
    holder: Any = data
    for part in loc[:-1]:
        holder = holder.get(part) if isinstance(holder, dict) else None
    if isinstance(holder, dict) and loc:
        holder.pop(loc[-1], None)


async def check(
    plan: Plan, published: Published, units: UnitResolver, converted: RowItem
) -> Response | list[RowError]:
    """The response to store, or every fault of the row (conversion faults first)."""
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in converted.item.items()}
    faults: list[FieldError] = []
    prepared: Response | list[FieldError] | None = None
    for _ in range(3):
        try:
            item = ResponseIn.model_validate(data)
        except ValidationError as exc:
            faults += item_errors(exc)
            for error in exc.errors():
                _without(data, tuple(error["loc"]))
            continue
        prepared = await prepare(published, item, units, utc_now())
        break
    if isinstance(prepared, list):
        faults += prepared
    if isinstance(prepared, Response) and not faults and not converted.errors:
        prepared.source = SOURCE_IMPORT
        return prepared
    errors = list(converted.errors)
    reported = {e.path for e in errors}
    for fault in faults:
        if not any(fault.path == p or fault.path.startswith((p + ".", p + "[")) for p in reported):
            errors.append(RowError(converted.row, plan.column_for(fault.path), fault.path, fault.message))
            reported.add(fault.path)
    position = {c.name: c.index for c in plan.table.columns}
    return sorted(errors, key=lambda e: position.get(e.column or "", len(position)))


@dataclass
class Outcome:
    mode: str
    dry_run: bool
    rows: int = 0
    valid: int = 0
    imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Columns no target takes: a question id the survey does not have ends up here.
    unmapped: list[str] = field(default_factory=list)

    @property
    def bad_rows(self) -> int:
        return self.rows - self.valid

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "valid": self.valid,
            "imported": self.imported,
            "skipped": self.bad_rows if self.mode == SKIP_BAD_ROWS else 0,
            "error_count": len(self.errors),
            "errors": [e.as_dict() for e in self.errors[:MAX_REPORTED_ERRORS]],
            "unmapped": self.unmapped,
        }


class RowsInvalid(ValidationFailed):
    """All or nothing, and some rows are bad: nothing was imported."""

    default_code = "import_rows_invalid"

    def __init__(self, outcome: Outcome) -> None:
        bad = outcome.bad_rows
        super().__init__(
            f"{bad} of {outcome.rows} rows are not valid, so nothing was imported; see errors.",
            errors=[FieldError(e.path, e.message) for e in outcome.errors[:MAX_REPORTED_ERRORS]],
        )
        self.outcome = outcome

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        body = super().to_problem(instance)
        body.update({k: v for k, v in self.outcome.as_dict().items() if k not in ("mode", "dry_run")})
        return body


@dataclass
class Checked:
    """Every row of a file checked; ``ready`` holds the responses to store (not yet in any session)."""

    survey_id: str
    outcome: Outcome
    ready: list[Response]


async def check_rows(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    table: Table,
    given: dict[str, str] | None,
    *,
    mode: Mode = ALL_OR_NOTHING,
    dry_run: bool = False,
    zone: tzinfo = UTC,
    progress: Progress | None = None,
) -> Checked:
    """Convert and check every row. Only reads, so that it can run before the write
    transaction starts: on SQLite that transaction holds the database's one write lock."""
    principal.require(Perm.DATA_WRITE)
    published = await published_survey(session, principal, survey_id)
    plan = make_plan(table, published.definition, given, zone)
    converted = await asyncio.to_thread(convert, plan)
    units = UnitResolver(session, principal)
    unmapped = [name for name, target in plan.mapping.items() if target == IGNORE]
    outcome = Outcome(mode=mode, dry_run=dry_run, rows=len(converted), unmapped=unmapped)
    ready: list[Response] = []
    for done, row in enumerate(converted, 1):
        checked = await check(plan, published, units, row)
        if isinstance(checked, list):
            outcome.errors += checked
        else:
            ready.append(checked)
        if progress is not None and (done % 200 == 0 or done == len(converted)):
            progress(done, len(converted) * 2)
    outcome.valid = len(ready)
    return Checked(published.survey_id, outcome, ready)


async def store_checked(
    session: AsyncSession, principal: Principal, checked: Checked, *, progress: Progress | None = None
) -> Outcome:
    """Store the checked responses in chunks within the caller's transaction, or refuse them all."""
    outcome, ready = checked.outcome, checked.ready
    if outcome.errors and outcome.mode == ALL_OR_NOTHING and not outcome.dry_run:
        raise RowsInvalid(outcome)
    if outcome.dry_run:
        return outcome
    # The survey may have been closed while the rows were checked.
    await published_survey(session, principal, checked.survey_id)
    total = outcome.rows
    for start in range(0, len(ready), CHUNK_ROWS):
        chunk = ready[start : start + CHUNK_ROWS]
        # One insert (COPY on PostgreSQL) and one pipeline job per chunk, whose handler
        # still hands each response to every subscriber once.
        await store(session, chunk, grouped=True)
        if progress is not None:
            progress(total + (start + len(chunk)) * total // max(len(ready), 1), total * 2)
    outcome.imported = len(ready)
    return outcome


async def run_import(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    table: Table,
    given: dict[str, str] | None,
    *,
    mode: Mode = ALL_OR_NOTHING,
    dry_run: bool = False,
    zone: tzinfo = UTC,
    progress: Progress | None = None,
    reading: AsyncSession | None = None,
) -> Outcome:
    """Check every row (in ``reading`` when given), then store them in ``session``."""
    checked = await check_rows(
        reading or session,
        principal,
        survey_id,
        table,
        given,
        mode=mode,
        dry_run=dry_run,
        zone=zone,
        progress=progress,
    )
    return await store_checked(session, principal, checked, progress=progress)


async def preview(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    table: Table,
    given: dict[str, str] | None,
    *,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """How the file reads: its layout, the mapping (suggested or given) and the first rows converted."""
    principal.require(Perm.DATA_WRITE)
    published = await published_survey(session, principal, survey_id)
    definition = published.definition
    plan = make_plan(table, definition, given, zone)
    suggested = suggest(table, definition)
    units = UnitResolver(session, principal)
    rows: list[dict[str, Any]] = []
    for (number, raw), converted in zip(
        table.rows[:PREVIEW_ROWS], convert(plan, table.rows[:PREVIEW_ROWS]), strict=True
    ):
        checked = await check(plan, published, units, converted)
        rows.append(
            {
                "row": number,
                "cells": {
                    c.name: cell_text(raw[c.index]) if c.index < len(raw) else "" for c in table.columns
                },
                "item": converted.item,
                "errors": [e.as_dict() for e in checked] if isinstance(checked, list) else [],
            }
        )
    return {
        "format": table.format,
        "layout": table.layout,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "header_rows": table.header_rows,
        "columns": [
            {
                "name": c.name,
                "text": c.text,
                "import_id": c.import_id,
                "target": plan.mapping[c.name],
                "suggested": suggested[c.name],
            }
            for c in table.columns
        ],
        "mapping": plan.mapping,
        "unmapped": [name for name, target in plan.mapping.items() if target == IGNORE],
        "targets": [IGNORE, *targets(definition)],
        "total_rows": len(table.rows),
        "rows": rows,
    }
