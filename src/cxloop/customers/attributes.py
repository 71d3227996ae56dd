"""Typed contact attributes: definitions per tenant, and the check of given values.

A defined key must hold its type (text, number, date as ``YYYY-MM-DD``,
boolean, list of texts). Undefined keys are kept when they are plain JSON
scalars or lists of them, so an integration can send what it has; defining
the key later makes segments compare it by type.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.models import AttributeDefinition
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import Conflict, FieldError
from cxloop.kit.ids import new_id

TYPES = ("text", "number", "date", "boolean", "list")
KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TEXT = 1000
MAX_LIST = 100
MAX_KEYS = 200


async def definitions(session: AsyncSession, tenant_id: str) -> dict[str, str]:
    rows = await session.execute(
        select(AttributeDefinition.key, AttributeDefinition.type).where(
            AttributeDefinition.tenant_id == tenant_id
        )
    )
    return {key: kind for key, kind in rows.all()}


async def list_definitions(session: AsyncSession, tenant_id: str) -> list[AttributeDefinition]:
    statement = (
        select(AttributeDefinition)
        .where(AttributeDefinition.tenant_id == tenant_id)
        .order_by(AttributeDefinition.key)
    )
    return list((await session.execute(statement)).scalars())


async def define(
    session: AsyncSession, tenant_id: str, key: str, kind: str, label: dict[str, str]
) -> AttributeDefinition:
    existing = (await definitions(session, tenant_id)).get(key)
    if existing is not None:
        raise Conflict(f"The attribute {key!r} is already defined.", code="attribute_exists")
    row = AttributeDefinition(
        id=new_id(), tenant_id=tenant_id, key=key, type=kind, label=label, created_at=utc_now()
    )
    session.add(row)
    await session.flush()
    return row


def _text(value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise ValueError(f"must be a text of at most {MAX_TEXT} characters")
    return value


def check_value(kind: str, value: Any) -> Any:
    """The value as stored for its type; ValueError says why not."""
    if value is None:
        return None
    if kind == "text":
        return _text(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value
    if kind == "date":
        if not isinstance(value, str):
            raise ValueError("must be a date (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD)") from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "list":
        if not isinstance(value, list) or len(value) > MAX_LIST:
            raise ValueError(f"must be a list of at most {MAX_LIST} texts")
        return [_text(item) for item in value]
    raise ValueError(f"unknown attribute type {kind!r}")


def _untyped(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return _text(value) if isinstance(value, str) else value
    if isinstance(value, int | float):
        return check_value("number", value)
    if isinstance(value, list):
        if len(value) > MAX_LIST or not all(isinstance(item, str | int | float | bool) for item in value):
            raise ValueError(f"must be a list of at most {MAX_LIST} plain values")
        if any(isinstance(item, float) and not math.isfinite(item) for item in value):
            raise ValueError("must hold finite numbers")
        return value
    raise ValueError("must be a text, number, boolean or list")


def check_attributes(
    given: dict[str, Any], defined: dict[str, str], path: str = "attributes"
) -> tuple[dict[str, Any], list[FieldError]]:
    cleaned: dict[str, Any] = {}
    errors: list[FieldError] = []
    if len(given) > MAX_KEYS:
        return {}, [FieldError(path, f"at most {MAX_KEYS} attributes")]
    for key, value in given.items():
        if not isinstance(key, str) or not KEY.match(key):
            errors.append(FieldError(f"{path}.{key}", "keys are lower-case letters, digits and _"))
            continue
        try:
            cleaned[key] = check_value(defined[key], value) if key in defined else _untyped(value)
        except ValueError as exc:
            errors.append(FieldError(f"{path}.{key}", str(exc)))
    return cleaned, errors
