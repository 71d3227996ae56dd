"""Alert messages in the recipient's language, escaped for each medium.

Everything a respondent wrote (the comment, an "other" text) is untrusted: it is
HTML-escaped in email, Markdown-escaped for chat robots (WeCom, DingTalk, Feishu,
Slack render Markdown, and a comment like ``[click](http://evil)`` must stay text),
and stripped of control characters in SMS. The texts live here rather than in the
page catalogs because the worker renders them, and a domain does not import the web
assembly; both languages are kept side by side so a missing one is obvious.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "alert": "Alert",
        "metric_alert": "Metric alert",
        "priority": "Priority",
        "unit": "Unit",
        "comment": "Comment",
        "answers": "Key answers",
        "open": "Open",
        "case": "Case",
        "digest": "{n} metric alerts",
        "metric_line": "{metric} {value} (n={n}), previous {previous}",
        "low": "low",
        "normal": "normal",
        "high": "high",
        "urgent": "urgent",
    },
    "zh-CN": {
        "alert": "预警",
        "metric_alert": "指标预警",
        "priority": "优先级",
        "unit": "单位",
        "comment": "评论",
        "answers": "关键回答",
        "open": "查看",
        "case": "工单",
        "digest": "{n} 条指标预警",
        "metric_line": "{metric} {value}（n={n}），上期 {previous}",
        "low": "低",
        "normal": "普通",
        "high": "高",
        "urgent": "紧急",
    },
}


def language_of(tag: str | None) -> str:
    if tag and (tag.startswith("zh") or tag == "zh-CN"):
        return "zh-CN"
    if tag and tag.startswith("en"):
        return "en"
    return "zh-CN"


def t(lang: str, key: str) -> str:
    return TEXTS[language_of(lang)][key]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def plain(text: str) -> str:
    return _CONTROL.sub("", text)


def markdown(text: str) -> str:
    """Untrusted text as literal Markdown: every special character backslash-escaped,
    HTML brackets too (some robots render inline HTML), lines kept."""
    return _MD_SPECIAL.sub(r"\\\1", plain(text))


def esc_html(text: str) -> str:
    return html.escape(plain(text), quote=True)


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Message:
    subject: str
    plain: str
    markdown: str
    html: str


def render_alert(summary: dict[str, Any], lang: str, base_url: str) -> Message:
    """One alert (or a metric digest) for one language, in all three media."""
    lang = language_of(lang)
    link = base_url.rstrip("/") + str(summary.get("link") or "/alerts")
    if summary.get("digest"):
        return _render_digest(summary, lang, link)
    title = _short(summary.get("title") or "", 150)
    kind_word = t(lang, "metric_alert" if summary.get("kind") == "metric" else "alert")
    prio = t(lang, str(summary.get("priority") or "normal"))
    names = summary.get("unit_names") or {}
    unit = str(names.get(lang) or names.get("zh-CN") or names.get("en") or summary.get("unit_code") or "")
    answers: list[tuple[str, str]] = [(str(q), _short(v, 60)) for q, v in summary.get("key_answers") or []]
    comment = _short(summary.get("comment") or "", 500)
    case = summary.get("case_number")
    subject = f"[{kind_word}] {title}"
    if unit:
        subject += f" · {unit}"
    head = [f"{t(lang, 'priority')}: {prio}"] + ([f"{t(lang, 'unit')}: {unit}"] if unit else [])
    if case is not None:
        head.append(f"{t(lang, 'case')}: #{case}")
    for line in summary.get("metric_lines") or []:
        head.append(str(line))

    plain_lines = [plain(subject), *map(plain, head)]
    plain_lines += [plain(f"{q}={v}") for q, v in answers]
    if comment:
        plain_lines.append(plain(f"{t(lang, 'comment')}: {comment}"))
    plain_lines.append(link)

    md = [f"**{markdown(subject)}**", *(f"- {markdown(h)}" for h in head)]
    if answers:
        md.append(f"- {t(lang, 'answers')}: " + ", ".join(f"{markdown(q)}={markdown(v)}" for q, v in answers))
    if comment:
        md.append("> " + markdown(comment).replace("\n", "\n> "))
    md.append(f"[{t(lang, 'open')}]({link})")

    rows = "".join(f"<li>{esc_html(h)}</li>" for h in head)
    rows += "".join(f"<li>{esc_html(q)} = {esc_html(v)}</li>" for q, v in answers)
    body = f"<h2>{esc_html(subject)}</h2><ul>{rows}</ul>"
    if comment:
        body += f"<blockquote>{esc_html(comment)}</blockquote>"
    body += f'<p><a href="{html.escape(link, quote=True)}">{t(lang, "open")}</a></p>'
    return Message(subject=plain(subject), plain="\n".join(plain_lines), markdown="\n".join(md), html=body)


def _render_digest(summary: dict[str, Any], lang: str, link: str) -> Message:
    items: list[dict[str, Any]] = list(summary.get("items") or [])
    subject = f"[{t(lang, 'metric_alert')}] " + t(lang, "digest").format(n=len(items))
    lines = [f"{_short(i.get('title') or '', 150)}: {'; '.join(i.get('metric_lines') or [])}" for i in items]
    md = [f"**{markdown(subject)}**", *(f"- {markdown(x)}" for x in lines), f"[{t(lang, 'open')}]({link})"]
    body = f"<h2>{esc_html(subject)}</h2><ul>" + "".join(f"<li>{esc_html(x)}</li>" for x in lines)
    body += f'</ul><p><a href="{html.escape(link, quote=True)}">{t(lang, "open")}</a></p>'
    return Message(
        subject=plain(subject),
        plain="\n".join([plain(subject), *map(plain, lines), link]),
        markdown="\n".join(md),
        html=body,
    )
