"""Simple SurveyJS ``visibleIf`` and XLSForm ``relevant`` expressions as
structured conditions. Only flat ``and``/``or`` chains of comparisons are
mapped; anything else returns None and the caller lists it as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Resolves a source question name to (cxloop id, {source value: choice id}, is multiple choice).
Resolver = Callable[[str], tuple[str, dict[str, str], bool] | None]

_OPS = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
_VALUE = r"""('(?:[^']*)'|"(?:[^"]*)"|-?\d+(?:\.\d+)?|true|false)"""
_FIELD = r"(?:\$\{([A-Za-z0-9_.\- ]+)\}|\{([A-Za-z0-9_.\- ]+)\})"
_COMPARE = re.compile(rf"^{_FIELD}\s*(==|=|!=|<>|<=|>=|<|>)\s*{_VALUE}$", re.IGNORECASE)
_EMPTY = re.compile(rf"^{_FIELD}\s+(notempty|empty)$", re.IGNORECASE)
_CONTAINS = re.compile(rf"^{_FIELD}\s+(contains|notcontains)\s+{_VALUE}$", re.IGNORECASE)
_SELECTED = re.compile(rf"^(not\s*\(\s*)?selected\(\s*{_FIELD}\s*,\s*{_VALUE}\s*\)(\s*\))?$", re.IGNORECASE)
_CURLY_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_SPLIT = re.compile(r"\s+(and|or)\s+", re.IGNORECASE)


def _literal(raw: str) -> str | int | float | bool:
    if raw[:1] in "'\"":
        return raw[1:-1]
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return float(raw) if "." in raw else int(raw)


def _choice_value(value: Any, choices: dict[str, str]) -> Any:
    if choices and str(value) in choices:
        return choices[str(value)]
    return value


def _atom(text: str, resolve: Resolver) -> dict[str, Any] | None:
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and text.count("(") == 1:
        text = text[1:-1].strip()
    if match := _COMPARE.match(text):
        target = resolve(match.group(1) or match.group(2))
        if target is None:
            return None
        field, choices, multiple = target
        op = _OPS[match.group(3)]
        value = _choice_value(_literal(match.group(4)), choices)
        if multiple and op in ("eq", "ne"):
            comparison = {"source": "answers", "field": field, "op": "contains", "value": value}
            return comparison if op == "eq" else {"not": comparison}
        return {"source": "answers", "field": field, "op": op, "value": value}
    if match := _EMPTY.match(text):
        target = resolve(match.group(1) or match.group(2))
        if target is None:
            return None
        op = "answered" if match.group(3).lower() == "notempty" else "not_answered"
        return {"source": "answers", "field": target[0], "op": op}
    if match := _CONTAINS.match(text):
        target = resolve(match.group(1) or match.group(2))
        if target is None:
            return None
        value = _choice_value(_literal(match.group(4)), target[1])
        comparison = {"source": "answers", "field": target[0], "op": "contains", "value": value}
        return comparison if match.group(3).lower() == "contains" else {"not": comparison}
    if match := _SELECTED.match(text):
        if bool(match.group(1)) != bool(match.group(5)):
            return None
        target = resolve(match.group(2) or match.group(3))
        if target is None:
            return None
        field, choices, multiple = target
        value = _choice_value(_literal(match.group(4)), choices)
        comparison = {
            "source": "answers",
            "field": field,
            "op": "contains" if multiple else "eq",
            "value": value,
        }
        return {"not": comparison} if match.group(1) else comparison
    return None


def parse_expression(expression: str, resolve: Resolver) -> dict[str, Any] | None:
    """A condition for a flat and/or chain of simple comparisons, else None."""
    expression = expression.translate(_CURLY_QUOTES)
    parts = _SPLIT.split(expression.strip())
    atoms = parts[0::2]
    joins = {j.lower() for j in parts[1::2]}
    if len(joins) > 1 or any(a.count("(") != a.count(")") for a in atoms):
        return None
    conditions = [_atom(atom, resolve) for atom in atoms]
    if not conditions or any(c is None for c in conditions):
        return None
    if len(conditions) == 1:
        return conditions[0]
    return {"all" if joins == {"and"} else "any": conditions}
