"""WeChat official-account template / subscription messages and WeCom
(企业微信) application messages, over their JSON APIs.

Both need an access token (``/cgi-bin/token`` and ``/cgi-bin/gettoken``),
valid for ``expires_in`` seconds (7200). Tokens are cached per process and
app until five minutes before they expire; an answer of errcode 40001
(invalid credential), 40014 (invalid token) or 42001 (token expired) drops
the cached token, fetches a new one and retries the message once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any

import httpx

from cxloop.distribution.channels.base import Outgoing, Permanent, Sent, Transient

WECHAT_API = "https://api.weixin.qq.com"
WECOM_API = "https://qyapi.weixin.qq.com"
EXPIRED = frozenset({40001, 40014, 42001})
# System busy, frequency limits: worth trying again later.
TRANSIENT = frozenset({-1, 45009, 45011, 45047})
MARGIN = 300.0


@dataclass
class _Token:
    value: str
    expires: float


_tokens: dict[str, _Token] = {}
_locks: dict[str, asyncio.Lock] = {}


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def forget_tokens() -> None:
    _tokens.clear()


async def _call(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = await client.request(method, url, **kwargs)
    except (httpx.TimeoutException, httpx.TransportError) as error:
        raise Transient(f"WeChat API unreachable: {type(error).__name__}") from None
    if response.status_code >= 500 or response.status_code == 429:
        raise Transient(f"WeChat API answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise Transient(f"WeChat API answered {response.status_code} without JSON") from None
    if not isinstance(body, dict):
        raise Transient("WeChat API answered something that is not an object")
    return body


def _fail(body: dict[str, Any]) -> Exception:
    code = int(body.get("errcode", 0) or 0)
    text = f"WeChat errcode {code}: {body.get('errmsg', '')}"[:300]
    return Transient(text) if code in TRANSIENT else Permanent(text)


class _WeChatBase:
    provider = ""
    base = WECHAT_API

    def __init__(self, config: dict[str, Any], timeout: float) -> None:
        self.config = config
        self.timeout = float(config.get("timeout") or timeout)
        self.endpoint = str(config.get("endpoint") or self.base).rstrip("/")

    def token_request(self) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    def cache_key(self) -> str:
        path, params = self.token_request()
        return _key(self.endpoint, path, *sorted(f"{k}={v}" for k, v in params.items()))

    async def token(self, client: httpx.AsyncClient, *, fresh: bool = False) -> str:
        key = self.cache_key()
        cached = _tokens.get(key)
        if cached is not None and not fresh and cached.expires > time.monotonic():
            return cached.value
        lock = _locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = _tokens.get(key)
            if cached is not None and cached.expires > time.monotonic() and not fresh:
                return cached.value
            path, params = self.token_request()
            body = await _call(client, "GET", self.endpoint + path, params=params)
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise _fail(body)
            lifetime = float(body.get("expires_in") or 7200)
            _tokens[key] = _Token(token, time.monotonic() + max(lifetime - MARGIN, 60.0))
            return token

    def message(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    async def send(self, message: Outgoing) -> Sent:
        path, body = self.message(message)
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
            token = await self.token(client)
            for turn in range(2):
                answer = await _call(
                    client, "POST", self.endpoint + path, params={"access_token": token}, json=body
                )
                code = int(answer.get("errcode", 0) or 0)
                if code == 0:
                    return Sent(provider_message_id=str(answer.get("msgid") or ""))
                if code in EXPIRED and turn == 0:
                    token = await self.token(client, fresh=True)
                    continue
                raise _fail(answer)
        raise Transient("unreachable")  # pragma: no cover - the loop returns or raises


class WeChatOfficialAccount(_WeChatBase):
    """Template messages (``mode`` "template", the default) or subscription messages ("subscribe")."""

    provider = "wechat_mp"

    def token_request(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/token", {
            "grant_type": "client_credential",
            "appid": str(self.config["app_id"]),
            "secret": str(self.config["app_secret"]),
        }

    def message(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        title = str(message.params.get("title") or message.subject)
        if self.config.get("mode") == "subscribe":
            field = str(self.config.get("title_field") or "thing1")
            return "/cgi-bin/message/subscribe/bizsend", {
                "touser": message.to,
                "template_id": str(self.config["template_id"]),
                "page": message.link,
                "data": {field: {"value": title[:20]}},
            }
        return "/cgi-bin/message/template/send", {
            "touser": message.to,
            "template_id": str(self.config["template_id"]),
            "url": message.link,
            "data": {
                "first": {"value": str(message.params.get("first") or "")},
                "keyword1": {"value": title},
                "remark": {"value": str(message.params.get("remark") or "")},
            },
        }


class WeComApplication(_WeChatBase):
    """A text card from a WeCom application to one member (``touser`` = userid)."""

    provider = "wecom"
    base = WECOM_API

    def token_request(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/gettoken", {
            "corpid": str(self.config["corp_id"]),
            "corpsecret": str(self.config["corp_secret"]),
        }

    def message(self, message: Outgoing) -> tuple[str, dict[str, Any]]:
        try:
            agent_id = int(self.config["agent_id"])
        except (TypeError, ValueError):
            raise Permanent("the WeCom agent_id is not a number") from None
        return "/cgi-bin/message/send", {
            "touser": message.to,
            "msgtype": "textcard",
            "agentid": agent_id,
            "textcard": {
                "title": str(message.params.get("title") or message.subject)[:128],
                "description": str(message.params.get("first") or "")[:512],
                "url": message.link,
                "btntxt": str(message.params.get("remark") or "")[:4] or "详情",
            },
        }


def make_adapter(provider: str, config: dict[str, Any], timeout: float) -> _WeChatBase:
    if provider == "wecom":
        return WeComApplication(config, timeout)
    return WeChatOfficialAccount(config, timeout)
