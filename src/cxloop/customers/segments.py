"""Segments: saved, structured filters over contacts, evaluated as one SQL query.

A filter is JSON validated by the models below (``extra="forbid"``) and
translated condition by condition into SQL clauses with bound values;
nothing in it is ever evaluated as code. Counts are live: a segment is a
query, not a stored list.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import ColumnElement, Select, and_, cast, false, func, literal, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.collection import Response
from cxloop.customers.models import Contact, ContactEvent, ContactResponse, Segment
from cxloop.identity import Reach, Unit, get_unit_by_code
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, invalid, not_found
from cxloop.kit.ids import new_id

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Scalar = str | int | float | bool
Days = Annotated[int, Field(ge=1, le=3650)]
Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists", "missing"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttributeCondition(_Strict):
    attribute: Key
    op: Op = "eq"
    value: Scalar | list[Scalar] | None = None


class TagCondition(_Strict):
    tag: Label
    present: bool = True


class UnitCondition(_Strict):
    unit_code: Label


class LanguageCondition(_Strict):
    language: Label


class EventCondition(_Strict):
    event: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
    within_days: Days = 30
    min_count: Annotated[int, Field(ge=1, le=10_000)] = 1


class ResponseCriteria(_Strict):
    within_days: Days = 90
    survey_id: Annotated[str, StringConstraints(min_length=1, max_length=26)] | None = None
    question_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"] = "lte"
    value: float | None = None


class ResponseCondition(_Strict):
    response: ResponseCriteria


Condition = (
    AttributeCondition | TagCondition | UnitCondition | LanguageCondition | EventCondition | ResponseCondition
)


class SegmentFilter(_Strict):
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=50)


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "eq":
        return column == value  # type: ignore[no-any-return]
    if op == "ne":
        return column != value  # type: ignore[no-any-return]
    if op == "gt":
        return column > value  # type: ignore[no-any-return]
    if op == "gte":
        return column >= value  # type: ignore[no-any-return]
    if op == "lt":
        return column < value  # type: ignore[no-any-return]
    return column <= value  # type: ignore[no-any-return]


def json_list_contains(column: Any, value: Any, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column.op("@>", is_comparison=True)(cast(literal(json.dumps([value])), JSONB))  # type: ignore[no-any-return]
    each = func.json_each(column).table_valued("value")
    return select(literal(1)).select_from(each).where(each.c.value == value).exists()


def _attribute(condition: AttributeCondition, dialect: str) -> ColumnElement[bool]:
    element = Contact.attributes[condition.attribute]
    value = condition.value
    if condition.op == "exists":
        return element.as_string().is_not(None)  # type: ignore[no-any-return]
    if condition.op == "missing":
        return ~_attribute(AttributeCondition(attribute=condition.attribute, op="exists"), dialect)
    if condition.op == "contains":
        if isinstance(value, list) or value is None:
            raise invalid("value", "contains needs one value")
        return json_list_contains(element, value, dialect)
    if condition.op == "in":
        if not isinstance(value, list) or not value:
            raise invalid("value", "in needs a list of values")
        return or_(
            *[_attribute(AttributeCondition(attribute=condition.attribute, value=v), dialect) for v in value]
        )
    if value is None or isinstance(value, list):
        raise invalid("value", f"{condition.op} needs one value")
    if isinstance(value, bool):
        return _compare(element.as_boolean(), condition.op, value)
    if isinstance(value, int | float):
        return _compare(element.as_float(), condition.op, float(value))
    return _compare(element.as_string(), condition.op, value)


def _response(criteria: ResponseCriteria, since: Any) -> ColumnElement[bool]:
    statement = (
        select(literal(1))
        .select_from(ContactResponse)
        .join(Response, Response.id == ContactResponse.response_id)
        .where(ContactResponse.contact_id == Contact.id, ContactResponse.submitted_at >= since)
    )
    if criteria.survey_id is not None:
        statement = statement.where(ContactResponse.survey_id == criteria.survey_id)
    if criteria.question_id is not None and criteria.value is not None:
        answer = Response.answers[criteria.question_id].as_float()
        statement = statement.where(_compare(answer, criteria.op, criteria.value))
    return statement.exists()


async def _clause(
    session: AsyncSession, tenant_id: str, condition: Condition, dialect: str
) -> ColumnElement[bool]:
    now = utc_now()
    if isinstance(condition, AttributeCondition):
        return _attribute(condition, dialect)
    if isinstance(condition, TagCondition):
        has = json_list_contains(Contact.tags, condition.tag, dialect)
        return has if condition.present else ~has
    if isinstance(condition, LanguageCondition):
        return Contact.language == condition.language
    if isinstance(condition, UnitCondition):
        unit = await get_unit_by_code(session, tenant_id, condition.unit_code)
        if unit is None:
            raise invalid("unit_code", f"No unit {condition.unit_code!r}.", code="unknown_unit")
        return Unit.path.startswith(unit.path)
    if isinstance(condition, EventCondition):
        since = now - timedelta(days=condition.within_days)
        counted = (
            select(func.count())
            .select_from(ContactEvent)
            .where(
                ContactEvent.contact_id == Contact.id,
                ContactEvent.type == condition.event,
                ContactEvent.occurred_at >= since,
            )
            .scalar_subquery()
        )
        return counted >= condition.min_count
    criteria = condition.response
    return _response(criteria, now - timedelta(days=criteria.within_days))


async def filtered(
    session: AsyncSession, tenant_id: str, where: SegmentFilter, reach: Reach | None = None
) -> Select[Any]:
    """``select(Contact.id)`` of the live contacts the filter matches (within ``reach`` if given)."""
    dialect = session.get_bind().dialect.name
    clauses = [await _clause(session, tenant_id, c, dialect) for c in where.conditions]
    if not clauses:
        combined: ColumnElement[bool] = true()
    elif where.match == "all":
        combined = and_(*clauses)
    else:
        combined = or_(*clauses) if clauses else false()
    statement = (
        select(Contact.id)
        .outerjoin(Unit, Unit.id == Contact.unit_id)
        .where(Contact.tenant_id == tenant_id, Contact.merged_into.is_(None), combined)
    )
    if reach is not None:
        statement = statement.where(reach.unit_clause(Unit.id, Unit.path))
    return statement


async def count_matching(
    session: AsyncSession, tenant_id: str, where: SegmentFilter, reach: Reach | None = None
) -> int:
    inner = (await filtered(session, tenant_id, where, reach)).subquery()
    return int((await session.execute(select(func.count()).select_from(inner))).scalar_one())


async def get_segment(session: AsyncSession, tenant_id: str, segment_id: str) -> Segment:
    segment = await session.get(Segment, segment_id) if len(segment_id) <= 26 else None
    if segment is None or segment.tenant_id != tenant_id:
        raise not_found("segment")
    return segment


async def segment_contact_ids(session: AsyncSession, tenant_id: str, segment_id: str) -> list[str]:
    """Every live contact of the segment, tenant-wide (NotFound for an unknown segment)."""
    segment = await get_segment(session, tenant_id, segment_id)
    statement = await filtered(session, tenant_id, SegmentFilter.model_validate(segment.filter))
    return list((await session.execute(statement.order_by(Contact.id))).scalars())


async def list_segments(session: AsyncSession, tenant_id: str) -> list[Segment]:
    statement = select(Segment).where(Segment.tenant_id == tenant_id).order_by(Segment.name)
    return list((await session.execute(statement)).scalars())


async def save_segment(
    session: AsyncSession, tenant_id: str, name: str, where: SegmentFilter, segment: Segment | None = None
) -> Segment:
    await filtered(session, tenant_id, where)  # refuses unknown units and bad values before saving
    clash = (
        await session.execute(select(Segment.id).where(Segment.tenant_id == tenant_id, Segment.name == name))
    ).scalar_one_or_none()
    if clash is not None and (segment is None or clash != segment.id):
        raise Conflict(f"A segment named {name!r} exists already.", code="segment_exists")
    now = utc_now()
    if segment is None:
        segment = Segment(id=new_id(), tenant_id=tenant_id, created_at=now, version=0)
        session.add(segment)
    segment.name = name
    segment.filter = where.model_dump(mode="json", exclude_defaults=False)
    segment.updated_at = now
    segment.version = (segment.version or 0) + 1
    await session.flush()
    return segment
