"""Piping: ``{{answers.q1}}``, ``{{contact.first_name}}``, ``{{embedded.store}}``
placeholders in survey text.

The renderer only substitutes values (it escapes nothing: whatever shows the
text escapes it) and never evaluates anything; an unknown placeholder renders
as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cxloop.surveys.conditions import Facts

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
REFERENCE = re.compile(r"^(answers|contact|embedded)\.([A-Za-z][A-Za-z0-9_]{0,63})$")

CONTACT_FIELDS = frozenset({"first_name", "last_name", "name", "email", "phone", "external_id", "company"})


@dataclass(frozen=True)
class Reference:
    source: str
    name: str


def references(text: str) -> list[Reference | str]:
    """The placeholders in ``text``: a Reference, or the raw text of a malformed one."""
    found: list[Reference | str] = []
    for match in PLACEHOLDER.finditer(text):
        parsed = REFERENCE.match(match.group(1))
        found.append(Reference(parsed.group(1), parsed.group(2)) if parsed else match.group(0))
    return found


def _as_text(value: Any, labels: Mapping[str, str]) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else ""
    if isinstance(value, list):
        return ", ".join(_as_text(v, labels) for v in value)
    if isinstance(value, Mapping) and "choice" in value:
        # An "other" choice pipes what the respondent wrote, which says more than the label "Other".
        return str(value.get("other") or labels.get(str(value["choice"]), value["choice"]))
    if isinstance(value, str):
        return labels.get(value, value)
    return str(value)


def render(text: str, facts: Facts, choice_labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """Substitute placeholders; ``choice_labels[question_id][choice_id]`` shows picks by label."""
    labels = choice_labels or {}

    def substitute(match: re.Match[str]) -> str:
        parsed = REFERENCE.match(match.group(1))
        if parsed is None:
            return ""
        source, name = parsed.group(1), parsed.group(2)
        values = {"answers": facts.answers, "contact": facts.contact, "embedded": facts.embedded}[source]
        question_labels = labels.get(name, {}) if source == "answers" else {}
        return _as_text(values.get(name), question_labels)

    return PLACEHOLDER.sub(substitute, text)
