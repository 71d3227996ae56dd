"""WeChat official-account and WeCom messages against a local server speaking
their JSON API: access tokens fetched, cached, and refreshed once on
errcode 40001/42001."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.distribution.channels.wechat import forget_tokens
from tests.distribution.helpers import invite, make_survey, rows
from tests.distribution.provider_server import ProviderServer, Seen
from tests.distribution.support import FakeDirectory
from tests.factories import Org


@pytest.fixture(autouse=True)
def no_cached_tokens() -> Iterator[None]:
    forget_tokens()
    yield
    forget_tokens()


class FakeWeChat:
    """Issues tokens T1, T2, ...; ``expire`` makes the current one answer 42001 once."""

    def __init__(
        self, server: ProviderServer, token_path: str, send_path: str, *, wecom: bool = False
    ) -> None:
        self.issued = 0
        self.valid: set[str] = set()
        self.expire_next = False
        self.invalid_always = False
        self.sent: list[dict[str, Any]] = []
        self.wecom = wecom
        server.routes[token_path] = self.token
        server.routes[send_path] = self.send

    def token(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        query = {k: v[0] for k, v in seen.query.items()}
        ok = (
            query == {"corpid": "ww1", "corpsecret": "CS"}
            if self.wecom
            else query == {"grant_type": "client_credential", "appid": "wx1", "secret": "AS"}
        )
        if not ok:
            return 200, {"errcode": 40013, "errmsg": "invalid appid"}
        self.issued += 1
        token = f"T{self.issued}"
        self.valid = {token}
        return 200, {
            "access_token": token,
            "expires_in": 7200,
            **({"errcode": 0, "errmsg": "ok"} if self.wecom else {}),
        }

    def send(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        token = seen.query.get("access_token", [""])[0]
        if self.invalid_always:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        if self.expire_next:
            self.expire_next = False
            self.valid.discard(token)
        if token not in self.valid:
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        self.sent.append(seen.json())
        return 200, {"errcode": 0, "errmsg": "ok", "msgid": 200228332 + len(self.sent)}


def configure(client: TestClient, org: Org, channel: str, provider: str, config: dict[str, Any]) -> None:
    answer = client.put(
        f"/api/v1/channels/{channel}",
        json={"provider": provider, "config": config},
        headers=org.auth("admin"),
    )
    assert answer.status_code == 200, answer.text


def statuses(database_url: str) -> list[tuple[Any, ...]]:
    return rows(
        database_url, "SELECT status, channel, provider_message_id FROM invitations ORDER BY created_at"
    )


def test_template_message_with_token_cache_and_refresh(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    fake = FakeWeChat(provider, "/cgi-bin/token", "/cgi-bin/message/template/send")
    configure(
        client,
        org,
        "wechat",
        "wechat_mp",
        {"endpoint": provider.base, "app_id": "wx1", "app_secret": "AS", "template_id": "TPL"},
    )
    survey_id = make_survey(client, org)
    first = invite(client, org, people.add(wechat_openid="oABC", language="zh-CN"), survey_id)
    assert first["channel"] == "wechat"  # first in the default fallback order
    invite(client, org, people.add(wechat_openid="oDEF"), survey_id)
    assert fake.issued == 1  # the second message reused the cached token
    fake.expire_next = True
    invite(client, org, people.add(wechat_openid="oGHI"), survey_id)
    assert fake.issued == 2  # refreshed once, then sent
    assert [s[0] for s in statuses(database_url)] == ["sent", "sent", "sent"]
    message = fake.sent[0]
    assert message["touser"] == "oABC" and message["template_id"] == "TPL"
    assert message["url"] == "http://localhost:8000" + first["short_path"]
    assert message["data"]["keyword1"] == {"value": "门店调研"}


def test_token_refused_twice_fails_and_subscription_mode(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    fake = FakeWeChat(provider, "/cgi-bin/token", "/cgi-bin/message/subscribe/bizsend")
    configure(
        client,
        org,
        "wechat",
        "wechat_mp",
        {
            "endpoint": provider.base,
            "app_id": "wx1",
            "app_secret": "AS",
            "template_id": "SUB",
            "mode": "subscribe",
        },
    )
    survey_id = make_survey(client, org)
    invite(client, org, people.add(wechat_openid="o1"), survey_id)
    assert fake.sent[0]["data"] == {"thing1": {"value": "门店调研"}}
    fake.invalid_always = True
    invite(client, org, people.add(wechat_openid="o2"), survey_id)
    assert [s[0] for s in statuses(database_url)] == ["sent", "failed"]
    assert fake.issued == 2  # one refresh, no loop


def test_wrong_app_secret_fails(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    FakeWeChat(provider, "/cgi-bin/token", "/cgi-bin/message/template/send")
    configure(
        client,
        org,
        "wechat",
        "wechat_mp",
        {"endpoint": provider.base, "app_id": "wx1", "app_secret": "WRONG", "template_id": "TPL"},
    )
    invite(client, org, people.add(wechat_openid="o1"), make_survey(client, org))
    assert statuses(database_url)[0][0] == "failed"


def test_wecom_text_card(
    client: TestClient, org: Org, people: FakeDirectory, provider: ProviderServer, database_url: str
) -> None:
    fake = FakeWeChat(provider, "/cgi-bin/gettoken", "/cgi-bin/message/send", wecom=True)
    configure(
        client,
        org,
        "wecom",
        "wecom",
        {"endpoint": provider.base, "corp_id": "ww1", "corp_secret": "CS", "agent_id": "1000002"},
    )
    made = invite(client, org, people.add(wecom_userid="zhangsan"), make_survey(client, org), channel="wecom")
    assert statuses(database_url) == [("sent", "wecom", "200228333")]
    card = fake.sent[0]
    assert card["touser"] == "zhangsan" and card["agentid"] == 1000002 and card["msgtype"] == "textcard"
    assert card["textcard"]["url"] == "http://localhost:8000" + made["short_path"]
