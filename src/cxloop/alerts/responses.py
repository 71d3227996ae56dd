"""Response rules against one stored response: build what rules look at, match, fire.

Used by the pipeline subscriber (every stored or edited response) and by the dry run
(past responses, nothing fired). Contact attributes and text facts come from the
customers and text domains when they exist and when some rule needs them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import cxloop.customers as customers_api
import cxloop.text as text_api
from cxloop.alerts.actions import fire
from cxloop.alerts.evaluate import CompiledRule, Subject
from cxloop.alerts.models import Alert
from cxloop.alerts.service import TenantConfig
from cxloop.collection import Response, batch_response_ids
from cxloop.identity import Unit

KEY_ANSWERS = 6


async def contact_of(session: AsyncSession, response: Response) -> tuple[str | None, dict[str, Any]]:
    """The contact id and the attributes rules see; the submitted contact fields until the
    customer directory resolves responses to contacts."""
    ids_for = getattr(customers_api, "contact_ids_for_responses", None)
    reach_of = getattr(customers_api, "contact_reach", None)
    fallback = dict(response.contact_ref or {}) if isinstance(response.contact_ref, dict) else {}
    if ids_for is None or reach_of is None:
        return None, fallback
    found = await ids_for(session, response.tenant_id, [response.id])
    contact_id = found.get(response.id)
    if contact_id is None:
        return None, fallback
    reach = await reach_of(session, response.tenant_id, contact_id)
    if reach is None:
        return contact_id, fallback
    return contact_id, _attributes_of(reach)


async def text_facts(session: AsyncSession, response: Response) -> dict[str, Any]:
    facts = getattr(text_api, "response_text_facts", None)
    if facts is None:
        return {}
    result: dict[str, Any] = await facts(session, response.tenant_id, response.id)
    return result


_UNITS_KEY = "cxloop_alerts_batch_units"


async def unit_of(session: AsyncSession, unit_id: str) -> Unit | None:
    """The response's unit; in a pipeline batch, the units of all its responses are
    read in one query the first time (the pipeline never moves units)."""
    loaded: dict[str, Unit | None] | None = session.info.get(_UNITS_KEY)
    batch = batch_response_ids(session)
    if batch and (loaded is None or unit_id not in loaded):
        rows = (
            (
                await session.execute(
                    select(Unit).join(Response, Response.unit_id == Unit.id).where(Response.id.in_(batch))
                )
            )
            .scalars()
            .unique()
            .all()
        )
        # Held here so that the rows stay in the identity map for the batch.
        loaded = session.info[_UNITS_KEY] = {**(loaded or {}), unit_id: None, **{u.id: u for u in rows}}
    if loaded is not None and unit_id in loaded:
        return loaded[unit_id]
    return await session.get(Unit, unit_id)


def _attributes_of(reach: Any) -> dict[str, Any]:
    attributes = dict(getattr(reach, "attributes", None) or {})
    attributes.setdefault("tags", list(getattr(reach, "tags", None) or []))
    attributes.setdefault("language", getattr(reach, "language", None))
    return attributes


Contacts = dict[str, tuple[str | None, dict[str, Any]]]


async def contact_ids_of(session: AsyncSession, tenant_id: str, response_ids: list[str]) -> dict[str, str]:
    """Only the linked contact ids (one query), for matches of rules that read no contact
    attribute: the alert, and the case it opens, still know whom to follow up with."""
    ids_for = getattr(customers_api, "contact_ids_for_responses", None)
    if ids_for is None or not response_ids:
        return {}
    found: dict[str, str] = await ids_for(session, tenant_id, response_ids)
    return found


async def contacts_of(session: AsyncSession, tenant_id: str, responses: list[Response]) -> Contacts:
    """``contact_of`` for a batch of one tenant's responses: two or three queries in all
    (the links, the contacts, their identities) instead of as many per response. The
    customers subscriber has linked the whole batch before alerts runs."""
    ids_for = getattr(customers_api, "contact_ids_for_responses", None)
    reaches_of = getattr(customers_api, "contacts_reach", None)
    fallback = {r.id: dict(r.contact_ref or {}) if isinstance(r.contact_ref, dict) else {} for r in responses}
    if ids_for is None or reaches_of is None:
        return {r.id: (None, fallback[r.id]) for r in responses}
    linked: dict[str, str] = await ids_for(session, tenant_id, [r.id for r in responses])
    reaches: dict[str, Any] = (
        await reaches_of(session, tenant_id, sorted(set(linked.values()))) if linked else {}
    )
    out: Contacts = {}
    for response in responses:
        contact_id = linked.get(response.id)
        reach = reaches.get(contact_id) if contact_id is not None else None
        out[response.id] = (contact_id, _attributes_of(reach) if reach is not None else fallback[response.id])
    return out


async def subject_for(
    session: AsyncSession,
    config: TenantConfig,
    response: Response,
    *,
    needs_text: bool | None = None,
    contacts: Contacts | None = None,
) -> tuple[Subject, str | None]:
    unit_path = None
    if config.needs_unit_path and response.unit_id:
        unit = await unit_of(session, response.unit_id)
        unit_path = unit.path if unit is not None else None
    contact_id: str | None = None
    contact: dict[str, Any] = {}
    if config.needs_contact:
        if contacts is not None and response.id in contacts:
            contact_id, contact = contacts[response.id]
        else:
            contact_id, contact = await contact_of(session, response)
    subject = Subject(
        response={
            "survey_id": response.survey_id,
            "channel": response.channel,
            "touchpoint": response.touchpoint,
            "language": response.language,
            "source": response.source,
        },
        answers=response.answers if isinstance(response.answers, dict) else {},
        embedded=response.embedded if isinstance(response.embedded, dict) else {},
        unit_path=unit_path,
        contact=contact,
        text=await text_facts(session, response)
        if (config.needs_text if needs_text is None else needs_text)
        else {},
    )
    return subject, contact_id


def summary_for(rule: CompiledRule, response: Response, unit: Unit | None) -> dict[str, Any]:
    answers = response.answers if isinstance(response.answers, dict) else {}
    key: list[list[Any]] = []
    for question in rule.questions:
        if question in answers and not isinstance(answers[question], str | dict):
            key.append([question, answers[question]])
    for question, value in answers.items():
        if len(key) >= KEY_ANSWERS:
            break
        if isinstance(value, int | float) and not isinstance(value, bool) and [question, value] not in key:
            key.append([question, value])
    comments = [v for v in answers.values() if isinstance(v, str) and v.strip() and not v.isdigit()]
    return {
        "kind": "response",
        "title": rule.name,
        "priority": rule.rule.priority,
        "survey_id": response.survey_id,
        "response_id": response.id,
        "unit_code": unit.code if unit else None,
        "unit_names": dict(unit.names) if unit else {},
        "key_answers": key,
        "comment": "\n".join(comments)[:1000] or None,
        "link": f"/alerts?response={response.id}",
    }


def _rules(config: TenantConfig, text_rules: bool | None) -> tuple[CompiledRule, ...]:
    if text_rules is None:
        return config.rules
    return tuple(rule for rule in config.rules if rule.needs_text == text_rules)


async def fire_for_response(
    session: AsyncSession, config: TenantConfig, response: Response, *, text_rules: bool | None = None
) -> list[Alert]:
    """Fire the matching rules: all of them, or (``text_rules``) only those on text
    facts or only the others. The pipeline evaluates the others in its prompt lane and
    those on text facts after text analysis, in its background lane."""
    rules = _rules(config, text_rules)
    if not rules:
        return []
    subject, contact_id = await subject_for(session, config, response, needs_text=text_rules)
    matched = [rule for rule in rules if rule.matches(subject)]
    if not matched:
        return []
    if not config.needs_contact:
        contact_id = (await contact_ids_of(session, response.tenant_id, [response.id])).get(response.id)
    return await _fire_matched(session, config, response, matched, contact_id, fired_already=None)


async def fire_for_responses(
    session: AsyncSession, config: TenantConfig, responses: list[Response], *, text_rules: bool | None = None
) -> list[Alert]:
    """``fire_for_response`` for a batch of one tenant's responses (the pipeline's): the
    contacts are read for all of them at once when rules need them, and the alerts that
    already exist (a retried job) are looked up in one query for every match of the
    batch; each match still fires, in response order, through ``fire``."""
    rules = _rules(config, text_rules)
    if not rules or not responses:
        return []
    contacts = await contacts_of(session, responses[0].tenant_id, responses) if config.needs_contact else None
    matches: list[tuple[Response, list[CompiledRule], str | None]] = []
    for response in responses:
        subject, contact_id = await subject_for(
            session, config, response, needs_text=text_rules, contacts=contacts
        )
        matched = [rule for rule in rules if rule.matches(subject)]
        if matched:
            matches.append((response, matched, contact_id))
    if not matches:
        return []
    if not config.needs_contact:
        linked = await contact_ids_of(
            session, responses[0].tenant_id, [response.id for response, _, _ in matches]
        )
        matches = [(response, matched, linked.get(response.id)) for response, matched, _ in matches]
    existing = await _existing_alerts(
        session,
        responses[0].tenant_id,
        sorted({rule.id for _, matched, _ in matches for rule in matched}),
        [response.id for response, _, _ in matches],
    )
    fired: list[Alert] = []
    for response, matched, contact_id in matches:
        fired += await _fire_matched(session, config, response, matched, contact_id, fired_already=existing)
    return fired


async def _existing_alerts(
    session: AsyncSession, tenant_id: str, rule_ids: list[str], subject_keys: list[str]
) -> set[tuple[str, str]]:
    found = await session.execute(
        select(Alert.rule_id, Alert.subject_key).where(
            Alert.tenant_id == tenant_id, Alert.rule_id.in_(rule_ids), Alert.subject_key.in_(subject_keys)
        )
    )
    return {(str(rule_id), str(key)) for rule_id, key in found.all()}


async def _fire_matched(
    session: AsyncSession,
    config: TenantConfig,
    response: Response,
    matched: list[CompiledRule],
    contact_id: str | None,
    *,
    fired_already: set[tuple[str, str]] | None,
) -> list[Alert]:
    unit = await unit_of(session, response.unit_id) if response.unit_id else None
    hooks = config.webhooks_for("alert.created")
    fired = []
    for rule in matched:
        if fired_already is not None and (rule.id, response.id) in fired_already:
            continue
        alert = await fire(
            session,
            tenant_id=response.tenant_id,
            rule_id=rule.id,
            rule_version=rule.version,
            kind="response",
            subject_key=response.id,
            title=rule.name,
            priority=rule.rule.priority,
            summary=summary_for(rule, response, unit),
            actions=rule.rule.actions,
            unit_id=response.unit_id,
            response_id=response.id,
            contact_id=contact_id,
            webhook_ids=hooks,
            checked=fired_already is not None,
        )
        if fired_already is not None:
            fired_already.add((rule.id, response.id))
        if alert is not None:
            fired.append(alert)
    return fired


def response_event(response: Response) -> dict[str, Any]:
    """The response.created webhook payload: ids and answers, never contact fields."""
    return {
        "tenant_id": response.tenant_id,
        "response_id": response.id,
        "survey_id": response.survey_id,
        "survey_version": response.survey_version,
        "unit_id": response.unit_id,
        "channel": response.channel,
        "touchpoint": response.touchpoint,
        "language": response.language,
        "submitted_at": response.submitted_at.isoformat(),
        "answers": response.answers,
        "embedded": response.embedded,
    }
