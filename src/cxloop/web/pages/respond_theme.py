"""A survey's theme colour as a tiny stylesheet.

The pages' CSP allows no inline styles, so the colour reaches the page as
``/s/_theme/RRGGBB.css``: keyed by the colour alone, it needs no database
and is cached by browsers for a year. Text on the colour is black or white,
whichever contrasts more, and the colour used for text and borders on
white is darkened until it reaches WCAG AA's 4.5:1.
"""

from __future__ import annotations

import re
from functools import lru_cache

from fastapi import APIRouter
from fastapi.responses import Response

from cxloop.kit.errors import not_found

router = APIRouter(include_in_schema=False)
HEX = re.compile(r"^[0-9a-fA-F]{6}$")
AA = 4.5


def theme_css_path(color: str) -> str:
    return f"/s/_theme/{color.removeprefix('#').lower()}.css"


def _luminance(rgb: tuple[int, int, int]) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _rgb(hex_color: str) -> tuple[int, int, int]:
    return int(hex_color[0:2], 16), int(hex_color[2:4], 16), int(hex_color[4:6], 16)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@lru_cache(maxsize=256)
def theme_css(hex_color: str) -> str:
    accent = _rgb(hex_color)
    white, black = (255, 255, 255), (17, 17, 17)
    on_accent = white if contrast(accent, white) >= contrast(accent, black) else black
    ink = accent
    while contrast(ink, white) < AA:
        ink = (int(ink[0] * 0.9), int(ink[1] * 0.9), int(ink[2] * 0.9))
    return f":root{{--accent:{_hex(accent)};--on-accent:{_hex(on_accent)};--ink:{_hex(ink)}}}\n"


@router.get("/s/_theme/{name}.css")
async def theme_stylesheet(name: str) -> Response:
    if not HEX.match(name):
        raise not_found("file")
    return Response(
        theme_css(name.lower()),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
