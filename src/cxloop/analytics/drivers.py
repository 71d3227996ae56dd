"""Key driver analysis: how much each attribute rating explains of an
outcome (NPS or overall satisfaction), with R^2 and an importance x
performance quadrant.

Shapley regression (each driver's average gain in R^2 over all subsets of
the others) is exact and used up to ``SHAPLEY_MAX`` drivers; beyond that,
Johnson's relative weights approximate it in one eigen-decomposition
(docs/adr/0021). Both are numpy only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxloop.kit.errors import invalid

SHAPLEY_MAX = 10
MIN_ROWS = 10


def r_squared(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the least-squares fit of y on x with an intercept."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    total = ((y - y.mean()) ** 2).sum()
    return float(1 - (residual @ residual) / total) if total > 0 else 0.0


def shapley(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each column's Shapley share of R^2 (they sum to the full model's R^2)."""
    p = x.shape[1]
    cache: dict[frozenset[int], float] = {}

    def r2(subset: frozenset[int]) -> float:
        if subset not in cache:
            cache[subset] = r_squared(x[:, sorted(subset)], y)
        return cache[subset]

    values = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        for size in range(p):
            weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
            for subset in itertools.combinations(others, size):
                base = frozenset(subset)
                values[j] += weight * (r2(base | {j}) - r2(base))
    return values


def relative_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights: raw weights that sum to R^2."""
    zx = (x - x.mean(axis=0)) / x.std(axis=0, ddof=1)
    zy = (y - y.mean()) / y.std(ddof=1)
    n = len(y)
    rxx = zx.T @ zx / (n - 1)
    rxy = zx.T @ zy / (n - 1)
    evals, evecs = np.linalg.eigh(rxx)
    lam = evecs @ np.diag(np.sqrt(np.clip(evals, 0, None))) @ evecs.T
    beta = np.linalg.solve(lam, rxy)
    return np.asarray((lam**2) @ (beta**2))


@dataclass(frozen=True)
class Driver:
    question_id: str
    importance: float  # share of R^2 explained, in R^2 units
    share: float  # percent of the explained variance
    performance: float  # mean rating on a 0..100 scale
    quadrant: str


def analyse(
    rows: list[tuple[float, list[float]]], names: list[str], scales: list[tuple[float, float]]
) -> dict[str, Any]:
    """``rows`` of (outcome, driver ratings) with every driver answered."""
    if len(rows) < max(MIN_ROWS, len(names) + 2):
        raise invalid(
            "drivers",
            f"Driver analysis needs at least {max(MIN_ROWS, len(names) + 2)} responses "
            f"that rate every driver; {len(rows)} do.",
            code="too_few_responses",
        )
    y = np.array([r[0] for r in rows], dtype=float)
    x = np.array([r[1] for r in rows], dtype=float)
    constant = [names[j] for j in range(x.shape[1]) if np.allclose(x[:, j], x[0, j])]
    if constant or np.allclose(y, y[0]):
        raise invalid(
            "drivers",
            "Every rating is the same for: "
            + ", ".join(constant or ["the outcome"])
            + "; nothing to explain.",
            code="no_variance",
        )
    method = "shapley" if len(names) <= SHAPLEY_MAX else "relative_weights"
    weights = shapley(x, y) if method == "shapley" else relative_weights(x, y)
    r2 = r_squared(x, y)
    total = float(weights.sum())
    performance = [
        (float(x[:, j].mean()) - low) / (high - low) * 100 if high > low else 0.0
        for j, (low, high) in enumerate(scales)
    ]
    mean_importance = total / len(names)
    mean_performance = float(np.mean(performance))
    drivers = []
    for j, name in enumerate(names):
        important = weights[j] >= mean_importance
        performing = performance[j] >= mean_performance
        quadrant = (
            ("strength" if performing else "priority")
            if important
            else ("maintain" if performing else "low_priority")
        )
        drivers.append(
            Driver(
                question_id=name,
                importance=round(float(weights[j]), 4),
                share=round(float(weights[j]) / total * 100, 2) if total > 0 else 0.0,
                performance=round(performance[j], 2),
                quadrant=quadrant,
            ).__dict__
        )
    drivers.sort(key=lambda d: -d["importance"])
    return {
        "method": method,
        "r2": round(r2, 4),
        "n": len(rows),
        "mean_importance": round(mean_importance, 4),
        "mean_performance": round(mean_performance, 2),
        "drivers": drivers,
    }
