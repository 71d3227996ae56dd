"""One submission in one guarded INSERT, for surveys this process has taken responses for.

The ordinary path reads the survey and the unit, checks them in Python and
then stores the response through the ORM: a SELECT, an ORM object and an
INSERT per request, and building those statements cost more CPU than
checking the answers (profiled under bench/ingest.py). Here the process
remembers, per tenant and survey, the version it last found published, and
checks the answers against that version's parsed definition (immutable, so
cached safely). The checks that may have changed since, the survey still
being that tenant's, still published, still at that version, and the unit
existing and being within the caller's reach, are the WHERE clause of an
``INSERT INTO responses ... SELECT ... FROM surveys [JOIN units]``, so they
hold at the moment of the write, in the same statement. If it stores
nothing, the caller takes the ordinary path in the same transaction, which
answers exactly as before (404, 409, 422 with field paths) and refreshes the
remembered version. Nothing is ever accepted on the word of the cache alone.

The response's pipeline job (its outbox row) is written by the same step, so
that it exists exactly when the response does: on PostgreSQL one statement,
``WITH stored AS (INSERT INTO responses ... RETURNING id) INSERT INTO
outbox_jobs ... SELECT ... FROM stored``; on SQLite, which has no INSERT in a
WITH clause, both INSERTs in one call on aiosqlite's thread, instead of a
statement and an ORM flush (three trips to that thread each) while the write
turn is held. See docs/adr/0031.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Insert, Integer, String, bindparam, insert, literal, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cxloop.collection.models import Response
from cxloop.identity import Perm, Principal, Reach, Unit
from cxloop.kit.db import CALLER_BEGINS, IdColumnType, JSONType, UTCDateTime
from cxloop.kit.jobs import OutboxJob, added
from cxloop.kit.writelock import WriteTurn, end_held_turn, held_turn
from cxloop.surveys import PUBLISHED, Survey

# (tenant id, survey id) -> the version last found published. A hint only: see above.
_KEPT = 4096
_versions: OrderedDict[tuple[str, str], int] = OrderedDict()

_VALUE_COLUMNS = (
    "id",
    "channel",
    "touchpoint",
    "language",
    "submitted_at",
    "received_at",
    "answers",
    "embedded",
    "contact_ref",
    "source",
    "status",
)
# The outbox row's columns, from kit.jobs.outbox_values.
_JOB_COLUMNS = ("id", "name", "payload", "status", "attempts", "created_at", "available_at")
_JOB_TYPES: dict[str, Any] = {
    "id": IdColumnType(),
    "name": String(100),
    "payload": JSONType,
    "status": String(12),
    "attempts": Integer(),
    "created_at": UTCDateTime(),
    "available_at": UTCDateTime(),
}


def remember_published(tenant_id: str, survey_id: str, version: int) -> None:
    key = (tenant_id, survey_id)
    _versions[key] = version
    _versions.move_to_end(key)
    while len(_versions) > _KEPT:
        _versions.popitem(last=False)


def remembered_version(tenant_id: str, survey_id: str) -> int | None:
    return _versions.get((tenant_id, survey_id))


def forget_published(tenant_id: str, survey_id: str) -> None:
    _versions.pop((tenant_id, survey_id), None)


def _values() -> list[Any]:
    table = Response.__table__
    return [bindparam(f"v_{name}", type_=table.c[name].type) for name in _VALUE_COLUMNS]


def _guard() -> Any:
    return (
        (Survey.__table__.c.id == bindparam("survey_id", type_=IdColumnType()))
        & (Survey.__table__.c.tenant_id == bindparam("tenant_id", type_=IdColumnType()))
        & (Survey.__table__.c.status == literal(PUBLISHED, String(16)))
        & (Survey.__table__.c.published_version == bindparam("version", type_=Integer()))
    )


def _response_insert(with_unit: bool, reach: Reach | None) -> Insert:
    surveys = Survey.__table__
    units = Unit.__table__
    unit_id: Any = units.c.id if with_unit else literal(None, IdColumnType())
    columns = [surveys.c.tenant_id, surveys.c.id, surveys.c.published_version, unit_id, *_values()]
    query = select(*columns).where(_guard())
    if with_unit:
        query = query.join(
            units,
            (units.c.tenant_id == surveys.c.tenant_id)
            & (units.c.code == bindparam("unit_code", type_=String(64))),
        )
        if reach is not None:
            query = query.where(reach.unit_clause(units.c.id, units.c.path))
    names = ["tenant_id", "survey_id", "survey_version", "unit_id", *_VALUE_COLUMNS]
    return insert(Response).from_select(names, query)


def _job_binds() -> list[Any]:
    return [bindparam(f"j_{name}", type_=_JOB_TYPES[name]) for name in _JOB_COLUMNS]


def _job_insert() -> Insert:
    """The outbox row on its own (SQLite: run right after the response's INSERT)."""
    return insert(OutboxJob).from_select(list(_JOB_COLUMNS), select(*_job_binds()))


def _combined(with_unit: bool, reach: Reach | None) -> Insert:
    """PostgreSQL: the response and its outbox row in one statement; the job row
    is selected from the stored response, so it exists exactly when that does."""
    stored = _response_insert(with_unit, reach).returning(Response.id).cte("stored")
    job = select(*_job_binds()).select_from(stored)
    return insert(OutboxJob).from_select(list(_JOB_COLUMNS), job).returning(OutboxJob.id)


@dataclass(frozen=True)
class _Raw:
    """A statement compiled once for SQLite's driver: its SQL, and how to turn
    named values into its positional parameters (the columns' own bind
    processing: UTC datetimes as SQLite text, JSON serialised)."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]
    processors: tuple[Callable[[Any], Any] | None, ...]

    @classmethod
    def compile(cls, statement: Insert, dialect: Dialect) -> _Raw:
        compiled = statement.compile(dialect=dialect)
        names = tuple(compiled.positiontup or ())
        binds = {name: compiled.binds[name] for name in names}
        processors = tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds.values())
        fixed = {name: bind.value for name, bind in binds.items() if not bind.required}
        for column in compiled.insert_prefetch:
            # Column defaults SQLAlchemy would fill in at execution (responses.revision = 0).
            default: Any = column.default
            if default is None or not default.is_scalar:
                raise TypeError(f"{column.key}: only scalar defaults can be precompiled")
            fixed[column.key] = default.arg
        return cls(compiled.string, names, fixed, processors)

    def parameters(self, values: dict[str, Any]) -> tuple[Any, ...]:
        fixed = self.fixed
        out = []
        for name, process in zip(self.names, self.processors, strict=True):
            value = values[name] if name in values else fixed[name]  # a missing value is a bug: KeyError
            out.append(process(value) if process is not None else value)
        return tuple(out)


# Built once: constructing these per request cost more than running them.
_COMBINED = {with_unit: _combined(with_unit, None) for with_unit in (True, False)}
_SQLITE: dict[bool, tuple[_Raw, _Raw]] = {}


def _sqlite_statements(with_unit: bool, reach: Reach | None, dialect: Dialect) -> tuple[_Raw, _Raw]:
    if reach is not None:
        return _Raw.compile(_response_insert(True, reach), dialect), _Raw.compile(_job_insert(), dialect)
    pair = _SQLITE.get(with_unit)
    if pair is None:
        pair = _SQLITE[with_unit] = (
            _Raw.compile(_response_insert(with_unit, None), dialect),
            _Raw.compile(_job_insert(), dialect),
        )
    return pair


async def insert_guarded(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    version: int,
    unit_code: str | None,
    row: dict[str, Any],
    job: dict[str, Any],
    *,
    alone: bool = False,
) -> bool:
    """Store ``row`` (the columns of ``_VALUE_COLUMNS``) and the outbox row
    ``job`` (from ``kit.jobs.outbox_values``) if the survey is still published
    at ``version`` and the unit exists within the caller's DATA_WRITE reach;
    the job is then handed off after the commit. False, and neither written,
    otherwise.

    ``alone``: the caller writes nothing else in ``session``. On PostgreSQL,
    if the session has not begun yet, the statement then commits by itself
    (a single statement is atomic), and a False leaves the session unbegun."""
    reach = principal.reach(Perm.DATA_WRITE)
    if unit_code is None and not reach.everywhere:
        return False  # the ordinary path explains that a unit is required
    limited = None if reach.everywhere else reach
    params: dict[str, Any] = {f"v_{name}": row[name] for name in _VALUE_COLUMNS}
    params.update({f"j_{name}": job[name] for name in _JOB_COLUMNS})
    params.update(survey_id=survey_id, tenant_id=principal.tenant_id, version=version)
    if unit_code is not None:
        params["unit_code"] = unit_code
    if session.get_bind().dialect.name == "sqlite":
        # Alone, the whole transaction is one call on aiosqlite's thread (BEGIN, both
        # INSERTs, COMMIT), and that call gives the write turn to the other processes
        # the moment it commits: the turn is then held for SQLite's own work only, not
        # for three trips through a busy event loop (the p99 on SQLite, issue 3).
        alone = alone and not session.in_transaction()
        options = {"sqlite_begin": CALLER_BEGINS} if alone else None
        connection = await session.connection(execution_options=options)
        statements = _sqlite_statements(unit_code is not None, limited, connection.dialect)
        turn = held_turn(session) if alone else None
        stored = await _run_sqlite(connection, statements, params, own_transaction=alone, turn=turn)
        if alone and stored:
            end_held_turn(session)  # committed: this process's next writer may go too
        elif alone:
            # Nothing written and nothing begun: the ordinary path the caller takes
            # next begins a real transaction, still within the turn.
            await session.rollback()
    else:
        # A session with nothing done yet runs the one statement on its own, in
        # autocommit: it is then its own transaction, and psycopg's BEGIN and
        # the boundary's COMMIT, a round trip each, are not sent.
        alone = alone and not session.in_transaction()
        options = {"isolation_level": "AUTOCOMMIT"} if alone else None
        connection = await session.connection(execution_options=options)
        statement = _COMBINED[unit_code is not None] if limited is None else _combined(True, limited)
        result = await connection.execute(statement, params)
        # At most one row: a unit code is unique within its tenant.
        stored = result.scalar_one_or_none() is not None
        if not stored and alone:
            # Nothing written: give the autocommit connection back, so that the
            # ordinary path the caller takes next runs in one transaction.
            await session.rollback()
    if stored:
        added(session, job)
    return stored


async def _run_sqlite(
    connection: AsyncConnection,
    statements: tuple[_Raw, _Raw],
    params: dict[str, Any],
    *,
    own_transaction: bool = False,
    turn: WriteTurn | None = None,
) -> bool:
    """Both INSERTs in one call on aiosqlite's thread (SQLAlchemy's adapter makes
    three per statement: open a cursor, execute, close it), the job only if the
    response was stored: in the connection's open transaction, or
    (``own_transaction``) in one the call begins and commits itself, then letting
    other processes have ``turn``."""
    response, job = statements
    first, second = response.parameters(params), job.parameters(params)

    def insert(raw: sqlite3.Connection) -> bool:
        if raw.execute(response.sql, first).rowcount != 1:
            return False
        raw.execute(job.sql, second)
        return True

    def run(raw: sqlite3.Connection) -> bool:
        if not own_transaction:
            return insert(raw)
        raw.execute("BEGIN IMMEDIATE")
        try:
            stored = insert(raw)
            raw.execute("COMMIT" if stored else "ROLLBACK")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if stored and turn is not None:
            turn.release_file()
        return stored

    pooled = await connection.get_raw_connection()
    driver: Any = pooled.driver_connection
    call = on_driver_thread(driver)
    if call is None:
        # Another driver: the same statements, one after the other.
        if own_transaction:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
        result = await connection.exec_driver_sql(response.sql, first)
        inserted = result.rowcount == 1
        if inserted:
            await connection.exec_driver_sql(job.sql, second)
        if own_transaction:
            await connection.exec_driver_sql("COMMIT" if inserted else "ROLLBACK")
        return inserted
    try:
        stored: bool = await call(run, driver._conn)
    except sqlite3.Error as exc:
        # Raised the way SQLAlchemy raises it, so that the request boundary answers as for any statement.
        raise DBAPIError.instance(response.sql, first, exc, sqlite3.Error) from exc
    return stored


def on_driver_thread(driver: Any) -> Callable[..., Any] | None:
    """aiosqlite's "run this function on the connection's thread", if this driver has it."""
    call: Callable[..., Any] | None = getattr(driver, "_execute", None)
    return call
