"""Metric definitions: what each metric reads from an answer sheet, the
additive sufficient statistics it keeps per group, and how a group's
statistics become the numbers the API answers.

Rollup rows and raw answer sheets both become ``Acc`` values, so the same
``finish`` code computes every figure whichever source the engine picked.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cxloop.analytics import stats
from cxloop.kit.errors import invalid
from cxloop.surveys import SurveyDefinition

FIXED = ("nps", "csat", "ces", "n", "response_count", "response_rate", "gap")
PREFIXED = ("mean", "choices", "custom")
ROLLUP_METRICS = frozenset({"nps", "csat", "ces", "n", "response_count", "response_rate"})
METRIC_HELP = (
    "nps, csat, ces, n, response_count, response_rate, gap, mean:QUESTION, choices:QUESTION, custom:NAME"
)
CUSTOM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")


class Acc:
    """Weighted moments of one value: count, Σw, Σw², Σwx, Σwx² and two weighted hit counts."""

    __slots__ = ("h1", "h2", "n", "s", "ss", "w", "w2")

    def __init__(self) -> None:
        self.n = 0
        self.w = self.w2 = self.s = self.ss = self.h1 = self.h2 = 0.0

    def add(self, x: float, weight: float = 1.0, h1: bool = False, h2: bool = False) -> None:
        self.n += 1
        self.w += weight
        self.w2 += weight * weight
        self.s += weight * x
        self.ss += weight * x * x
        if h1:
            self.h1 += weight
        if h2:
            self.h2 += weight

    def add_counts(self, n: int, s: float, ss: float, h1: float, h2: float) -> None:
        """Unweighted counts from a rollup row (w = w² = n)."""
        self.n += n
        self.w += n
        self.w2 += n
        self.s += s
        self.ss += ss
        self.h1 += h1
        self.h2 += h2

    def merge(self, other: Acc) -> None:
        self.n += other.n
        self.w += other.w
        self.w2 += other.w2
        self.s += other.s
        self.ss += other.ss
        self.h1 += other.h1
        self.h2 += other.h2

    @property
    def n_eff(self) -> float:
        """Kish's effective sample size (n when unweighted)."""
        return self.w * self.w / self.w2 if self.w2 > 0 else 0.0

    def mean_var(self) -> tuple[float, float]:
        return stats.mean_variance(self.n_eff, self.w, self.s, self.ss)


@dataclass
class Dist:
    """Weighted counts per choice, and the weight of the respondents who answered."""

    counts: dict[str, float] = field(default_factory=dict)
    acc: Acc = field(default_factory=Acc)

    def merge(self, other: Dist) -> None:
        for key, value in other.counts.items():
            self.counts[key] = self.counts.get(key, 0.0) + value
        self.acc.merge(other.acc)


@dataclass
class Gap:
    """Perception minus expectation: overall, per SERVQUAL item and per dimension."""

    overall: Acc = field(default_factory=Acc)
    items: dict[str, Acc] = field(default_factory=dict)
    dimensions: dict[str, Acc] = field(default_factory=dict)

    def merge(self, other: Gap) -> None:
        self.overall.merge(other.overall)
        for mine, theirs in ((self.items, other.items), (self.dimensions, other.dimensions)):
            for key, acc in theirs.items():
                mine.setdefault(key, Acc()).merge(acc)


State = Acc | Dist | Gap


def new_state(metric: str) -> State:
    if metric.startswith("choices:"):
        return Dist()
    if metric == "gap":
        return Gap()
    return Acc()


def merge_state(into: State, other: State) -> None:
    into.merge(other)  # type: ignore[arg-type]


# --- custom formulas: a whitelisted arithmetic grammar over question ids ---

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCS: dict[str, Callable[..., float]] = {"min": min, "max": max, "abs": abs}
Formula = Callable[[dict[str, Any]], float | None]


def compile_formula(text: str, path: str) -> tuple[Formula, frozenset[str]]:
    """A formula such as ``(speed + staff) / 2`` as a function of one answer sheet.

    Only numbers, question ids, + - * /, unary minus and min/max/abs are
    accepted; the tree is walked by hand, never evaluated by Python.
    """
    if len(text) > 500:
        raise invalid(path, "A formula may have at most 500 characters.", code="invalid_formula")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise invalid(path, f"The formula does not parse: {exc.msg}.", code="invalid_formula") from exc
    names: set[str] = set()

    def build(node: ast.AST) -> Callable[[dict[str, Any]], float]:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | float)
            and not isinstance(node.value, bool)
        ):
            value = float(node.value)
            return lambda _answers: value
        if isinstance(node, ast.Name):
            name = node.id
            names.add(name)

            def read(answers: dict[str, Any]) -> float:
                got = answers.get(name)
                if isinstance(got, bool) or not isinstance(got, int | float):
                    raise _Missing
                return float(got)

            return read
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            op, left, right = _BINARY[type(node.op)], build(node.left), build(node.right)
            return lambda answers: op(left(answers), right(answers))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner, sign = build(node.operand), -1.0 if isinstance(node.op, ast.USub) else 1.0
            return lambda answers: sign * inner(answers)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and not node.keywords
            and node.args
        ):
            func, args = _FUNCS[node.func.id], [build(a) for a in node.args]
            if node.func.id == "abs" and len(args) != 1:
                raise invalid(path, "abs() takes one argument.", code="invalid_formula")
            return lambda answers: float(func(*(a(answers) for a in args)))
        raise invalid(
            path,
            "Formulas may use numbers, question ids, + - * /, parentheses and min, max, abs only.",
            code="invalid_formula",
        )

    body = build(tree.body)

    def formula(answers: dict[str, Any]) -> float | None:
        try:
            value = body(answers)
        except (_Missing, ZeroDivisionError):
            return None
        return value if math.isfinite(value) else None

    return formula, frozenset(names)


class _Missing(Exception):
    """A question the formula needs was not answered."""


# --- reading answer sheets ---


@dataclass(frozen=True)
class Shape:
    """Where a survey version keeps its fixed KPIs and SERVQUAL items."""

    nps: str | None
    csat: str | None
    ces: str | None
    servqual: dict[str, str]  # item id -> dimension
    types: dict[str, str]


_shapes: dict[int, tuple[SurveyDefinition, Shape]] = {}


def shape_of(definition: SurveyDefinition) -> Shape:
    hit = _shapes.get(id(definition))
    if hit is not None and hit[0] is definition:
        return hit[1]
    first: dict[str, str] = {}
    servqual: dict[str, str] = {}
    types: dict[str, str] = {}
    for _, question in definition.questions():
        types[question.id] = question.type
        first.setdefault(question.type, question.id)
        if question.type == "servqual":
            servqual[question.id] = str(getattr(question, "dimension", ""))
    made = Shape(first.get("nps"), first.get("csat"), first.get("ces"), servqual, types)
    if len(_shapes) > 1024:
        _shapes.clear()
    _shapes[id(definition)] = (definition, made)
    return made


def score(answers: dict[str, Any], question_id: str | None) -> int | None:
    if question_id is None:
        return None
    value = answers.get(question_id)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def kpi_scores(answers: dict[str, Any], shape: Shape) -> tuple[int | None, int | None, int | None]:
    """The NPS, CSAT and CES answers of one sheet (None where unanswered)."""
    return score(answers, shape.nps), score(answers, shape.csat), score(answers, shape.ces)


def add_nps(acc: Acc, value: int, weight: float = 1.0) -> None:
    acc.add(100.0 if value >= 9 else (-100.0 if value <= 6 else 0.0), weight, value >= 9, value <= 6)


def add_csat(acc: Acc, value: int, weight: float = 1.0) -> None:
    acc.add(float(value), weight, value >= 4)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _choice_ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and isinstance(value.get("choice"), str):
        return [value["choice"]]
    if isinstance(value, list):
        return [c for item in value for c in _choice_ids(item)][:1000]
    return []


def observe(
    metric: str,
    state: State,
    answers: dict[str, Any],
    shape: Shape,
    weight: float,
    formulas: dict[str, Formula],
) -> None:
    """Add one answer sheet to ``metric``'s state."""
    if metric in ("n", "response_count", "response_rate"):
        assert isinstance(state, Acc)
        state.add(1.0, weight)
    elif metric == "nps":
        value = score(answers, shape.nps)
        if value is not None:
            add_nps(state, value, weight)  # type: ignore[arg-type]
    elif metric == "csat":
        value = score(answers, shape.csat)
        if value is not None:
            add_csat(state, value, weight)  # type: ignore[arg-type]
    elif metric == "ces":
        value = score(answers, shape.ces)
        if value is not None:
            assert isinstance(state, Acc)
            state.add(float(value), weight)
    elif metric.startswith("mean:"):
        number = _number(_dig(answers, metric[5:]))
        if number is not None:
            assert isinstance(state, Acc)
            state.add(number, weight)
    elif metric.startswith("choices:"):
        picked = _choice_ids(answers.get(metric[8:]))
        if picked:
            assert isinstance(state, Dist)
            state.acc.add(1.0, weight)
            for choice in picked:
                state.counts[choice] = state.counts.get(choice, 0.0) + weight
    elif metric.startswith("custom:"):
        result = formulas[metric[7:]](answers)
        if result is not None:
            assert isinstance(state, Acc)
            state.add(result, weight)
    elif metric == "gap":
        assert isinstance(state, Gap)
        _observe_gap(state, answers, shape, weight)


def _dig(answers: dict[str, Any], question_id: str) -> Any:
    """``q`` or, for a matrix row, ``q.row``."""
    if question_id in answers:
        return answers[question_id]
    head, _, row = question_id.partition(".")
    holder = answers.get(head)
    return holder.get(row) if row and isinstance(holder, dict) else None


def _observe_gap(state: Gap, answers: dict[str, Any], shape: Shape, weight: float) -> None:
    gaps: list[float] = []
    for item, dimension in shape.servqual.items():
        pair = answers.get(item)
        if not isinstance(pair, dict):
            continue
        expectation, perception = _number(pair.get("expectation")), _number(pair.get("perception"))
        if expectation is None or perception is None:
            continue
        gap = perception - expectation
        gaps.append(gap)
        state.items.setdefault(item, Acc()).add(gap, weight)
        state.dimensions.setdefault(dimension, Acc()).add(gap, weight)
    if gaps:
        # One observation per respondent: the mean gap over the items they rated.
        state.overall.add(sum(gaps) / len(gaps), weight)


# --- the figures of one group ---


def _r(value: float | None, digits: int = 2) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits)


def finish(metric: str, state: State) -> dict[str, Any]:
    """The fields one metric adds to a row."""
    if metric in ("n", "response_count"):
        assert isinstance(state, Acc)
        return {metric: state.n}
    if metric == "nps":
        assert isinstance(state, Acc)
        if state.w <= 0:
            return {"nps": None, "nps_n": 0}
        low, high = stats.nps_interval(state.h1, state.h2, state.w, state.n_eff)
        promoters, detractors = state.h1 / state.w * 100, state.h2 / state.w * 100
        # The shares are finite whenever w > 0; only the interval can be undefined (n <= 1).
        return {
            "nps": round(promoters - detractors, 2),
            "nps_n": state.n,
            "promoters_pct": round(promoters, 2),
            "passives_pct": round(100 - promoters - detractors, 2),
            "detractors_pct": round(detractors, 2),
            "ci_low": _r(low),
            "ci_high": _r(high),
        }
    if metric == "csat":
        assert isinstance(state, Acc)
        if state.w <= 0:
            return {"csat": None, "csat_mean": None, "csat_n": 0}
        return {
            "csat": _r(state.h1 / state.w * 100),
            "csat_mean": _r(state.s / state.w, 3),
            "csat_n": state.n,
        }
    if isinstance(state, Dist):
        total = state.acc.w
        shares = {k: _r(v / total * 100) for k, v in sorted(state.counts.items())} if total > 0 else {}
        return {metric: shares, f"{metric}_n": state.acc.n}
    if isinstance(state, Gap):
        return {
            "gap": _r(state.overall.mean_var()[0], 3),
            "gap_n": state.overall.n,
            "gap_items": {k: _r(v.mean_var()[0], 3) for k, v in sorted(state.items.items())},
            "gap_dimensions": {k: _r(v.mean_var()[0], 3) for k, v in sorted(state.dimensions.items())},
        }
    assert isinstance(state, Acc)
    mean = state.mean_var()[0] if state.w > 0 else None
    return {metric: _r(mean, 3), f"{metric}_n": state.n}


def headline(metric: str, state: State) -> float | None:
    """The one number a metric is compared on (the first field ``finish`` gives)."""
    value = finish(metric, state).get(metric)
    return value if isinstance(value, float | int) and not isinstance(value, bool) else None


def difference_test(metric: str, a: State, b: State) -> stats.Test | None:
    """The significance test of ``a`` against ``b`` for this metric (None: none applies)."""
    if isinstance(a, Acc) and isinstance(b, Acc):
        if a.w <= 0 or b.w <= 0 or metric in ("n", "response_count", "response_rate"):
            return None
        if metric == "nps":
            return stats.nps_difference((a.h1, a.h2, a.w, a.n_eff), (b.h1, b.h2, b.w, b.n_eff))
        if metric == "csat":
            return stats.two_proportions(a.h1 / a.w * a.n_eff, a.n_eff, b.h1 / b.w * b.n_eff, b.n_eff)
        (ma, va), (mb, vb) = a.mean_var(), b.mean_var()
        return stats.welch(ma, va, a.n_eff, mb, vb, b.n_eff)
    if isinstance(a, Dist) and isinstance(b, Dist):
        keys = sorted(set(a.counts) | set(b.counts))
        chi2, p, _ = stats.chi_square(
            [[a.counts.get(k, 0.0) for k in keys], [b.counts.get(k, 0.0) for k in keys]]
        )
        return stats.Test(chi2, p)
    if isinstance(a, Gap) and isinstance(b, Gap):
        (ma, va), (mb, vb) = a.overall.mean_var(), b.overall.mean_var()
        return stats.welch(ma, va, a.overall.n_eff, mb, vb, b.overall.n_eff)
    return None


def standard_error(metric: str, state: State) -> float:
    """Of the headline figure, for trend anomaly flags."""
    if not isinstance(state, Acc) or state.w <= 0 or state.n_eff <= 1:
        return math.nan
    if metric == "nps":
        return (
            math.sqrt(stats.nps_sample_variance(state.h1, state.h2, state.w, state.n_eff) / state.n_eff) * 100
        )
    if metric == "csat":
        p = state.h1 / state.w
        return math.sqrt(p * (1 - p) / state.n_eff) * 100
    return math.sqrt(state.mean_var()[1] / state.n_eff)
