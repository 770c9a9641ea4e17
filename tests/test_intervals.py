"""Intervals: exact binomial against known values, the two-level bootstrap's coverage, verdict wording."""

from __future__ import annotations

import numpy as np
import pytest

from rl_lab.analysis.intervals import (
    Estimate,
    binomial,
    describe,
    paired_difference,
    seeds_bootstrap,
    verdict,
)


def test_binomial_matches_the_clopper_pearson_table():
    est = binomial(7, 10)
    # Clopper-Pearson for 7/10 at 95%: [0.3475, 0.9333] (standard tables)
    assert est.value == 0.7 and est.low == pytest.approx(0.3475, abs=1e-4) and est.high == pytest.approx(0.9333, abs=1e-4)
    assert binomial(0, 20).low == 0.0 and binomial(20, 20).high == 1.0
    with pytest.raises(ValueError):
        binomial(3, 2)


def test_two_level_bootstrap_covers_the_truth_about_95_percent():
    """Simulated seeds whose true accuracies scatter around 0.6: the interval of the mean covers 0.6
    in about 95% of repetitions (checked on 200; binomial noise allows 88%..99%)."""
    rng = np.random.default_rng(1)
    covered = 0
    for rep in range(200):
        seed_acc = np.clip(rng.normal(0.6, 0.05, size=4), 0, 1)
        per_seed = [rng.binomial(1, p, size=50) for p in seed_acc]
        est = seeds_bootstrap(per_seed, resamples=400, seed=rep)
        covered += est.contains(0.6)
    assert 0.88 <= covered / 200 <= 0.995


def test_seed_spread_widens_the_interval():
    same = [[1, 0] * 25] * 3
    spread = [[1] * 45 + [0] * 5, [1, 0] * 25, [1] * 5 + [0] * 45]
    a, b = seeds_bootstrap(same), seeds_bootstrap(spread)
    assert a.value == pytest.approx(b.value)
    assert (b.high - b.low) > 2 * (a.high - a.low)
    assert b.seeds == 3 and b.n == 150


def test_paired_difference_is_after_minus_before():
    before = [[1, 1, 0, 0]] * 3
    after = [[0, 0, 0, 0]] * 3
    est = paired_difference(before, after)
    assert est.value == pytest.approx(-0.5)
    assert est.high < 0


@pytest.mark.parametrize(("low", "high", "sign", "margin", "expected"), [
    (-0.30, -0.10, -1, 0.0, "appeared"),        # a loss, predicted as a loss
    (-0.30, 0.05, -1, 0.0, "inconclusive"),      # straddles zero
    (0.01, 0.20, -1, 0.0, "did not appear"),     # the opposite of the predicted loss
    (-0.02, 0.01, -1, 0.03, "did not appear"),   # within the margin of no effect
    (-0.05, 0.01, -1, 0.03, "inconclusive"),     # might be a loss beyond the margin
    (0.4, 0.6, 1, 0.1, "appeared"),
])
def test_verdicts_follow_the_interval(low, high, sign, margin, expected):
    est = Estimate((low + high) / 2, low, high, 100, 3, "test")
    assert verdict(est, sign, margin) == expected


def test_describe_prints_value_interval_and_support():
    est = Estimate(0.3125, 0.25, 0.375, 256, 3, "test")
    assert describe(est) == "0.31 [0.25, 0.38] (n = 256, 3 seeds)"
    assert describe(est, scale=100, unit="%", digits=0) == "31% [25%, 38%] (n = 256, 3 seeds)"
