"""JSON typed into a page's form field (a segment filter, trigger conditions, a rule).

The API's bodies are checked by the framework; a form field is a plain string
that a page parses itself. ``json.loads`` lets through what later code cannot
take: a document nested thousands deep (a RecursionError wherever it is
walked), integers past Python's 4,300-digit conversion limit and lone
surrogates no database can store. One parser refuses them all up front.
"""

from __future__ import annotations

import json
from typing import Any

MAX_NESTING = 32


class NotFormJson(ValueError):
    """The text is not a JSON document a page accepts; ``reason`` says why, in English."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_form_json(text: str, *, max_nesting: int = MAX_NESTING) -> Any:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotFormJson(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    except RecursionError as exc:
        raise NotFormJson(f"it nests deeper than {max_nesting} levels") from exc
    except ValueError as exc:  # an integer literal over the interpreter's digit limit
        raise NotFormJson("a number has too many digits") from exc
    _check(document, max_nesting)
    return document


def _check(document: Any, max_nesting: int) -> None:
    # Iterative, so that the check itself cannot overflow the stack.
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError as exc:
                raise NotFormJson("a text holds a lone surrogate, which is not valid Unicode") from exc
        elif isinstance(value, dict | list):
            if depth >= max_nesting:
                raise NotFormJson(f"it nests deeper than {max_nesting} levels")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
