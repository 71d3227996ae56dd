"""Dashboard definitions (the JSON users customise) and the API's bodies.

A definition is a list of widgets on a 12-column grid. Each widget carries the
metrics query it shows, in the shape of analytics' ``POST /api/v1/metrics/query``
body; metric and group names are checked by analytics when the query runs, so
a dashboard saved today keeps working when analytics learns new metrics.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from cxloop.kit.clock import ReportDay

GRID_COLUMNS = 12
MAX_WIDGETS = 40
MAX_ROWS = 200

WIDGET_TYPES = (
    "kpi",
    "trend",
    "bar",
    "ranking",
    "heatmap",
    "distribution",
    "driver_quadrant",
    "comments",
    "funnel",
    "topic_trend",
    "topic_impact",
    "rising_phrases",
    "comment_explorer",
)
WidgetType = Literal[
    "kpi",
    "trend",
    "bar",
    "ranking",
    "heatmap",
    "distribution",
    "driver_quadrant",
    "comments",
    "funnel",
    "topic_trend",
    "topic_impact",
    "rising_phrases",
    "comment_explorer",
]
# Widgets that read the text domain's analyses of the comments.
TEXT_WIDGETS = ("topic_trend", "topic_impact", "rising_phrases")
COMMENT_WIDGETS = ("comments", "comment_explorer")
TIME_GRAINS = ("day", "week", "month", "quarter", "year")
PERIODS = ("7d", "30d", "90d", "12m", "ytd", "all", "custom")
Period = Literal["7d", "30d", "90d", "12m", "ytd", "all", "custom"]
ROLE_DEFAULTS = ("executive", "regional", "store", "analyst")
RoleDefault = Literal["executive", "regional", "store", "analyst"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:\-]+$")]
WidgetId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]
LANG_TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(Strict):
    x: int = Field(ge=0, lt=GRID_COLUMNS)
    y: int = Field(ge=0, le=500)
    w: int = Field(ge=1, le=GRID_COLUMNS)
    h: int = Field(ge=1, le=12)

    @model_validator(mode="after")
    def _inside_grid(self) -> Position:
        if self.x + self.w > GRID_COLUMNS:
            raise ValueError(f"x + w must be at most {GRID_COLUMNS} (the grid's width)")
        return self


class WidgetQuery(Strict):
    """A metrics query as analytics takes it; global filters are merged in at run time."""

    metrics: list[Token] = Field(min_length=1, max_length=10)
    survey_id: Token | None = None
    filters: dict[Token, Any] = Field(default_factory=dict, max_length=20)
    group_by: list[Token] = Field(default_factory=list, max_length=3)
    compare: Token | None = None


class CommentOptions(Strict):
    """What the comment list shows: text answers, newest first."""

    question_ids: list[Token] = Field(default_factory=list, max_length=20)
    score_question: Token | None = None
    limit: int = Field(default=20, ge=1, le=100)


class TextWidgetOptions(Strict):
    """How much a text widget shows: the most mentioned topics (trends), the phrases
    (rising phrases) and how often a phrase must occur in the period to count."""

    topics: int = Field(default=8, ge=1, le=30)
    limit: int = Field(default=10, ge=1, le=50)
    min_count: int = Field(default=3, ge=1, le=1000)


class Widget(Strict):
    id: WidgetId
    type: WidgetType
    title: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, max_length=10
    )
    query: WidgetQuery | None = None
    position: Position
    # Drill down through the unit tree when a unit is clicked (bar, ranking, heatmap).
    drill: bool = False
    comments: CommentOptions | None = None
    # KPI tiles: the target line, and the sparkline's grain.
    target: float | None = Field(default=None, ge=-1e9, le=1e9, allow_inf_nan=False)
    sparkline: Literal["day", "week", "month"] | None = None
    # Driver quadrants: the rating questions to explain the first metric (the outcome) by;
    # empty: every rating question of the survey.
    drivers: list[Token] = Field(default_factory=list, max_length=30)
    text: TextWidgetOptions | None = None

    @field_validator("title")
    @classmethod
    def _language_tags(cls, value: dict[str, str]) -> dict[str, str]:
        for tag in value:
            if not LANG_TAG.match(tag):
                raise ValueError(f"{tag!r} is not a language tag such as zh-CN or en")
        return value

    @model_validator(mode="after")
    def _fits_type(self) -> Widget:
        if self.type in COMMENT_WIDGETS:
            if self.query is not None and self.query.group_by:
                raise ValueError("a comment list takes no group_by")
            return self
        if self.query is None:
            raise ValueError(f"a {self.type} widget needs a query")
        groups = self.query.group_by
        grains = [g for g in groups if g in TIME_GRAINS]
        if self.type == "kpi" and groups:
            raise ValueError("a KPI tile takes no group_by (its sparkline is set with 'sparkline')")
        if self.type == "trend" and not grains:
            raise ValueError("a trend needs a time grain in group_by (day, week, month, quarter or year)")
        if self.type in ("bar", "ranking") and len(groups) != 1:
            raise ValueError(f"a {self.type} widget needs exactly one group_by")
        if self.type == "heatmap" and (len(groups) != 2 or len(grains) != 1):
            raise ValueError("a heatmap needs two group_by: a unit grouping and a time grain")
        if self.type == "topic_trend" and (len(groups) != 1 or len(grains) != 1):
            raise ValueError("a topic trend needs one time grain in group_by (its topics are the series)")
        if self.type in ("topic_impact", "rising_phrases") and groups:
            raise ValueError(f"a {self.type} widget takes no group_by")
        if self.type == "topic_impact" and self.query.metrics != ["nps"]:
            raise ValueError("topic impact explains NPS: metrics must be ['nps']")
        return self


class DashboardFilters(Strict):
    """Global filters: applied to every widget's query, within the viewer's scope."""

    period: Period = "90d"
    date_from: ReportDay | None = None
    date_to: ReportDay | None = None
    unit_code: Token | None = None
    survey_id: Token | None = None
    channel: Token | None = None
    touchpoint: Token | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DashboardFilters:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self


class DashboardDefinition(Strict):
    version: Literal[1] = 1
    filters: DashboardFilters = Field(default_factory=DashboardFilters)
    widgets: list[Widget] = Field(default_factory=list, max_length=MAX_WIDGETS)

    @model_validator(mode="after")
    def _unique_ids(self) -> DashboardDefinition:
        seen: set[str] = set()
        for widget in self.widgets:
            if widget.id in seen:
                raise ValueError(f"widget id {widget.id!r} is used twice")
            seen.add(widget.id)
        return self


class DashboardCreate(Strict):
    name: Name
    definition: DashboardDefinition
    shared: bool = False
    # Where a shared dashboard is visible (a unit in your scope); empty: your own unit.
    share_unit_code: Token | None = None


class DashboardUpdate(Strict):
    name: Name | None = None
    definition: DashboardDefinition | None = None
    shared: bool | None = None
    share_unit_code: Token | None = None
    # The revision this edit started from; a newer saved revision answers 409.
    revision: int | None = Field(default=None, ge=1)


class DashboardOut(BaseModel):
    id: str
    name: str
    role_default: RoleDefault | None = None
    owner_id: str | None
    owned: bool
    shared: bool
    share_unit_code: str | None
    revision: int
    definition: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None


class DashboardPage(BaseModel):
    items: list[DashboardOut]
    next_cursor: str | None


class WidgetResult(BaseModel):
    rows: list[dict[str, Any]] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)
    error: dict[str, Any] | None = None


class DashboardData(BaseModel):
    dashboard_id: str
    filters: dict[str, Any]
    widgets: dict[str, WidgetResult]


class ScheduleCreate(Strict):
    recipient_email: Annotated[str, StringConstraints(min_length=3, max_length=320)]
    dashboard_id: Token | None = None
    frequency: Literal["daily", "weekly", "monthly"]
    format: Literal["pdf", "xlsx"] = "pdf"
    hour_utc: int = Field(default=0, ge=0, le=23)


class ScheduleOut(BaseModel):
    id: str
    recipient_id: str
    dashboard_id: str | None
    frequency: str
    format: str
    hour_utc: int
    active: bool
    next_run_at: datetime
    last_sent_at: datetime | None


class SchedulePage(BaseModel):
    items: list[ScheduleOut]
    next_cursor: str | None
