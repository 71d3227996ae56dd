"""The default customer-experience taxonomy a new tenant starts from (zh-CN and en).

Kept as source (a JSON-shaped literal) so that it ships with the code and is
reviewed like code. Each leaf has seed words per language; a tenant edits
names, words and the tree itself through the API or the /text page.
"""

from __future__ import annotations

from typing import Any

# {"key", "name": {"zh-CN", "en"}, "keywords": {"zh": [...], "en": [...]}, "children": [...]}
DEFAULT_TAXONOMY: list[dict[str, Any]] = [
    {
        "key": "service",
        "name": {"zh-CN": "服务", "en": "Service"},
        "children": [
            {
                "key": "service.attitude",
                "name": {"zh-CN": "员工态度", "en": "Staff attitude"},
                "keywords": {
                    "zh": [
                        "态度",
                        "服务员",
                        "店员",
                        "客服",
                        "热情",
                        "冷漠",
                        "不耐烦",
                        "礼貌",
                        "粗鲁",
                        "骂人",
                        "爱理不理",
                        "前台",
                        "柜员",
                        "工作人员",
                        "专业",
                        "服务生",
                    ],
                    "en": [
                        "rude",
                        "attitude",
                        "friendly",
                        "staff",
                        "polite",
                        "unfriendly",
                        "helpful",
                        "courteous",
                        "agent*",
                        "receptionist",
                        "impolite",
                        "professional",
                    ],
                },
            },
            {
                "key": "service.response",
                "name": {"zh-CN": "响应速度", "en": "Response time"},
                "keywords": {
                    "zh": [
                        "没人接",
                        "没人理",
                        "回复慢",
                        "不回复",
                        "打不通",
                        "等了很久",
                        "半天没人",
                        "没人回",
                        "迟迟",
                    ],
                    "en": [
                        "on hold",
                        "no response",
                        "no reply",
                        "never called back",
                        "waiting for a response",
                        "call back",
                        "hung up",
                        "no one answered",
                    ],
                },
            },
            {
                "key": "service.resolution",
                "name": {"zh-CN": "问题解决", "en": "Problem resolution"},
                "keywords": {
                    "zh": [
                        "解决",
                        "处理",
                        "推诿",
                        "敷衍",
                        "退款",
                        "赔偿",
                        "售后",
                        "退货",
                        "换货",
                        "维修",
                        "流程",
                        "手续",
                    ],
                    "en": [
                        "resolve*",
                        "refund*",
                        "compensation",
                        "fixed",
                        "solution",
                        "escalate*",
                        "voucher",
                        "return*",
                        "exchange",
                        "repair*",
                    ],
                },
            },
        ],
    },
    {
        "key": "delivery",
        "name": {"zh-CN": "配送", "en": "Delivery"},
        "children": [
            {
                "key": "delivery.speed",
                "name": {"zh-CN": "配送速度", "en": "Speed"},
                "keywords": {
                    "zh": [
                        "送餐",
                        "配送",
                        "超时",
                        "太慢",
                        "很快",
                        "准时",
                        "小时",
                        "速度",
                        "物流",
                        "快递",
                        "迟到",
                        "外送",
                    ],
                    "en": [
                        "late",
                        "delay*",
                        "on time",
                        "slow",
                        "fast",
                        "quick*",
                        "hours",
                        "arriv*",
                        "shipping",
                    ],
                },
            },
            {
                "key": "delivery.accuracy",
                "name": {"zh-CN": "送错漏送", "en": "Wrong or missing items"},
                "keywords": {
                    "zh": ["送错", "漏送", "少送", "少了", "没有送", "发错"],
                    "en": ["wrong order", "missing", "wrong item", "forgot", "incomplete"],
                },
            },
            {
                "key": "delivery.packaging",
                "name": {"zh-CN": "包装", "en": "Packaging"},
                "keywords": {
                    "zh": ["包装", "洒了", "撒了", "漏了", "餐盒", "破损", "餐具"],
                    "en": ["packag*", "spill*", "leak*", "box", "damaged"],
                },
            },
        ],
    },
    {
        "key": "product",
        "name": {"zh-CN": "产品", "en": "Product"},
        "children": [
            {
                "key": "product.quality",
                "name": {"zh-CN": "质量", "en": "Quality"},
                "keywords": {
                    "zh": [
                        "质量",
                        "新鲜",
                        "变质",
                        "坏了",
                        "异物",
                        "头发",
                        "次品",
                        "假货",
                        "做工",
                        "尺码",
                        "色差",
                        "过期",
                        "故障",
                        "品质",
                    ],
                    "en": [
                        "quality",
                        "broken",
                        "defect*",
                        "fresh",
                        "stale",
                        "spoiled",
                        "fake",
                        "faulty",
                        "expired",
                        "stopped working",
                        "doesn't fit",
                    ],
                },
            },
            {
                "key": "product.taste",
                "name": {"zh-CN": "口味", "en": "Taste"},
                "keywords": {
                    "zh": ["味道", "好吃", "难吃", "口味", "太咸", "太淡", "油腻", "口感", "好喝"],
                    "en": ["taste*", "delicious", "tasty", "bland", "salty", "flavo*"],
                },
            },
            {
                "key": "product.portion",
                "name": {"zh-CN": "分量", "en": "Portion"},
                "keywords": {
                    "zh": ["分量", "量少", "量大", "份量", "太少"],
                    "en": ["portion*", "serving size", "tiny"],
                },
            },
        ],
    },
    {
        "key": "price",
        "name": {"zh-CN": "价格", "en": "Price"},
        "children": [
            {
                "key": "price.value",
                "name": {"zh-CN": "性价比", "en": "Value for money"},
                "keywords": {
                    "zh": ["价格", "太贵", "便宜", "性价比", "划算", "实惠", "不值", "cp值"],
                    "en": ["price*", "expensive", "cheap", "overpriced", "value", "worth"],
                },
            },
            {
                "key": "price.billing",
                "name": {"zh-CN": "收费与优惠", "en": "Billing and promotions"},
                "keywords": {
                    "zh": [
                        "收费",
                        "扣费",
                        "发票",
                        "优惠券",
                        "满减",
                        "红包",
                        "多收",
                        "乱收费",
                        "话费",
                        "扣款",
                        "乱扣",
                        "账单",
                        "积分",
                        "会员",
                        "折扣",
                    ],
                    "en": [
                        "charged",
                        "fee*",
                        "billing",
                        "invoice",
                        "coupon*",
                        "discount*",
                        "overcharg*",
                        "bill",
                        "points",
                        "membership",
                    ],
                },
            },
        ],
    },
    {
        "key": "store",
        "name": {"zh-CN": "门店", "en": "Store"},
        "children": [
            {
                "key": "store.cleanliness",
                "name": {"zh-CN": "卫生", "en": "Cleanliness"},
                "keywords": {
                    "zh": [
                        "卫生",
                        "干净",
                        "脏",
                        "油腻的桌子",
                        "苍蝇",
                        "蟑螂",
                        "虫子",
                        "霉味",
                        "异味",
                        "发霉",
                    ],
                    "en": ["clean*", "dirty", "filthy", "hygien*", "cockroach*", "smell*", "mold*", "stain*"],
                },
            },
            {
                "key": "store.queue",
                "name": {"zh-CN": "排队等候", "en": "Queues"},
                "keywords": {
                    "zh": ["排队", "等位", "人太多"],
                    "en": ["queue*", "line was", "long line*", "lines"],
                },
            },
            {
                "key": "store.environment",
                "name": {"zh-CN": "环境", "en": "Environment"},
                "keywords": {
                    "zh": ["环境", "装修", "吵", "安静", "座位", "停车", "空调", "设施", "wifi"],
                    "en": [
                        "atmosphere",
                        "noisy",
                        "seating",
                        "parking",
                        "decor",
                        "wifi",
                        "wi-fi",
                        "air conditioning",
                    ],
                },
            },
        ],
    },
    {
        "key": "app",
        "name": {"zh-CN": "App", "en": "App"},
        "children": [
            {
                "key": "app.login",
                "name": {"zh-CN": "登录", "en": "Login"},
                "keywords": {
                    "zh": ["登录", "登陆", "验证码", "密码", "账号", "登入", "帐号"],
                    "en": ["login", "log in", "password", "sign in", "verification code", "account locked"],
                },
            },
            {
                "key": "app.stability",
                "name": {"zh-CN": "稳定性", "en": "Stability"},
                "keywords": {
                    "zh": [
                        "闪退",
                        "卡顿",
                        "死机",
                        "打不开",
                        "bug",
                        "崩溃",
                        "断网",
                        "掉线",
                        "报错",
                        "当机",
                        "网路",
                    ],
                    "en": ["crash*", "freez*", "bug*", "glitch*", "won't load", "error message"],
                },
            },
            {
                "key": "app.ordering",
                "name": {"zh-CN": "下单支付", "en": "Ordering and payment"},
                "keywords": {
                    "zh": ["下单", "支付", "付款", "结账", "订单", "结帐"],
                    "en": ["checkout", "payment", "pay", "order online", "booking", "website"],
                },
            },
        ],
    },
]
