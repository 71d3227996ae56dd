"""What an invitation says, per channel and language (zh-CN, en).

Email gets a text part and an HTML part (autoescaped: names and titles come
from customers and survey authors); SMS one short line whose length the SMS
adapter counts in segments; WeChat/WeCom template fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment, StrictUndefined

_env = Environment(autoescape=True, undefined=StrictUndefined)
# Plain text is not markup: nothing to escape in it.
_text_env = Environment(autoescape=False, undefined=StrictUndefined)  # noqa: S701

_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Tell us about your experience: {title}",
        "reminder_subject": "Reminder: tell us about your experience: {title}",
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "body": "We would like to hear how we did. The survey \u201c{title}\u201d takes a few minutes.",
        "button": "Start the survey",
        "expires": "The link works until {expires}.",
        "unsubscribe": "Do not want these emails? Unsubscribe",
        "sms": "{title}: tell us how we did {link}",
        "wechat_first": "We would like to hear how we did",
        "wechat_remark": "Tap to start the survey",
    },
    "zh-CN": {
        "subject": "邀请您评价：{title}",
        "reminder_subject": "提醒：邀请您评价：{title}",
        "greeting": "{name}，您好：",
        "greeting_anonymous": "您好：",
        "body": "我们很想知道您的体验。问卷“{title}”只需几分钟。",
        "button": "开始答题",
        "expires": "链接有效期至 {expires}。",
        "unsubscribe": "不想再收到此类邮件？退订",
        "sms": "【{title}】邀请您评价本次服务 {link}",
        "wechat_first": "邀请您评价本次服务",
        "wechat_remark": "点击开始答题",
    },
}

_HTML = _env.from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #1f2933;">
<p>{{ greeting }}</p>
<p>{{ body }}</p>
<p><a href="{{ link }}" style="display:inline-block;padding:10px 18px;background:#2563eb;color:#fff;\
text-decoration:none;border-radius:4px;">{{ button }}</a></p>
<p style="font-size:13px;color:#52606d;">{{ link }}</p>
{% if expires %}<p style="font-size:13px;color:#52606d;">{{ expires }}</p>{% endif %}
{% if unsubscribe_url %}<p style="font-size:12px;color:#7b8794;">\
<a href="{{ unsubscribe_url }}">{{ unsubscribe }}</a></p>{% endif %}
</body></html>
"""
)

_TEXT = _text_env.from_string(
    """{{ greeting }}

{{ body }}

{{ button }}: {{ link }}
{% if expires %}
{{ expires }}
{% endif %}{% if unsubscribe_url %}
{{ unsubscribe }}: {{ unsubscribe_url }}
{% endif %}"""
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    sms: str
    wechat_first: str
    wechat_remark: str


def language_of(language: str | None) -> str:
    if language and language.lower().startswith("en"):
        return "en"
    return "zh-CN" if language is None or language.lower().startswith("zh") else "en"


def render_invitation(
    *,
    language: str | None,
    title: str,
    link: str,
    name: str | None,
    unsubscribe_url: str | None,
    expires: str | None,
    reminder: bool = False,
) -> Rendered:
    lang = language_of(language)
    strings = _STRINGS[lang]
    subject = strings["reminder_subject" if reminder else "subject"].format(title=title)
    values = {
        "lang": lang,
        "subject": subject,
        "greeting": strings["greeting"].format(name=name) if name else strings["greeting_anonymous"],
        "body": strings["body"].format(title=title),
        "button": strings["button"],
        "link": link,
        "expires": strings["expires"].format(expires=expires) if expires else "",
        "unsubscribe": strings["unsubscribe"],
        "unsubscribe_url": unsubscribe_url or "",
    }
    return Rendered(
        subject=subject,
        text=_TEXT.render(values),
        html=_HTML.render(values),
        sms=strings["sms"].format(title=title, link=link),
        wechat_first=strings["wechat_first"],
        wechat_remark=strings["wechat_remark"],
    )
