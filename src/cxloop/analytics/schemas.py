"""Request bodies of the analytics API.

Names inside ``metrics``, ``filters``, ``group_by`` and ``compare`` are
checked by the query planner, not by Pydantic, so that an unknown name
answers a 422 that lists the valid ones.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MetricsQuery(_Strict):
    metrics: list[str] = Field(min_length=1, max_length=20)
    survey_id: str | None = Field(default=None, max_length=26)
    filters: dict[str, Any] = Field(default_factory=dict, max_length=20)
    group_by: list[str] = Field(default_factory=list, max_length=4)
    compare: str | None = Field(default=None, max_length=40)
    # name -> formula over question ids, used in metrics as "custom:name".
    custom_metrics: dict[str, str] = Field(default_factory=dict, max_length=20)
    # An embedded field holding each response's weight (missing or invalid: weight 1).
    weight: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    correction: Literal["holm", "bh", "none"] = "holm"
    anomalies: bool = False
    # "auto" lets the engine pick; the others force a source (tests, benchmarks).
    source: Literal["auto", "rollup", "raw"] = "auto"
    limit: int = Field(default=1000, ge=1, le=5000)
    cursor: str | None = Field(default=None, max_length=200)


class DriversQuery(_Strict):
    survey_id: str = Field(max_length=26)
    # The outcome: "nps", "csat" or a question id with a numeric answer.
    outcome: str = Field(default="nps", max_length=64)
    drivers: list[str] = Field(min_length=1, max_length=30)
    filters: dict[str, Any] = Field(default_factory=dict, max_length=20)


class TargetIn(_Strict):
    unit_code: str | None = Field(default=None, min_length=1, max_length=64)
    metric: str = Field(min_length=1, max_length=80)
    value: float


class AnalyticsSettingsIn(_Strict):
    min_n: int = Field(ge=1, le=1000)
