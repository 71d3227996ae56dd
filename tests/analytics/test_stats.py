"""Each statistic against an independent scipy/statsmodels computation on the same data."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from cxloop.analytics import drivers, stats
from cxloop.analytics.metrics import Acc, add_nps, difference_test, finish

RNG = np.random.default_rng(20261201)


def nps_scores(size: int, p: tuple[float, float, float]) -> np.ndarray:
    return RNG.choice([10, 8, 3], size=size, p=p)


def acc_of(scores: np.ndarray, weights: np.ndarray | None = None) -> Acc:
    acc = Acc()
    for i, s in enumerate(scores):
        add_nps(acc, int(s), 1.0 if weights is None else float(weights[i]))
    return acc


def points(scores: np.ndarray) -> np.ndarray:
    return np.where(scores >= 9, 1.0, np.where(scores <= 6, -1.0, 0.0))


def test_nps_interval_is_the_multinomial_z_interval() -> None:
    scores = nps_scores(400, (0.5, 0.3, 0.2))
    row = finish("nps", acc_of(scores))
    low, high = DescrStatsW(points(scores)).zconfint_mean(alpha=0.05)
    assert row["nps"] == pytest.approx(points(scores).mean() * 100, abs=0.005)
    assert row["ci_low"] == pytest.approx(low * 100, abs=0.005)
    assert row["ci_high"] == pytest.approx(high * 100, abs=0.005)


def test_weighted_nps_uses_the_effective_sample_size() -> None:
    scores = nps_scores(300, (0.4, 0.3, 0.3))
    weights = RNG.choice([0.5, 1.0, 2.0], size=300)
    acc = acc_of(scores, weights)
    described = DescrStatsW(points(scores), weights=weights)
    assert finish("nps", acc)["nps"] == pytest.approx(described.mean * 100, abs=0.005)
    n_eff = weights.sum() ** 2 / (weights**2).sum()
    assert acc.n_eff == pytest.approx(n_eff)


def test_nps_difference_matches_a_welch_z_test_on_the_points() -> None:
    a, b = nps_scores(250, (0.55, 0.25, 0.2)), nps_scores(180, (0.4, 0.3, 0.3))
    test = difference_test("nps", acc_of(a), acc_of(b))
    assert test is not None
    z, p = CompareMeans(DescrStatsW(points(a)), DescrStatsW(points(b))).ztest_ind(usevar="unequal")
    assert test.statistic == pytest.approx(z)
    assert test.p_value == pytest.approx(p)


def test_two_proportions_matches_statsmodels() -> None:
    got = stats.two_proportions(83, 120, 61, 110)
    z, p = proportions_ztest([83, 61], [120, 110])
    assert got.statistic == pytest.approx(z)
    assert got.p_value == pytest.approx(p)


def test_csat_top_box_difference_is_the_two_proportion_test() -> None:
    a, b = Acc(), Acc()
    for value in [5, 4, 4, 3, 5, 2, 4, 5, 1, 4, 5, 5]:
        a.add(float(value), 1.0, value >= 4)
    for value in [3, 2, 4, 3, 5, 2, 1, 3, 4, 2]:
        b.add(float(value), 1.0, value >= 4)
    test = difference_test("csat", a, b)
    assert test is not None
    z, p = proportions_ztest([9, 3], [12, 10])
    assert test.statistic == pytest.approx(z)
    assert test.p_value == pytest.approx(p)


def test_welch_matches_scipy() -> None:
    x, y = RNG.normal(3.8, 0.9, 60), RNG.normal(3.5, 1.3, 45)
    a, b = Acc(), Acc()
    for v in x:
        a.add(float(v))
    for v in y:
        b.add(float(v))
    test = difference_test("mean:q", a, b)
    expected = sps.ttest_ind(x, y, equal_var=False)
    assert test is not None
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.p_value == pytest.approx(expected.pvalue)


def test_chi_square_matches_scipy() -> None:
    table = [[30, 12, 8], [22, 25, 13]]
    chi2, p, dof = stats.chi_square(table)
    expected = sps.chi2_contingency(np.array(table), correction=False)
    assert (chi2, p, dof) == pytest.approx((expected.statistic, expected.pvalue, expected.dof))


@pytest.mark.parametrize(("ours", "theirs"), [(stats.holm, "holm"), (stats.benjamini_hochberg, "fdr_bh")])
def test_corrections_match_statsmodels(ours: object, theirs: str) -> None:
    p_values = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5, 0.049]
    expected = multipletests(p_values, method=theirs)[1]
    assert ours(p_values) == pytest.approx(list(expected))  # type: ignore[operator]
    with_gap = ours([0.01, math.nan, 0.04])  # type: ignore[operator]
    assert math.isnan(with_gap[1])
    assert [with_gap[0], with_gap[2]] == pytest.approx(list(multipletests([0.01, 0.04], method=theirs)[1]))


def test_anomaly_flags_the_point_outside_three_standard_errors() -> None:
    values = [40.0, 42.0, 39.0, 41.0, 10.0, 40.0]
    errors = [3.0] * 6
    flags = stats.anomalies(values, errors)
    assert flags == [False, False, False, False, True, False]
    # The same rule computed independently for the flagged point.
    others = np.array([40, 42, 39, 41, 40.0])
    centre, centre_se = others.mean(), 3.0 / math.sqrt(5)
    assert abs(10 - centre) / math.sqrt(9 + centre_se**2) > 3


def make_drivers(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    x = RNG.integers(1, 6, size=(n, 3)).astype(float)
    x[:, 1] = np.clip(x[:, 1] + RNG.integers(-1, 2, size=n), 1, 5)
    y = 0.9 * x[:, 0] + 0.4 * x[:, 1] + 0.1 * x[:, 2] + RNG.normal(0, 1, n)
    return x, y


def test_r_squared_and_shapley_against_statsmodels_ols() -> None:
    x, y = make_drivers()
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert drivers.r_squared(x, y) == pytest.approx(fit.rsquared)
    values = drivers.shapley(x, y)
    assert values.sum() == pytest.approx(fit.rsquared)

    def r2(columns: list[int]) -> float:
        if not columns:
            return 0.0
        return float(sm.OLS(y, sm.add_constant(x[:, columns])).fit().rsquared)

    # Shapley value of driver 0 over the 4 orderings of the others, by statsmodels.
    expected0 = (
        r2([0]) / 3
        + (r2([0, 1]) - r2([1])) / 6
        + (r2([0, 2]) - r2([2])) / 6
        + (r2([0, 1, 2]) - r2([1, 2])) / 3
    )
    assert values[0] == pytest.approx(expected0)


def test_relative_weights_sum_to_r_squared_and_rank_like_shapley() -> None:
    x, y = make_drivers()
    weights = drivers.relative_weights(x, y)
    fit = sm.OLS(y, sm.add_constant(x)).fit()
    assert weights.sum() == pytest.approx(fit.rsquared)
    assert list(np.argsort(weights)) == list(np.argsort(drivers.shapley(x, y)))
