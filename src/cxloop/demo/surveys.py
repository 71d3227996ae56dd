"""Demo step ``surveys``: the five template surveys, published, and 18 months
of responses across the 40 stores.

The responses look like a real chain's: each store has a service level of
its own (so rankings and regional comparisons mean something), scores dip
in the Spring Festival rush and the summer heat and improve slowly over
time, a third of the answers carry a comment (mostly Chinese, some English,
written for this demo and tied to the score), and the channels differ by
survey. Everything is drawn from the step's own seeded generator, so two
demo databases are identical.

The rows are history, not live traffic: they are written in bulk with
``source = "demo"`` and are not handed to the post-commit pipeline, just as
no alert should fire for an 18-month-old answer. Capabilities that derive
data from responses (rollups, text analytics) rebuild it from the rows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from sqlalchemy import insert

from cxloop.collection.models import Response
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.identity import Grant, Principal, Role, Unit
from cxloop.kit.ids import new_id
from cxloop.surveys.definition import parse_definition
from cxloop.surveys.service import create_survey, publish_survey, template_definition

MONTHS = 18
SOURCE_DEMO = "demo"
BRAND = {"zh-CN": "鲜邻超市", "en": "FreshNeighbour"}
CHUNK = 5000

# Share of the responses each survey gets, and the channels it is sent on (with weights).
SURVEY_MIX: dict[str, tuple[float, dict[str, int]]] = {
    "relationship_nps": (0.55, {"email": 3, "sms": 3, "wechat": 4}),
    "store_visit": (0.25, {"qr": 8, "wechat": 2}),
    "post_purchase_csat": (0.12, {"sms": 4, "wechat": 4, "app": 2}),
    "support_ces": (0.06, {"email": 5, "sms": 3, "web": 2}),
    "servqual_expectations": (0.02, {"email": 1}),
}
TOUCHPOINTS = {
    "relationship_nps": "relationship",
    "store_visit": "store_visit",
    "post_purchase_csat": "delivery",
    "support_ces": "support",
    "servqual_expectations": "relationship",
}
ENGLISH_SHARE = 0.1
COMMENT_SHARE = 0.35

# Comments by sentiment, each (zh-CN, en). Written for the demo, not taken from any data set.
NEGATIVE = [
    (
        "排队结账等了二十分钟，只开了一个收银台。",
        "Waited twenty minutes at the checkout, only one till was open.",
    ),
    ("店员态度很差，问个问题都不耐烦。", "The staff were rude and impatient when I asked a question."),
    ("买的草莓第二天就坏了，太不新鲜了。", "The strawberries I bought went bad the next day."),
    ("价格比隔壁超市贵不少，促销也少。", "Prices are much higher than the shop next door, few promotions."),
    ("配送晚了两个小时，也没人通知我。", "Delivery was two hours late and nobody told me."),
    ("App 登录老是失败，验证码收不到。", "The app keeps failing to log in, the code never arrives."),
    ("地面湿滑，卫生间也很脏。", "The floor was slippery and the toilets were dirty."),
    (
        "退款申请一周了还没处理，再不处理我就投诉到12315。",
        "My refund has been pending a week; I will complain to 12315.",
    ),
    ("牛奶过期了还在货架上卖，太不负责了。", "Expired milk was still on the shelf. Irresponsible."),
    ("客服电话一直打不通。", "I could never get through to customer service."),
    ("缺货严重，想买的东西都没有。", "So much was out of stock, nothing I wanted was there."),
    ("会员积分莫名其妙清零了。", "My loyalty points were wiped for no reason."),
]
NEUTRAL = [
    ("整体还行，就是人有点多。", "It is fine overall, just a bit crowded."),
    ("东西挺全的，价格一般。", "Good range of products, average prices."),
    ("配送准时，但包装有点简单。", "Delivery was on time, packaging a bit basic."),
    ("离家近，方便，没什么特别的。", "Close to home and convenient, nothing special."),
    ("水果还可以，蔬菜一般。", "The fruit is okay, vegetables average."),
    ("自助收银机有时候不好用。", "The self-checkout machines sometimes do not work well."),
]
POSITIVE = [
    ("店员很热情，帮我找到了想要的东西。", "The staff were friendly and helped me find what I needed."),
    ("蔬菜水果很新鲜，每天都来买。", "Fresh fruit and vegetables, I shop here every day."),
    ("配送特别快，半小时就到了。", "Delivery was really fast, it arrived in half an hour."),
    ("店里干净整洁，购物很舒服。", "Clean and tidy store, a pleasant place to shop."),
    ("会员价很划算，经常有活动。", "Member prices are great value with regular offers."),
    ("退换货很方便，客服处理得很及时。", "Returns were easy and customer service was quick."),
    ("结账很快，没怎么排队。", "Checkout was quick, hardly any queue."),
    ("App 下单很方便，推荐给了邻居。", "Ordering in the app is easy, I recommended it to my neighbours."),
]
IMPROVE = [
    ("多开几个收银台。", "Open more checkouts."),
    ("希望增加进口商品。", "Please stock more imported products."),
    ("晚上营业时间延长一点。", "Stay open a little later in the evening."),
    ("停车位太少了。", "There are too few parking spaces."),
    ("希望 App 能支持更多支付方式。", "Support more payment methods in the app."),
]


@dataclass(frozen=True)
class DemoSurvey:
    template: str
    survey_id: str
    version: int


def demo_principal(ctx: SeedContext) -> Principal:
    """The seed acts as a tenant administrator, through the same services as everyone."""
    return Principal(
        tenant_id=ctx.tenant.id,
        kind="service",
        user_id=None,
        token_id=None,
        label="demo",
        name="demo",
        locale=None,
        grants=(Grant(Role.ADMIN, None, None, None),),
    )


def _season(day: datetime) -> float:
    """Score shift by time of year: the Spring Festival rush and the summer heat cost a little."""
    shift = 0.0
    if day.month == 2 or (day.month == 1 and day.day > 20):
        shift -= 0.6
    if day.month in (7, 8):
        shift -= 0.3
    return shift


def _daily_weights(start: datetime, days: int) -> list[float]:
    """More answers at weekends and around the holidays, a slow rise as the programme grows."""
    weights = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        weight = 1.0 + 0.4 * (day.weekday() >= 5) + 0.5 * offset / days
        if day.month in (1, 2, 10, 12):
            weight *= 1.2
        weights.append(weight)
    return weights


def _clamp(value: float, low: int, high: int) -> int:
    return max(low, min(high, round(value)))


def _comment(rng: random.Random, score_0_to_10: int, english: bool) -> str:
    if score_0_to_10 <= 6:
        pool = NEGATIVE if rng.random() < 0.85 else NEUTRAL
    elif score_0_to_10 <= 8:
        pool = NEUTRAL if rng.random() < 0.6 else rng.choice((NEGATIVE, POSITIVE))
    else:
        pool = POSITIVE if rng.random() < 0.9 else NEUTRAL
    zh, en = rng.choice(pool)
    return en if english else zh


class _Answers:
    """Answers for one respondent whose experience is ``quality`` (about 0-10)."""

    def __init__(self, rng: random.Random, quality: float, english: bool, day: datetime) -> None:
        self.rng, self.quality, self.english, self.day = rng, quality, english, day

    def score(self, low: int, high: int, spread: float = 1.2) -> int:
        scaled = low + (high - low) * self.quality / 10
        return _clamp(self.rng.gauss(scaled, spread * (high - low) / 10), low, high)

    def nps(self) -> int:
        return _clamp(self.rng.gauss(self.quality, 1.3), 0, 10)

    def comment(self, score_0_to_10: int) -> str | None:
        if self.rng.random() >= COMMENT_SHARE:
            return None
        return _comment(self.rng, score_0_to_10, self.english)

    def build(self, template: str) -> dict[str, Any]:
        answers: dict[str, Any] = {}
        if template == "relationship_nps":
            nps = self.nps()
            answers["nps"] = nps
            reason = self.comment(nps)
            if reason:
                answers["reason"] = reason
            if nps <= 8 and self.rng.random() < 0.15:
                zh, en = self.rng.choice(IMPROVE)
                answers["improve"] = en if self.english else zh
            answers["contact_ok"] = self.rng.random() < 0.6
        elif template == "store_visit":
            answers["visit_date"] = self.day.date().isoformat()
            answers["overall"] = self.score(1, 5)
            liked = [c for c in ("staff", "clean", "stock", "queue") if self.rng.random() < self.quality / 14]
            if liked:
                answers["liked"] = liked[:3]  # the question allows three picks
            answers["area"] = self.rng.choice(("food", "food", "home", "fashion"))
            nps = self.nps()
            answers["nps"] = nps
            if nps < 9:
                fix = self.comment(nps)
                if fix:
                    answers["fix"] = fix
        elif template == "post_purchase_csat":
            csat = self.score(1, 5)
            answers["csat"] = csat
            answers["aspects"] = {aspect: self.score(1, 5) for aspect in ("product", "delivery", "price")}
            answers["channel"] = self.rng.choice(("store", "app", "app", "mini"))
            comment = self.comment(csat * 2)
            if comment:
                answers["comment"] = comment
        elif template == "support_ces":
            ease = self.score(1, 7)
            answers["ces"] = ease
            answers["resolved"] = "yes" if ease >= 5 else self.rng.choice(("partly", "no", "yes"))
            answers["contacts"] = 1 if ease >= 5 else self.rng.randint(2, 5)
            comment = self.comment(round(ease * 10 / 7))
            if comment:
                answers["what_left"] = comment
        else:  # servqual_expectations
            for dimension in ("tangibles", "reliability", "responsiveness", "assurance", "empathy"):
                expectation = _clamp(self.rng.gauss(6.0, 0.8), 1, 7)
                answers[f"sq_{dimension}_1"] = {"expectation": expectation, "perception": self.score(1, 7)}
            order = ["tangibles", "reliability", "responsiveness", "assurance", "empathy"]
            self.rng.shuffle(order)
            answers["priority"] = order
        return answers


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


async def _publish_templates(ctx: SeedContext) -> list[DemoSurvey]:
    principal = demo_principal(ctx)
    made = []
    for template in SURVEY_MIX:
        definition = parse_definition(template_definition(template, "zh-CN"))
        view = await create_survey(ctx.session, principal, definition)
        published = await publish_survey(ctx.session, principal, view.survey.id)
        made.append(DemoSurvey(template, published.survey.id, published.current.version))
    return made


def _store_quality(rng: random.Random, stores: list[Unit]) -> dict[str, float]:
    """A service level per store: most are decent, a few are excellent, a few struggle."""
    return {store.id: rng.gauss(7.7, 0.9) for store in stores}


async def seed_surveys(ctx: SeedContext) -> None:
    """The five template surveys, published, with 18 months of responses from every store."""
    rng = ctx.rng
    stores = ctx.units_of_kind("store")
    surveys = await _publish_templates(ctx)
    quality_of = _store_quality(rng, stores)
    store_names = {s.id: s.names for s in stores}
    end = ctx.now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=round(MONTHS * 30.44))).replace(hour=0)
    days = (end - start).days
    day_weights = _daily_weights(start, days)
    survey_weights = [SURVEY_MIX[s.template][0] for s in surveys]
    rows: list[dict[str, Any]] = []
    statement = insert(Response)
    day_cumulative = list(accumulate(day_weights))
    survey_cumulative = list(accumulate(survey_weights))
    day_offsets = range(days)
    for _ in range(ctx.response_count):
        survey = rng.choices(surveys, cum_weights=survey_cumulative)[0]
        store = rng.choice(stores)
        day = start + timedelta(days=rng.choices(day_offsets, cum_weights=day_cumulative)[0])
        # Shoppers answer between 08:00 and 22:00 Beijing time (00:00-14:00 UTC).
        submitted = day + timedelta(hours=rng.randint(0, 13), minutes=rng.randint(0, 59))
        progress = (submitted - start).total_seconds() / (end - start).total_seconds()
        quality = quality_of[store.id] + _season(submitted) + 0.4 * progress + 0.2 * math.sin(progress * 9)
        english = rng.random() < ENGLISH_SHARE
        answers = _Answers(rng, quality, english, submitted).build(survey.template)
        language = "en" if english else "zh-CN"
        embedded: dict[str, Any] = {}
        if survey.template == "relationship_nps":
            embedded["brand"] = BRAND[language]
        elif survey.template == "store_visit":
            names = store_names[store.id]
            embedded["store_name"] = names.get(language) or next(iter(names.values()))
        rows.append(
            {
                "id": new_id(),
                "tenant_id": ctx.tenant.id,
                "survey_id": survey.survey_id,
                "survey_version": survey.version,
                "unit_id": store.id,
                "channel": _weighted(rng, SURVEY_MIX[survey.template][1]),
                "touchpoint": TOUCHPOINTS[survey.template],
                "language": language,
                "submitted_at": submitted,
                "received_at": submitted + timedelta(seconds=rng.randint(1, 90)),
                "answers": answers,
                "embedded": embedded,
                "contact_ref": {},
                "source": SOURCE_DEMO,
                "status": "complete",
                "revision": 0,
            }
        )
        if len(rows) >= CHUNK:
            await ctx.session.execute(statement, rows)
            rows = []
    if rows:
        await ctx.session.execute(statement, rows)


seed_step("surveys", order=20)(seed_surveys)
