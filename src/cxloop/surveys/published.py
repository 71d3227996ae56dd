"""Parsed published versions, kept per process.

A published version never changes, so each web process and worker parses
it once; the respondent pages, the ingest API and audited edits all ask
here. Drafts are never cached (they change while they are edited), and
are not returned: only published versions are answered.
"""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.surveys.definition import SurveyDefinition, parse_definition
from cxloop.surveys.models import SurveyVersion

# Enough for every live survey of a large installation; each entry is a few tens of KB.
CACHE_SIZE = 512
_parsed: OrderedDict[tuple[str, int], SurveyDefinition] = OrderedDict()


def cached_published_definition(survey_id: str, version: int) -> SurveyDefinition | None:
    """The parsed published version if this process holds it already; no I/O.

    For callers that check input before they open a transaction (response
    ingest); None means "ask ``published_definition``", not "no such version".
    """
    return _parsed.get((survey_id, version))


async def published_definition(
    session: AsyncSession, survey_id: str, version: int
) -> SurveyDefinition | None:
    """The parsed definition of a published version, or None if there is no such published version."""
    key = (survey_id, version)
    definition = _parsed.get(key)
    if definition is not None:
        _parsed.move_to_end(key)
        return definition
    row = await session.get(SurveyVersion, key)
    if row is None or row.published_at is None:
        return None
    definition = parse_definition(row.definition)
    _parsed[key] = definition
    while len(_parsed) > CACHE_SIZE:
        _parsed.popitem(last=False)
    return definition
