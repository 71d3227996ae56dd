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
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from sqlalchemy import Insert, Integer, String, bindparam, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection.models import Response
from cxloop.identity import Perm, Principal, Reach, Unit
from cxloop.kit.db import IdColumnType
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


def _statement(with_unit: bool, reach: Reach | None, *, returning: bool = True) -> Insert:
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
    statement = insert(Response).from_select(names, query)
    # psycopg reports rowcount -1 for an INSERT ... SELECT, hence RETURNING there;
    # SQLite counts right, and fetching the row would cost another trip to aiosqlite's thread.
    return statement.returning(Response.id) if returning else statement


# Built once: constructing these per request cost more than running them.
_STATEMENTS = {
    (returning, with_unit): _statement(with_unit, None, returning=returning)
    for returning in (True, False)
    for with_unit in (True, False)
}


async def insert_guarded(
    session: AsyncSession,
    principal: Principal,
    survey_id: str,
    version: int,
    unit_code: str | None,
    row: dict[str, Any],
) -> bool:
    """Store ``row`` (the columns of ``_VALUE_COLUMNS``) if the survey is still
    published at ``version`` and the unit exists within the caller's DATA_WRITE
    reach. False (and nothing written) otherwise."""
    reach = principal.reach(Perm.DATA_WRITE)
    returning = session.get_bind().dialect.name != "sqlite"
    if unit_code is None:
        if not reach.everywhere:
            return False  # the ordinary path explains that a unit is required
        statement = _STATEMENTS[returning, False]
    elif reach.everywhere:
        statement = _STATEMENTS[returning, True]
    else:
        statement = _statement(True, reach, returning=returning)
    params: dict[str, Any] = {f"v_{name}": row[name] for name in _VALUE_COLUMNS}
    params.update(survey_id=survey_id, tenant_id=principal.tenant_id, version=version)
    if unit_code is not None:
        params["unit_code"] = unit_code
    connection = await session.connection()
    result = await connection.execute(statement, params)
    if not returning:
        return bool(result.rowcount == 1)
    # At most one row: a unit code is unique within its tenant.
    return result.scalar_one_or_none() is not None
