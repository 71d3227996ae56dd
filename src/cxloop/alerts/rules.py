"""Alert rule definitions: data, validated by Pydantic, never code.

A response rule is ``filters`` (which responses it looks at: survey, touchpoint,
channel, unit subtree) plus a ``condition``: a tree of ``all`` / ``any`` / ``not``
over comparisons (``{"source", "field", "op", "value"}``) and word lists
(``{"words": {...}}``). A metric rule names a metric, a window, a minimum n and a
threshold or a drop against the previous window. Both carry ``actions``: open a
case, notify people or channels. See docs/adr/0025-alert-rule-language.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

from cxloop.kit.errors import FieldError, ValidationFailed

Source = Literal["answers", "embedded", "contact", "response", "text"]
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "answered", "not_answered"]
Priority = Literal["low", "normal", "high", "urgent"]
Scalar = str | int | float | bool

VALUELESS_OPS = frozenset({"answered", "not_answered"})
LIST_OPS = frozenset({"in", "not_in"})
RESPONSE_FIELDS = frozenset({"survey_id", "channel", "touchpoint", "language", "source"})
TEXT_FIELDS = frozenset({"sentiment", "topics", "urgency"})

# Default word lists: what complaint and escalation look like in zh and en. A rule picks
# lists by name and may add its own terms.
DEFAULT_WORD_LISTS: dict[str, tuple[str, ...]] = {
    "complaint_zh": ("投诉", "12315", "退款", "曝光", "差评", "举报", "欺骗", "维权", "律师", "起诉", "骗子"),
    "complaint_en": ("complain", "complaint", "refund", "cancel", "lawyer", "sue", "scam", "fraud", "bbb"),
    "churn_zh": ("退订", "注销", "销户", "不再", "换一家"),
    "churn_en": ("cancel", "unsubscribe", "close my account", "switch to", "never again"),
}
DEFAULT_LISTS = ("complaint_zh", "complaint_en")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Comparison(_Strict):
    source: Source
    field: str = Field(min_length=1, max_length=64)
    op: Op
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Comparison:
        if self.op in VALUELESS_OPS:
            if self.value is not None:
                raise ValueError(f"op {self.op!r} takes no value")
        elif self.op in LIST_OPS:
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"op {self.op!r} needs a non-empty list as value")
        elif self.value is None or isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a single value")
        if self.source == "response" and self.field not in RESPONSE_FIELDS:
            raise ValueError(f"response fields are {', '.join(sorted(RESPONSE_FIELDS))}")
        if self.source == "text" and self.field not in TEXT_FIELDS:
            raise ValueError(f"text fields are {', '.join(sorted(TEXT_FIELDS))}")
        return self


class WordSpec(_Strict):
    # Which answers to search (question ids); none means every text answer.
    questions: list[str] = Field(default_factory=list, max_length=50)
    lists: list[str] = Field(default_factory=lambda: list(DEFAULT_LISTS), max_length=20)
    terms: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=500
    )

    @model_validator(mode="after")
    def _known_lists(self) -> WordSpec:
        unknown = [name for name in self.lists if name not in DEFAULT_WORD_LISTS]
        if unknown:
            raise ValueError(
                f"unknown word list {unknown[0]!r}; known: {', '.join(sorted(DEFAULT_WORD_LISTS))}"
            )
        if not self.lists and not self.terms:
            raise ValueError("needs at least one word list or term")
        return self


class Words(_Strict):
    words: WordSpec


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1, max_length=50)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1, max_length=50)


class NotOf(_Strict):
    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, populate_by_name=True, serialize_by_alias=True
    )

    not_: Condition = Field(alias="not")


# Prefix of the union tags; error paths drop them (they are not part of the document).
TAG = "cond:"


def _kind(value: Any) -> str:
    if isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {AllOf: "all", AnyOf: "any", NotOf: "not", Words: "words"}
        return TAG + kinds.get(type(value), "comparison")
    if isinstance(value, Mapping):
        for key in ("all", "any", "not", "words"):
            if key in value:
                return TAG + key
    return TAG + "comparison"


Condition = Annotated[
    Annotated[Comparison, Tag(TAG + "comparison")]
    | Annotated[AllOf, Tag(TAG + "all")]
    | Annotated[AnyOf, Tag(TAG + "any")]
    | Annotated[NotOf, Tag(TAG + "not")]
    | Annotated[Words, Tag(TAG + "words")],
    Discriminator(_kind),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


class Filters(_Strict):
    surveys: list[str] = Field(default_factory=list, max_length=100)
    touchpoints: list[str] = Field(default_factory=list, max_length=100)
    channels: list[str] = Field(default_factory=list, max_length=50)
    # Unit codes; a response matches if its unit is in one of these subtrees.
    units: list[str] = Field(default_factory=list, max_length=100)


class Recipient(_Strict):
    """``unit_manager``: the nearest holders of ``role`` from the unit up the tree, by email;
    ``user``: a named user, by email; ``channel``: a named notification channel (a group:
    a WeCom/DingTalk/Feishu/Slack robot, an SMS gateway with its numbers, a mailing list)."""

    to: Literal["unit_manager", "user", "channel"]
    role: Literal["unit_manager", "agent", "analyst", "cx_manager", "admin"] = "unit_manager"
    email: str | None = Field(default=None, max_length=320)
    channel: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _complete(self) -> Recipient:
        if self.to == "user" and not self.email:
            raise ValueError("a user recipient needs an email")
        if self.to == "channel" and not self.channel:
            raise ValueError("a channel recipient needs a channel name")
        return self


class OpenCase(_Strict):
    priority: Priority | None = None
    # At most one open case per contact within this many days; later alerts attach to it.
    dedupe_days: int | None = Field(default=None, ge=1, le=365)


class Actions(_Strict):
    open_case: OpenCase | None = None
    notify: list[Recipient] = Field(default_factory=list, max_length=50)


class ResponseRule(_Strict):
    kind: Literal["response"]
    filters: Filters = Field(default_factory=Filters)
    condition: Condition
    priority: Priority = "normal"
    actions: Actions = Field(default_factory=Actions)


class MetricThreshold(_Strict):
    below: float | None = None
    above: float | None = None
    # Fires when the metric fell by at least this much against the previous window.
    drop_by: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> MetricThreshold:
        if sum(x is not None for x in (self.below, self.above, self.drop_by)) != 1:
            raise ValueError("give exactly one of below, above, drop_by")
        return self


class MetricRule(_Strict):
    kind: Literal["metric"]
    metric: Literal["nps", "csat", "ces", "mean"]
    # The question the built-in calculator reads (the analytics engine may ignore it).
    question: str | None = Field(default=None, max_length=64)
    survey_id: str | None = Field(default=None, max_length=26)
    # Units to watch: each unit of this subtree at ``level`` (depth), or the root itself.
    unit: str = Field(min_length=1, max_length=64)
    level: int | None = Field(default=None, ge=0, le=20)
    window_days: int = Field(default=7, ge=1, le=366)
    min_n: int = Field(default=30, ge=1)
    when: MetricThreshold
    priority: Priority = "normal"
    actions: Actions = Field(default_factory=Actions)
    # Several units firing in one run go out as one digest message per recipient.
    digest: bool = True


RuleDefinition = Annotated[ResponseRule | MetricRule, Discriminator("kind")]


class _Wrapper(BaseModel):
    definition: RuleDefinition


def _path(loc: tuple[int | str, ...]) -> str:
    if loc and loc[0] in ("response", "metric"):  # the kind's union tag
        loc = loc[1:]
    parts = [str(p) for p in loc if not str(p).startswith(TAG)]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def parse_rule(raw: Any, prefix: str = "definition") -> ResponseRule | MetricRule:
    """Validate a rule definition; errors carry the path of the field at fault."""
    try:
        return _Wrapper.model_validate({"definition": raw}).definition
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])[1:]
            sub = _path(loc)
            message = err["msg"].removeprefix("Value error, ")
            errors.append(FieldError(path=f"{prefix}.{sub}" if sub else prefix, message=message))
        raise ValidationFailed("The rule definition is not valid.", errors=errors) from None


def words_of(spec: WordSpec) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in spec.lists:
        for term in DEFAULT_WORD_LISTS[name]:
            seen[term.casefold()] = None
    for term in spec.terms:
        seen[term.casefold()] = None
    return tuple(seen)
