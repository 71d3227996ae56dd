"""The tenant's taxonomy: seeded from the default on first use, edited through the API."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.identity import Actor, Perm, Principal, Tenant, record
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, NotFound, ValidationFailed
from cxloop.kit.ids import new_id
from cxloop.text.default_taxonomy import DEFAULT_TAXONOMY
from cxloop.text.models import TextTopic
from cxloop.text.topics import TopicSpec

MAX_TOPICS = 500
MAX_DEPTH = 4


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def default_topic_id(tenant_id: str, key: str) -> str:
    """A stable id for a default topic, so a read that shows the unsaved default and
    the write that saves it agree on every id."""
    digest = int.from_bytes(hashlib.sha256(f"{tenant_id}:{key}".encode()).digest()[:16], "big") >> 3
    chars = []
    for _ in range(25):
        digest, rest = divmod(digest, 32)
        chars.append(_CROCKFORD[rest])
    return "0" + "".join(reversed(chars))


def _default_rows(tenant_id: str) -> list[TextTopic]:
    now = utc_now()
    out: list[TextTopic] = []

    def add(node: dict[str, Any], parent_id: str | None, position: int) -> None:
        topic = TextTopic(
            id=default_topic_id(tenant_id, node["key"]),
            tenant_id=tenant_id,
            parent_id=parent_id,
            key=node["key"],
            name=dict(node["name"]),
            keywords={k: list(v) for k, v in node.get("keywords", {}).items()},
            exclude={k: list(v) for k, v in node.get("exclude", {}).items()},
            position=position,
            created_at=now,
            updated_at=now,
        )
        out.append(topic)
        for index, child in enumerate(node.get("children", [])):
            add(child, topic.id, index)

    for index, node in enumerate(DEFAULT_TAXONOMY):
        add(node, None, index)
    return out


async def _stored(session: AsyncSession, tenant_id: str) -> list[TextTopic]:
    rows = await session.scalars(
        select(TextTopic).where(TextTopic.tenant_id == tenant_id).order_by(TextTopic.position, TextTopic.id)
    )
    return list(rows)


async def ensure_taxonomy(session: AsyncSession, tenant_id: str) -> None:
    """Save the default taxonomy for a tenant that has none (idempotent; writes only in a write session)."""
    if not session.info.get("write", True):
        return
    count = await session.scalar(select(func.count()).where(TextTopic.tenant_id == tenant_id))
    if count:
        return
    for topic in _default_rows(tenant_id):
        session.add(topic)
    await session.flush()


async def all_topics(session: AsyncSession, tenant_id: str) -> list[TextTopic]:
    """The tenant's topics; the (not yet saved) default when it has none."""
    return await _stored(session, tenant_id) or _default_rows(tenant_id)


def topic_name(topic: TextTopic, locale: str) -> str:
    names: dict[str, str] = topic.name or {}
    return names.get(locale) or names.get("en") or next(iter(names.values()), topic.key or topic.id)


def paths(topics: list[TextTopic], locale: str) -> dict[str, str]:
    by_id = {t.id: t for t in topics}
    out: dict[str, str] = {}
    for topic in topics:
        parts: list[str] = []
        node: TextTopic | None = topic
        seen: set[str] = set()
        while node is not None and node.id not in seen:
            seen.add(node.id)
            parts.append(topic_name(node, locale))
            node = by_id.get(node.parent_id) if node.parent_id else None
        out[topic.id] = " > ".join(reversed(parts))
    return out


async def tenant_locale(session: AsyncSession, tenant_id: str) -> str:
    locale = await session.scalar(select(Tenant.default_locale).where(Tenant.id == tenant_id))
    return locale or "en"


async def topic_specs(session: AsyncSession, tenant_id: str) -> tuple[TopicSpec, ...]:
    """Every topic that can be assigned (one with words, or a leaf) as the engine wants it."""
    await ensure_taxonomy(session, tenant_id)
    topics = await all_topics(session, tenant_id)
    named = paths(topics, await tenant_locale(session, tenant_id))
    parents = {t.parent_id for t in topics if t.parent_id}
    out = []
    for topic in topics:
        words = tuple(w for ws in (topic.keywords or {}).values() for w in ws)
        if words or topic.id not in parents:
            exclude = tuple(w for ws in (topic.exclude or {}).values() for w in ws)
            out.append(TopicSpec(topic.id, named[topic.id], words, exclude))
    return tuple(out)


def _names(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(t, str) and isinstance(n, str) and t.isprintable() and n.isprintable()
        for t, n in value.items()
    ):
        raise ValidationFailed(
            "Invalid name", errors=[FieldError("name", "may not contain control characters")]
        )
    return dict(value)


def _words(value: Any, path: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if isinstance(value, list):
        value = {"any": value}
    if not isinstance(value, dict):
        raise ValidationFailed("Invalid keywords", errors=[FieldError(path, "must be {language: [words]}")])
    out: dict[str, list[str]] = {}
    # Printable words only: NUL cannot be stored in PostgreSQL and no comment matches a control character.
    for lang, words in value.items():
        if not isinstance(words, list) or not all(
            isinstance(w, str) and 0 < len(w.strip()) <= 100 and w.strip().isprintable() for w in words
        ):
            raise ValidationFailed("Invalid keywords", errors=[FieldError(f"{path}.{lang}", "must be words")])
        if len(words) > 200:
            raise ValidationFailed("Invalid keywords", errors=[FieldError(f"{path}.{lang}", "at most 200")])
        out[str(lang)[:8]] = [w.strip() for w in words]
    return out


async def get_topic(session: AsyncSession, tenant_id: str, topic_id: str) -> TextTopic:
    topic = await session.get(TextTopic, topic_id)
    if topic is None and not session.info.get("write", True):
        topic = next((t for t in await all_topics(session, tenant_id) if t.id == topic_id), None)
    if topic is None or topic.tenant_id != tenant_id:
        raise NotFound("No such topic", code="topic_not_found")
    return topic


async def _by_id(session: AsyncSession, tenant_id: str) -> dict[str, TextTopic]:
    # The unsaved default too: a refused change is decided before ensure_taxonomy
    # writes it, else a page that answers the refusal with a redirect commits it.
    return {topic.id: topic for topic in await all_topics(session, tenant_id)}


def _unknown_parent() -> ValidationFailed:
    return ValidationFailed("Unknown parent", errors=[FieldError("parent_id", "no such topic")])


def _depth(topics: dict[str, TextTopic], parent_id: str | None) -> int:
    depth = 0
    while parent_id is not None and depth <= MAX_DEPTH:
        if parent_id not in topics:
            raise _unknown_parent()
        parent_id = topics[parent_id].parent_id
        depth += 1
    return depth


async def create_topic(session: AsyncSession, principal: Principal, data: dict[str, Any]) -> TextTopic:
    principal.require(Perm.CONFIG_WRITE)
    tenant_id = principal.tenant_id
    topics = await _by_id(session, tenant_id)
    if len(topics) >= MAX_TOPICS:
        raise ValidationFailed("Too many topics", errors=[FieldError("", f"at most {MAX_TOPICS} topics")])
    parent_id = data.get("parent_id")
    if parent_id is not None and _depth(topics, parent_id) >= MAX_DEPTH:
        raise ValidationFailed("Too deep", errors=[FieldError("parent_id", f"at most {MAX_DEPTH} levels")])
    now = utc_now()
    topic = TextTopic(
        id=new_id(),
        tenant_id=tenant_id,
        parent_id=parent_id,
        key=None,
        name=_names(data["name"]),
        keywords=_words(data.get("keywords"), "keywords"),
        exclude=_words(data.get("exclude"), "exclude"),
        position=int(data.get("position") or 0),
        created_at=now,
        updated_at=now,
    )
    await ensure_taxonomy(session, tenant_id)
    session.add(topic)
    await session.flush()
    record(session, Actor.of(principal), "text.topic_created", target_type="text_topic", target_id=topic.id)
    return topic


async def update_topic(
    session: AsyncSession, principal: Principal, topic_id: str, data: dict[str, Any]
) -> TextTopic:
    principal.require(Perm.CONFIG_WRITE)
    topics = await _by_id(session, principal.tenant_id)
    if topic_id not in topics:
        raise NotFound("No such topic", code="topic_not_found")
    changes: dict[str, Any] = {}
    if "name" in data and data["name"] is not None:
        changes["name"] = _names(data["name"])
    if "keywords" in data:
        changes["keywords"] = _words(data["keywords"], "keywords")
    if "exclude" in data:
        changes["exclude"] = _words(data["exclude"], "exclude")
    if "position" in data and data["position"] is not None:
        changes["position"] = int(data["position"])
    if "parent_id" in data:
        node = data["parent_id"]
        while node is not None:
            if node == topic_id:
                raise ValidationFailed(
                    "A topic cannot move under itself", errors=[FieldError("parent_id", "cycle")]
                )
            if node not in topics:
                raise _unknown_parent()
            node = topics[node].parent_id
        changes["parent_id"] = data["parent_id"]
    await ensure_taxonomy(session, principal.tenant_id)
    topic = await get_topic(session, principal.tenant_id, topic_id)
    for name, value in changes.items():
        setattr(topic, name, value)
    topic.updated_at = utc_now()
    await session.flush()
    record(session, Actor.of(principal), "text.topic_updated", target_type="text_topic", target_id=topic.id)
    return topic


async def delete_topic(session: AsyncSession, principal: Principal, topic_id: str) -> None:
    principal.require(Perm.CONFIG_WRITE)
    if topic_id not in await _by_id(session, principal.tenant_id):
        raise NotFound("No such topic", code="topic_not_found")
    await ensure_taxonomy(session, principal.tenant_id)
    topic = await get_topic(session, principal.tenant_id, topic_id)
    await session.delete(topic)
    await session.flush()
    record(session, Actor.of(principal), "text.topic_deleted", target_type="text_topic", target_id=topic_id)
