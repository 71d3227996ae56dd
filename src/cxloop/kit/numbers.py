"""Whole numbers typed by people or read from files.

``str.isdigit()`` says yes to "²" and "①", which ``int()`` then refuses with
a ValueError, and to 5,000-digit strings past the interpreter's conversion
limit; checks that guard an ``int()`` use this instead.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def ascii_digits(text: str, max_digits: int = 18) -> bool:
    """True for 1 to ``max_digits`` ASCII digits and nothing else."""
    return len(text) <= max_digits and _DIGITS.fullmatch(text) is not None
