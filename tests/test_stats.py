"""agents.stats against values computed independently: closed forms on small samples, symmetry, degenerate cases.

The bootstrap closed forms use samples of 0s and 1s: a resample of n runs from k ones holds K ~ Binomial(n, k/n)
ones, so a statistic that depends only on K has known percentiles. With 10 000 resamples, the percentiles below
lie deep inside one value of K (the nearest cumulative probability is 0.03 away), so they are exact.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from agents import stats


def test_iqm_fractional_weights_and_agreement_with_rliable_when_n_is_a_multiple_of_4() -> None:
    from rliable import metrics

    np.testing.assert_allclose(stats.iqm_weights(3), [1 / 6, 2 / 3, 1 / 6])
    np.testing.assert_allclose(stats.iqm_weights(5), [0, 0.3, 0.4, 0.3, 0])
    assert float(stats.iqm(np.array([0.0, 10.0, 1000.0]))) == pytest.approx(1000 / 6 + 20 / 3)
    rng = np.random.default_rng(3)
    for n in (4, 8, 12, 100):
        x = rng.normal(size=n)
        assert float(stats.iqm(x)) == pytest.approx(float(metrics.aggregate_iqm(x[:, None])))
        assert float(stats.iqm(x)) == pytest.approx(float(scipy.stats.trim_mean(x, 0.25)))
    x = np.array([0.0, 1.0, 2.0, 3.0, 100.0])  # n = 5: rliable drops whole runs (mean of 1, 2, 3), we weight
    assert float(metrics.aggregate_iqm(x[:, None])) == pytest.approx(2.0)
    assert float(stats.iqm(x)) == pytest.approx(0.3 * 1 + 0.4 * 2 + 0.3 * 3)


def test_below_five_runs_no_interval_and_says_why() -> None:
    for n in (1, 2, 4):
        e = stats.estimate(np.arange(n, dtype=float))
        assert not e.has_interval and e.lo is None and e.hi is None
        assert e.reason == f"n = {n} < 5 seeds: no interval"
        assert e.value == pytest.approx(float(stats.iqm(np.arange(n, dtype=float))))
    e = stats.estimate(np.arange(5, dtype=float))  # negative control: 5 runs get an interval
    assert e.has_interval and e.reason == "" and e.lo is not None and e.hi is not None
    assert e.lo <= e.value <= e.hi
    d = stats.improvement(np.arange(5.0), np.arange(4.0))
    assert not d.has_interval and d.reason == "n = 5, 4: 4 < 5 seeds: no interval"
    assert stats.estimate(np.array([np.nan, 1.0])).n == (1,)  # a run without a return is not a seed of the sample
    assert np.isnan(stats.estimate(np.array([])).value)


def test_stratified_bootstrap_percentiles_match_the_binomial_closed_form() -> None:
    x = np.array([0.0, 0.0, 0.0, 0.0, 1.0])  # K ~ Bin(5, 0.2): P(K = 0) = 0.328, P(K ≤ 2) = 0.942, P(K ≤ 3) = 0.993
    m = stats.estimate(x, stats.mean)
    assert m.value == pytest.approx(0.2) and m.lo == 0.0 and m.hi == pytest.approx(0.6)  # mean = K / 5
    q = stats.estimate(x)  # IQM of K sorted ones at the top: weights 0, .3, .4, .3, 0 → K = 3 gives 0.7
    assert q.value == 0.0 and q.lo == 0.0 and q.hi == pytest.approx(0.7)
    p = stats.performance_profile(x, np.array([-1.0, 0.5, 2.0]))  # fraction above 0.5 is K / 5 again
    np.testing.assert_allclose(p.value, [1.0, 0.2, 0.0])
    assert p.lo is not None and p.hi is not None
    np.testing.assert_allclose(p.lo, [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p.hi, [1.0, 0.6, 0.0])


def test_degenerate_samples_give_degenerate_intervals() -> None:
    c = stats.estimate(np.full(6, 3.5))
    assert (c.value, c.lo, c.hi) == (3.5, 3.5, 3.5)
    d = stats.difference(np.full(5, 2.0), np.full(7, -1.0))
    assert (d.value, d.lo, d.hi) == (3.0, 3.0, 3.0)
    sep = stats.improvement(np.arange(10.0, 15.0), np.arange(5.0))  # every resample stays separated
    assert (sep.value, sep.lo, sep.hi) == (1.0, 1.0, 1.0)


def test_probability_of_improvement_closed_form_symmetry_and_rliable_agreement() -> None:
    from rliable import metrics

    # pairs (x, y) with x > y: (1, 0), (2, 0), (3, 0), (3, 2.5) → 4 of 6
    assert stats.probability_of_improvement(np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.5])) == pytest.approx(4 / 6)
    assert stats.probability_of_improvement(np.array([1.0, 1.0]), np.array([1.0])) == 0.5  # ties count ½
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.normal(size=rng.integers(1, 9)), rng.normal(size=rng.integers(1, 9))
        assert stats.probability_of_improvement(x, y) + stats.probability_of_improvement(y, x) == pytest.approx(1.0)
        xi, yi = rng.integers(0, 3, size=6).astype(float), rng.integers(0, 3, size=4).astype(float)  # with ties
        assert stats.pairwise_improvement(xi, yi) == pytest.approx(
            float(metrics.probability_of_improvement(xi[:, None], yi[:, None])))
        assert stats.pairwise_improvement(xi, yi) + stats.pairwise_improvement(yi, xi) == pytest.approx(1.0)
    x, y = rng.normal(size=7), rng.normal(size=6) + 0.5
    e = stats.improvement(x, y)
    assert e.has_interval and e.lo is not None and e.hi is not None and 0.0 <= e.lo <= e.value <= e.hi <= 1.0
    assert e.value + stats.improvement(y, x).value == pytest.approx(1.0)


def test_estimates_are_reproducible_and_leave_the_global_generator_alone() -> None:
    x = np.random.default_rng(1).normal(size=8)
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    a = stats.estimate(x, seed=4)
    assert np.random.random() == before
    assert stats.estimate(x, seed=4) == a
    assert stats.estimate(x, seed=4, reps=50) != stats.estimate(x, seed=5, reps=50)  # 10 000: same percentiles


def test_band_pointwise_and_below_five_runs_none() -> None:
    curves = np.tile(np.linspace(0.0, 1.0, 6), (5, 1))
    curves[1:, 0] = np.nan  # at the first point only one run has a return
    b = stats.band(curves)
    assert b.lo is not None and b.hi is not None and b.n == 5
    assert np.isnan(b.lo[0]) and b.value[0] == 0.0
    np.testing.assert_allclose(b.lo[1:], curves[0, 1:])  # identical runs: the band is the curve
    np.testing.assert_allclose(b.hi[1:], curves[0, 1:])
    few = stats.band(curves[:3])
    assert few.lo is None and few.reason == "n = 3 < 5 seeds: no interval"
