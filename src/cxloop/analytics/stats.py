"""Statistics over sufficient statistics (counts, weighted sums), so that
rollups and raw rows feed the same formulas. Choices are in docs/adr/0021.

Every function here is checked in tests/analytics/test_stats.py against
scipy or statsmodels on the same data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps  # type: ignore[import-untyped]

Z95 = float(sps.norm.ppf(0.975))


@dataclass(frozen=True)
class Test:
    statistic: float
    p_value: float


def nps_variance(promoters: float, detractors: float, total: float) -> float:
    """Variance of one respondent's score in {+1, 0, -1} (the multinomial view of NPS)."""
    if total <= 0:
        return math.nan
    p, d = promoters / total, detractors / total
    return p + d - (p - d) ** 2


def nps_sample_variance(promoters: float, detractors: float, total: float, n_eff: float) -> float:
    """The unbiased (n - 1) estimate of that variance, as statsmodels' DescrStatsW uses."""
    if n_eff <= 1:
        return math.nan
    return max(nps_variance(promoters, detractors, total), 0.0) * n_eff / (n_eff - 1)


def nps_interval(promoters: float, detractors: float, total: float, n_eff: float) -> tuple[float, float]:
    """95% Wald interval of NPS (in points, -100..100), clipped to the scale."""
    if total <= 0 or n_eff <= 1:
        return (math.nan, math.nan)
    score = (promoters - detractors) / total
    half = Z95 * math.sqrt(nps_sample_variance(promoters, detractors, total, n_eff) / n_eff)
    return (max(-1.0, score - half) * 100, min(1.0, score + half) * 100)


def nps_difference(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> Test:
    """z test of NPS_a - NPS_b; each side is (promoters, detractors, total, effective n)."""
    if a[3] <= 1 or b[3] <= 1:
        return Test(math.nan, math.nan)
    va = nps_sample_variance(*a) / a[3]
    vb = nps_sample_variance(*b) / b[3]
    se = math.sqrt(va + vb) if va + vb > 0 else 0.0
    diff = (a[0] - a[1]) / a[2] - (b[0] - b[1]) / b[2]
    return _z(diff, se)


def two_proportions(x1: float, n1: float, x2: float, n2: float) -> Test:
    """Pooled two-proportion z test (top-box shares)."""
    if n1 <= 0 or n2 <= 0:
        return Test(math.nan, math.nan)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _z(x1 / n1 - x2 / n2, se)


def _z(diff: float, se: float) -> Test:
    if se <= 0 or math.isnan(se):
        return Test(math.nan, math.nan) if diff == 0 else Test(math.copysign(math.inf, diff), 0.0)
    z = diff / se
    return Test(z, float(2 * sps.norm.sf(abs(z))))


def welch(m1: float, v1: float, n1: float, m2: float, v2: float, n2: float) -> Test:
    """Welch's t test from means, sample variances and sizes."""
    if n1 < 2 or n2 < 2:
        return Test(math.nan, math.nan)
    a, b = v1 / n1, v2 / n2
    if a + b <= 0:
        return Test(math.nan, math.nan)
    t = (m1 - m2) / math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
    return Test(t, float(2 * sps.t.sf(abs(t), df)))


def chi_square(table: Sequence[Sequence[float]]) -> tuple[float, float, int]:
    """Pearson's chi-square test of independence (no continuity correction): (chi2, p, dof)."""
    observed = np.asarray(table, dtype=float)
    observed = observed[:, observed.sum(axis=0) > 0]
    observed = observed[observed.sum(axis=1) > 0, :]
    if observed.shape[0] < 2 or observed.shape[1] < 2:
        return (math.nan, math.nan, 0)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    dof = (observed.shape[0] - 1) * (observed.shape[1] - 1)
    return (chi2, float(sps.chi2.sf(chi2, dof)), dof)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and is not counted)."""
    index = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(index)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(index, key=lambda k: p_values[k])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (false discovery rate)."""
    index = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(index)
    adjusted = [math.nan] * len(p_values)
    running = 1.0
    ordered = sorted(index, key=lambda k: p_values[k])
    for rank in range(m - 1, -1, -1):
        i = ordered[rank]
        running = min(running, p_values[i] * m / (rank + 1))
        adjusted[i] = min(1.0, running)
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


def mean_variance(n_eff: float, w: float, s: float, ss: float) -> tuple[float, float]:
    """Weighted mean and (unbiased, by effective n) variance from sums."""
    if w <= 0:
        return (math.nan, math.nan)
    mean = s / w
    raw = max(ss / w - mean * mean, 0.0)
    if n_eff <= 1:
        return (mean, math.nan)
    return (mean, raw * n_eff / (n_eff - 1))


def anomalies(values: Sequence[float], std_errors: Sequence[float], *, z: float = 3.0) -> list[bool]:
    """Shewhart-style flags: a point whose distance from the series' centre
    (the inverse-variance weighted mean of the other points) exceeds ``z``
    combined standard errors."""
    flags: list[bool] = []
    for i, (value, se) in enumerate(zip(values, std_errors, strict=True)):
        others = [
            (v, s)
            for j, (v, s) in enumerate(zip(values, std_errors, strict=True))
            if j != i and not math.isnan(v) and s > 0
        ]
        if math.isnan(value) or se <= 0 or math.isnan(se) or len(others) < 2:
            flags.append(False)
            continue
        weights = [1 / s**2 for _, s in others]
        centre = sum(w * v for w, (v, _) in zip(weights, others, strict=True)) / sum(weights)
        centre_se = math.sqrt(1 / sum(weights))
        flags.append(abs(value - centre) > z * math.sqrt(se**2 + centre_se**2))
    return flags
