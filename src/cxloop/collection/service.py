"""Storing and reading responses. Never commits.

A response is taken only for a published survey of the caller's tenant, and
only for a unit within the caller's DATA_WRITE reach (a caller whose reach is
not tenant-wide must name a unit). Reading is limited to the caller's
DATA_READ reach; a response with no unit is visible to tenant-wide readers
only.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy import insert, select
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import tasks  # noqa: F401  (registers the pipeline job before enqueue)
from cxloop.collection.fast_submit import (
    forget_published,
    insert_guarded,
    remember_published,
    remembered_version,
)
from cxloop.collection.models import Response
from cxloop.collection.pipeline import RESPONSE_STORED
from cxloop.collection.schemas import ResponseIn, ResponseOut
from cxloop.collection.validation import check_answers, with_defaults
from cxloop.identity import Perm, Principal, Reach, Unit, get_unit_by_code, visible_unit
from cxloop.kit.allocation import allocating
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, FieldError, ValidationFailed, not_found
from cxloop.kit.ids import new_id, new_ids
from cxloop.kit.jobs import enqueue, outbox_values
from cxloop.kit.pagination import Page, PageRequest, apply_keyset, make_page
from cxloop.surveys import (
    CLOSED,
    PUBLISHED,
    Survey,
    SurveyDefinition,
    cached_published_definition,
    published_definition,
)

FUTURE_TOLERANCE = timedelta(minutes=5)
SOURCE_API = "api"
COMPLETE = "complete"


@dataclass(frozen=True)
class Published:
    survey_id: str
    version: int
    definition: SurveyDefinition


async def tenant_survey(session: AsyncSession, principal: Principal, survey_id: str) -> Survey:
    """A survey of the caller's tenant by id; 404 for any other."""
    if len(survey_id) > 26:
        raise not_found("survey")
    statement = select(Survey).where(Survey.id == survey_id, Survey.tenant_id == principal.tenant_id)
    survey = (await session.execute(statement)).scalar_one_or_none()
    if survey is None:
        raise not_found("survey")
    return survey


async def published_survey(session: AsyncSession, principal: Principal, survey_id: str) -> Published:
    return await _published(session, await tenant_survey(session, principal, survey_id))


async def _survey_and_unit(
    session: AsyncSession, principal: Principal, survey_id: str, unit_code: str
) -> tuple[Survey, Unit | None]:
    """The survey and the unit named by code in one query (a round trip less per submission)."""
    if len(survey_id) > 26:
        raise not_found("survey")
    statement = (
        select(Survey, Unit)
        .outerjoin(Unit, (Unit.tenant_id == Survey.tenant_id) & (Unit.code == unit_code))
        .where(Survey.id == survey_id, Survey.tenant_id == principal.tenant_id)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        raise not_found("survey")
    return row[0], row[1]


async def _published(session: AsyncSession, survey: Survey) -> Published:
    if survey.status == CLOSED:
        raise Conflict("This survey is closed and takes no more responses.", code="survey_closed")
    if survey.status != PUBLISHED or survey.published_version is None:
        raise Conflict("This survey is not published yet.", code="survey_not_published")
    definition = await published_definition(session, survey.id, survey.published_version)
    assert definition is not None, "a published survey has its published version"
    return Published(survey.id, survey.published_version, definition)


class UnitResolver:
    """Units by code within the caller's DATA_WRITE reach, looked up once per request."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session, self.principal = session, principal
        self.reach: Reach = principal.reach(Perm.DATA_WRITE)
        self._known: dict[str, Unit | None] = {}
        self._answers: dict[str | None, tuple[str | None, FieldError | None]] = {}

    def remember(self, code: str, unit: Unit | None) -> None:
        """A unit already looked up by code (None: there is none)."""
        self._known[code] = unit
        self._answers.pop(code, None)

    async def look_up(self, code: str | None) -> None:
        """Read the unit of ``code`` unless it was already."""
        if code is not None and code not in self._known:
            self._known[code] = await get_unit_by_code(self.session, self.principal.tenant_id, code)

    async def resolve(self, code: str | None) -> tuple[str | None, FieldError | None]:
        await self.look_up(code)
        return self.resolved(code)

    def resolved(self, code: str | None) -> tuple[str | None, FieldError | None]:
        """``resolve`` for a code already looked up; decided once per code."""
        answer = self._answers.get(code)
        if answer is None:
            answer = self._answers[code] = self._decide(code)
        return answer

    def _decide(self, code: str | None) -> tuple[str | None, FieldError | None]:
        if code is None:
            if self.reach.everywhere:
                return None, None
            return None, FieldError("unit_code", "is required: you may record responses for your units only")
        unit = self._known[code]
        if unit is None or not self.reach.covers(unit.id, unit.path):
            return None, FieldError("unit_code", f"No unit {code!r}.")
        return unit.id, None


async def prepare(
    published: Published, item: ResponseIn, units: UnitResolver, now: datetime
) -> Response | list[FieldError]:
    """A response ready to add, or every fault in ``item``."""
    row = await prepare_row(published, item, units, now)
    return row if isinstance(row, list) else Response(**row)


async def prepare_row(
    published: Published, item: ResponseIn, units: UnitResolver, now: datetime
) -> dict[str, Any] | list[FieldError]:
    """``prepare`` as the column values of the row, for bulk inserts: building
    an ORM object costs more than checking the answers (measured on batches)."""
    await units.look_up(item.unit_code)
    return prepared_row(published, item, units, now)


def prepared_row(
    published: Published,
    item: ResponseIn,
    units: UnitResolver,
    now: datetime,
    make_id: Callable[[], str] = new_id,
) -> dict[str, Any] | list[FieldError]:
    """``prepare_row`` once the item's unit code has been looked up: no awaits."""
    checked = checked_row(published, item, now, make_id)
    errors = checked if isinstance(checked, list) else []
    unit_id, unit_error = units.resolved(item.unit_code)
    if unit_error is not None:
        # Reported after the answer faults but before language and time, as always.
        errors.insert(_unit_error_position(errors), unit_error)
    if errors:
        return errors
    assert isinstance(checked, dict)
    return {
        **checked,
        "tenant_id": units.principal.tenant_id,
        "survey_id": published.survey_id,
        "survey_version": published.version,
        "unit_id": unit_id,
    }


def _unit_error_position(errors: list[FieldError]) -> int:
    for index, error in enumerate(errors):
        if error.path in ("language", "submitted_at"):
            return index
    return len(errors)


def checked_row(
    published: Published, item: ResponseIn, now: datetime, make_id: Callable[[], str] = new_id
) -> dict[str, Any] | list[FieldError]:
    """Everything about ``item`` that does not depend on the database: the
    answers against the definition, the language, the time; the columns that
    follow from them, or every fault."""
    definition = published.definition
    # model_dump(exclude_none=True), without its cost per call (6 % of a batch's CPU).
    contact = {key: value for key, value in item.contact.__dict__.items() if value is not None}
    errors = check_answers(definition, item.answers, item.embedded, contact)
    language = item.language or definition.default_language
    if language not in definition.languages:
        errors.append(FieldError("language", f"must be one of {', '.join(definition.languages)}"))
    submitted_at = (item.submitted_at or now).astimezone(UTC)
    if submitted_at > now + FUTURE_TOLERANCE:
        errors.append(FieldError("submitted_at", "may not be in the future"))
    if errors:
        return errors
    return {
        "id": make_id(),
        "channel": item.channel,
        "touchpoint": item.touchpoint,
        "language": language,
        "submitted_at": submitted_at,
        "received_at": now,
        "answers": item.answers,
        "embedded": with_defaults(definition, item.embedded),
        "contact_ref": contact,
        "source": SOURCE_API,
        "status": COMPLETE,
    }


async def store(session: AsyncSession, responses: list[Response], *, grouped: bool = False) -> None:
    """Add the responses and, in the same transaction, their pipeline jobs.

    By default each response is added to the session and gets a job of its
    own. ``grouped`` is for many at once (see ``store_rows``): the objects
    stay detached from the session.
    """
    if not responses:
        return
    if grouped:
        await store_rows(session, [_row(response) for response in responses])
        return
    session.add_all(responses)
    for response in responses:
        payload = {"response_id": response.id, "survey_id": response.survey_id}
        enqueue(session, RESPONSE_STORED, {**payload, "tenant_id": response.tenant_id})
    await session.flush()


async def store_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert rows from ``prepare_row`` (COPY on PostgreSQL, one executemany
    elsewhere), and one pipeline job per survey carrying all their ids; the job still hands each response
    to every subscriber once. On a 1,000-item batch that is one job and one
    broker message instead of a thousand, and no unit-of-work bookkeeping.
    """
    if not rows:
        return
    same_columns = all(row.keys() == rows[0].keys() for row in rows)
    if same_columns and session.get_bind().dialect.name == "postgresql":
        await _copy_rows(session, rows)
    else:
        await session.execute(insert(Response), rows)
    by_survey: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        by_survey.setdefault((row["survey_id"], row["tenant_id"]), []).append(row["id"])
    for (survey_id, tenant_id), ids in by_survey.items():
        payload = {"response_ids": ids, "survey_id": survey_id, "tenant_id": tenant_id}
        enqueue(session, RESPONSE_STORED, payload)
    await session.flush()


_COLUMNS = tuple(column.key for column in Response.__table__.columns)
_JSON_COLUMNS = frozenset({"answers", "embedded", "contact_ref"})


async def _copy_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """COPY into ``responses`` on the session's own connection and transaction.

    Measured on 1,000-item batches: an executemany is a thousand INSERTs for
    the server, and one multi-row INSERT spends more time in psycopg parsing
    its 15,000 placeholders than the server spends storing the rows. The
    COPY text is built here and sent in one write: row by row through
    psycopg's formatter, with ``json.dumps`` for the three JSON columns, it
    was about a third of the web process's CPU per batch (bench/ingest.py).
    """
    columns = list(rows[0])
    # The other columns' values repeat across a batch (tenant, survey, unit,
    # channel, the time received ...): each distinct one is written once.
    plan: list[tuple[str, dict[Any, str] | None]] = [
        (key, None if key in _JSON_COLUMNS else {}) for key in columns
    ]
    lines = []
    with allocating():
        for row in rows:
            fields = []
            for key, seen in plan:
                value = row[key]
                if seen is None:
                    fields.append(_copy_json(value))
                    continue
                text = seen.get(value)
                if text is None:
                    text = seen[value] = _copy_value(value)
                fields.append(text)
            lines.append("\t".join(fields))
    lines.append("")
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    names = ", ".join(columns)
    try:
        async with driver.cursor() as cursor, cursor.copy(f"COPY responses ({names}) FROM STDIN") as copy:
            await copy.write("\n".join(lines))
    except psycopg.DataError as exc:
        # The driver is used directly here: give the request boundary the
        # SQLAlchemy error it answers with a 4xx, as for any other statement.
        raise DataError(f"COPY responses ({names})", None, exc) from exc


def _copy_value(value: Any) -> str:
    """One field of COPY's text format: NULL as \\N, the delimiter and line
    breaks escaped by a backslash (the text columns are printable: rarely any)."""
    if value is None:
        return "\\N"
    if value.__class__ is str:
        text: str = value
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, bool):
        return "t" if value else "f"
    elif isinstance(value, int | float):
        return repr(value)
    else:
        raise TypeError(f"no COPY text for {value.__class__.__name__}")
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_json(value: Any) -> str:
    """A JSON column's COPY field. JSON text has no raw tab or line break (they
    are escaped inside strings), so only its backslashes need doubling. None
    is JSON's null, as psycopg's Jsonb wrote it."""
    try:
        text = to_json(value).decode()
    except PydanticSerializationError:
        # Text json.dumps writes but UTF-8 cannot hold (a lone surrogate):
        # the same JSON as before, for PostgreSQL to refuse as before.
        text = json.dumps(value)
    return text.replace("\\", "\\\\")


def _row(response: Response) -> dict[str, Any]:
    # Unset attributes (resume_page, link_id ...) are left out so that column defaults apply.
    state = response.__dict__
    return {key: state[key] for key in _COLUMNS if key in state}


SessionOpener = Callable[[], Awaitable[AsyncSession]]


async def submit(
    session: AsyncSession | SessionOpener, principal: Principal, survey_id: str, item: ResponseIn
) -> ResponseOut:
    """Store one response. ``session`` may be a callable that opens the
    request's session: the answers to a survey already seen published are
    then checked before it is opened, so that on SQLite the write turn is
    held only for the statements, and the caller does nothing else in it:
    on PostgreSQL the one statement of a known survey then commits by itself
    (see ``fast_submit``)."""
    principal.require(Perm.DATA_WRITE)
    if len(survey_id) > 26:
        raise not_found("survey")
    known = _checked_known(principal, survey_id, item)
    if isinstance(session, AsyncSession):
        opened, alone = session, False
    else:
        # Opened for this submission alone: its one statement may commit by itself.
        opened, alone = await session(), True
    if known is not None:
        quick = await _store_known(opened, principal, known, item, alone=alone)
        if quick is not None:
            return quick
    return await _submit_checked(opened, principal, survey_id, item)


async def _submit_checked(
    session: AsyncSession, principal: Principal, survey_id: str, item: ResponseIn
) -> ResponseOut:
    """The ordinary path: read survey and unit, check everything, store through the ORM."""
    units = UnitResolver(session, principal)
    if item.unit_code is None:
        published = await published_survey(session, principal, survey_id)
    else:
        survey, unit = await _survey_and_unit(session, principal, survey_id, item.unit_code)
        published = await _published(session, survey)
        units.remember(item.unit_code, unit)
    prepared = await prepare(published, item, units, utc_now())
    if isinstance(prepared, list):
        raise ValidationFailed("The response is not valid; see errors.", errors=prepared)
    await store(session, [prepared])
    remember_published(principal.tenant_id, published.survey_id, published.version)
    return to_out(prepared, item.unit_code)


@dataclass(frozen=True)
class _Known:
    published: Published
    row: dict[str, Any]


def _checked_known(principal: Principal, survey_id: str, item: ResponseIn) -> _Known | None:
    """The row for a survey last seen published here, checked against that
    version; None when the ordinary path must decide (not seen yet, not
    parsed in this process, or any fault to report with its paths)."""
    version = remembered_version(principal.tenant_id, survey_id)
    if version is None:
        return None
    definition = cached_published_definition(survey_id, version)
    if definition is None:
        return None
    published = Published(survey_id, version, definition)
    row = checked_row(published, item, utc_now())
    return None if isinstance(row, list) else _Known(published, row)


async def _store_known(
    session: AsyncSession, principal: Principal, known: _Known, item: ResponseIn, *, alone: bool
) -> ResponseOut | None:
    """Stored with its pipeline job by one guarded step, or None with nothing written."""
    survey_id, version, row = known.published.survey_id, known.published.version, known.row
    payload = {"response_id": row["id"], "survey_id": survey_id, "tenant_id": principal.tenant_id}
    job = outbox_values(RESPONSE_STORED, payload)
    if not await insert_guarded(
        session, principal, survey_id, version, item.unit_code, row, job, alone=alone
    ):
        forget_published(principal.tenant_id, survey_id)
        return None
    # Every value is already of its field's type: nothing to validate again.
    return ResponseOut.model_construct(
        id=row["id"],
        survey_id=survey_id,
        survey_version=version,
        unit_code=item.unit_code,
        channel=row["channel"],
        touchpoint=row["touchpoint"],
        language=row["language"],
        submitted_at=row["submitted_at"],
        received_at=row["received_at"],
        answers=row["answers"],
        embedded=row["embedded"],
        contact=row["contact_ref"],
        source=row["source"],
        status=row["status"],
    )


async def submit_batch(
    session: AsyncSession, principal: Principal, survey_id: str, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Valid items are stored together; each invalid one is reported with its errors."""
    principal.require(Perm.DATA_WRITE)
    published = await published_survey(session, principal, survey_id)
    units = UnitResolver(session, principal)
    now = utc_now()
    with allocating():
        parsed = parsed_items(items)
    for item in parsed:
        if isinstance(item, ResponseIn):
            await units.look_up(item.unit_code)  # one query per distinct code
    results: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    ids = iter(new_ids(len(parsed)))
    with allocating():
        for index, item in enumerate(parsed):
            prepared = (
                prepared_row(published, item, units, now, ids.__next__)
                if isinstance(item, ResponseIn)
                else item
            )
            if isinstance(prepared, list):
                errors = [{"path": e.path, "message": e.message} for e in prepared]
                results.append({"index": index, "status": 422, "errors": errors})
            else:
                stored.append(prepared)
                results.append({"index": index, "status": 201, "id": prepared["id"]})
    await store_rows(session, stored)
    return results


_ITEMS: TypeAdapter[list[ResponseIn]] = TypeAdapter(list[ResponseIn])


def parsed_items(items: list[dict[str, Any]]) -> list[ResponseIn | list[FieldError]]:
    """Each item as a ``ResponseIn``, or its faults with the paths it would
    have alone. The list is validated in one call (about half the CPU of one
    call per item on a 1,000-item batch); when some items fail, the errors
    are split by index and the others validated again, together."""
    try:
        return list(_ITEMS.validate_python(items))
    except ValidationError as exc:
        faults: dict[int, list[dict[str, Any]]] = {}
        for error in exc.errors():
            index, *loc = error["loc"]
            faults.setdefault(int(index), []).append({**error, "loc": tuple(loc)})
    good = iter(_ITEMS.validate_python([item for index, item in enumerate(items) if index not in faults]))
    return [_field_errors(faults[index]) if index in faults else next(good) for index in range(len(items))]


def item_errors(exc: ValidationError) -> list[FieldError]:
    return _field_errors(exc.errors())


def _field_errors(errors: Any) -> list[FieldError]:
    faults: list[FieldError] = []
    for error in errors:
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else ("." if path else "") + str(part)
        faults.append(FieldError(path or "body", str(error["msg"]).removeprefix("Value error, ")))
    return faults


def to_out(response: Response, unit_code: str | None) -> ResponseOut:
    return ResponseOut(
        id=response.id,
        survey_id=response.survey_id,
        survey_version=response.survey_version,
        unit_code=unit_code,
        channel=response.channel,
        touchpoint=response.touchpoint,
        language=response.language,
        submitted_at=response.submitted_at,
        received_at=response.received_at,
        answers=response.answers,
        embedded=response.embedded,
        contact=response.contact_ref,
        source=response.source,
        status=response.status,
        resume_page=response.resume_page,
        updated_at=response.updated_at,
        link_id=response.link_id,
    )


@dataclass(frozen=True)
class ResponseFilter:
    unit_code: str | None = None
    channel: str | None = None
    touchpoint: str | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None
    # "complete" (the default: what analyses use), "partial" or "all".
    status: str = COMPLETE


def _readable(principal: Principal) -> Any:
    principal.require(Perm.DATA_READ)
    reach = principal.reach(Perm.DATA_READ)
    return (
        select(Response, Unit.code)
        .outerjoin(Unit, Unit.id == Response.unit_id)
        .where(Response.tenant_id == principal.tenant_id, reach.unit_clause(Unit.id, Unit.path))
    )


async def list_responses(
    session: AsyncSession, principal: Principal, survey_id: str, where: ResponseFilter, page: PageRequest
) -> Page[ResponseOut]:
    statement = _readable(principal)
    survey = await tenant_survey(session, principal, survey_id)
    statement = statement.where(Response.survey_id == survey.id)
    if where.unit_code is not None:
        unit = await visible_unit(session, principal, where.unit_code, Perm.DATA_READ)
        statement = statement.where(Unit.path.startswith(unit.path))
    if where.status != "all":
        statement = statement.where(Response.status == where.status)
    if where.channel is not None:
        statement = statement.where(Response.channel == where.channel)
    if where.touchpoint is not None:
        statement = statement.where(Response.touchpoint == where.touchpoint)
    if where.submitted_from is not None:
        statement = statement.where(Response.submitted_at >= where.submitted_from)
    if where.submitted_to is not None:
        statement = statement.where(Response.submitted_at < where.submitted_to)
    rows = list((await session.execute(apply_keyset(statement, Response.id, "responses", page))).all())
    result = make_page(rows, "responses", page, lambda row: row[0].id)
    return Page(items=[to_out(row[0], row[1]) for row in result.items], next_cursor=result.next_cursor)


async def get_response(session: AsyncSession, principal: Principal, response_id: str) -> ResponseOut:
    statement = _readable(principal)
    if len(response_id) > 26:
        raise not_found("response")
    row = (await session.execute(statement.where(Response.id == response_id))).one_or_none()
    if row is None:
        raise not_found("response")
    return to_out(row[0], row[1])
