"""Demo step ``identity``: 鲜邻超市 / FreshNeighbour Markets, a Chinese
grocery chain: head office, 4 regions, 12 cities, 40 stores, and people in
every role. Every other demo step builds on this organisation.
"""

from __future__ import annotations

from dataclasses import dataclass

from cxloop.demo.registry import SeedContext, seed_step
from cxloop.identity.units import create_unit
from cxloop.identity.users import create_user
from cxloop.kit.security import hash_password_async

# Demo only: a known password, printed by `cxloop demo`, shared by every demo
# account so that it is hashed once (argon2 takes ~180 ms by design).
DEMO_PASSWORD = "cxloop-demo"  # noqa: S105 - published on purpose
EMAIL_DOMAIN = "freshneighbour.example"

HQ = ("HQ", "鲜邻总部", "FreshNeighbour Head Office")

# code, zh-CN, en
REGIONS = [
    ("EAST", "华东区", "East China"),
    ("SOUTH", "华南区", "South China"),
    ("NORTH", "华北区", "North China"),
    ("SW", "西南区", "Southwest China"),
]

# code, region, zh-CN, en, stores as (zh-CN without 店, en)
CITIES: list[tuple[str, str, str, str, list[tuple[str, str]]]] = [
    (
        "SH",
        "EAST",
        "上海",
        "Shanghai",
        [
            ("南京西路", "West Nanjing Road"),
            ("徐家汇", "Xujiahui"),
            ("陆家嘴", "Lujiazui"),
            ("五角场", "Wujiaochang"),
            ("虹桥", "Hongqiao"),
        ],
    ),
    (
        "HZ",
        "EAST",
        "杭州",
        "Hangzhou",
        [
            ("武林广场", "Wulin Square"),
            ("滨江", "Binjiang"),
            ("西溪", "Xixi"),
            ("钱江新城", "Qianjiang New Town"),
        ],
    ),
    ("NJ", "EAST", "南京", "Nanjing", [("新街口", "Xinjiekou"), ("河西", "Hexi"), ("仙林", "Xianlin")]),
    (
        "GZ",
        "SOUTH",
        "广州",
        "Guangzhou",
        [
            ("天河城", "Tianhe City"),
            ("北京路", "Beijing Road"),
            ("珠江新城", "Zhujiang New Town"),
            ("番禺", "Panyu"),
        ],
    ),
    (
        "SZ",
        "SOUTH",
        "深圳",
        "Shenzhen",
        [
            ("福田", "Futian"),
            ("南山科技园", "Nanshan Science Park"),
            ("宝安中心", "Bao'an Centre"),
            ("龙华", "Longhua"),
        ],
    ),
    ("XM", "SOUTH", "厦门", "Xiamen", [("中山路", "Zhongshan Road"), ("思明", "Siming")]),
    (
        "BJ",
        "NORTH",
        "北京",
        "Beijing",
        [
            ("国贸", "Guomao"),
            ("中关村", "Zhongguancun"),
            ("望京", "Wangjing"),
            ("西单", "Xidan"),
            ("五道口", "Wudaokou"),
        ],
    ),
    (
        "TJ",
        "NORTH",
        "天津",
        "Tianjin",
        [("滨江道", "Binjiang Avenue"), ("南开", "Nankai"), ("小白楼", "Xiaobailou")],
    ),
    ("SJZ", "NORTH", "石家庄", "Shijiazhuang", [("中华大街", "Zhonghua Street"), ("长安", "Chang'an")]),
    (
        "CD",
        "SW",
        "成都",
        "Chengdu",
        [
            ("春熙路", "Chunxi Road"),
            ("太古里", "Taikoo Li"),
            ("高新", "Hi-Tech Zone"),
            ("天府广场", "Tianfu Square"),
        ],
    ),
    (
        "CQ",
        "SW",
        "重庆",
        "Chongqing",
        [("解放碑", "Jiefangbei"), ("观音桥", "Guanyinqiao"), ("南坪", "Nanping")],
    ),
    ("KM", "SW", "昆明", "Kunming", [("翠湖", "Green Lake")]),
]


@dataclass(frozen=True)
class DemoPerson:
    email: str
    name: str
    role: str
    unit_code: str | None
    locale: str
    # Shown by `cxloop demo`: one login per role and kind of scope.
    title: str | None = None


def _person(
    local: str, name: str, role: str, unit: str | None, *, title: str | None = None, locale: str = "zh-CN"
) -> DemoPerson:
    return DemoPerson(f"{local}@{EMAIL_DOMAIN}", name, role, unit, locale, title)


PEOPLE = [
    _person("admin", "王磊", "admin", None, title="administrator"),
    _person("cx", "李娜", "cx_manager", None, title="CX manager"),
    _person("ceo", "陈建国", "analyst", "HQ", title="executive (read-only, whole chain)"),
    _person("east.manager", "张伟", "unit_manager", "EAST", title="regional manager, East China"),
    _person("south.manager", "刘洋", "unit_manager", "SOUTH"),
    _person("north.manager", "赵敏", "unit_manager", "NORTH"),
    _person("southwest.manager", "杨帆", "unit_manager", "SW"),
    _person(
        "store.sh001", "周婷", "unit_manager", "SH001", title="store manager, Shanghai West Nanjing Road"
    ),
    _person("store.gz001", "黄志强", "unit_manager", "GZ001"),
    _person("store.bj001", "孙丽", "unit_manager", "BJ001"),
    _person("store.cd001", "吴昊", "unit_manager", "CD001"),
    _person("agent", "郑晓", "agent", "SH001", title="service agent, Shanghai West Nanjing Road"),
    _person("agent.gz001", "何雪", "agent", "GZ001"),
    _person(
        "analyst", "Emily Zhang", "analyst", "EAST", title="analyst, East China (English UI)", locale="en"
    ),
]


def store_units() -> list[tuple[str, str, str, str]]:
    """(code, city code, zh-CN name, en name) of the 40 stores."""
    stores: list[tuple[str, str, str, str]] = []
    for city, _region, city_zh, city_en, names in CITIES:
        for number, (zh, en) in enumerate(names, start=1):
            stores.append((f"{city}{number:03d}", city, f"{city_zh}{zh}店", f"{city_en} {en}"))
    return stores


def demo_logins() -> list[DemoPerson]:
    return [p for p in PEOPLE if p.title is not None]


@seed_step("identity", order=10)
async def seed_organisation(ctx: SeedContext) -> None:
    """The unit tree and the people, each only if not there yet."""
    plan: list[tuple[str, str, str, str | None, str]] = [(HQ[0], HQ[1], HQ[2], None, "hq")]
    plan += [(code, zh, en, HQ[0], "region") for code, zh, en in REGIONS]
    plan += [(code, zh, en, region, "city") for code, region, zh, en, _stores in CITIES]
    plan += [(code, zh, en, city, "store") for code, city, zh, en in store_units()]
    for code, zh, en, parent, kind in plan:
        if code in ctx.units:
            continue
        ctx.units[code] = await create_unit(
            ctx.session,
            ctx.tenant,
            code=code,
            names={"zh-CN": zh, "en": en},
            parent_code=parent,
            kind=kind,
            actor=ctx.actor,
        )
    missing = [p for p in PEOPLE if p.email not in ctx.users]
    if not missing:
        return
    password_hash = await hash_password_async(DEMO_PASSWORD)
    for person in missing:
        view = await create_user(
            ctx.session,
            ctx.tenant,
            email=person.email,
            name=person.name,
            password=None,
            role=person.role,
            unit_code=person.unit_code,
            locale=person.locale,
            actor=ctx.actor,
        )
        view.user.password_hash = password_hash
        ctx.users[person.email] = view.user
    await ctx.session.flush()
