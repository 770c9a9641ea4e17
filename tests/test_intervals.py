"""Intervals: exact binomial against known values, the two-level bootstrap's coverage, verdict wording."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rl_lab.analysis.intervals import (
    Estimate,
    binomial,
    correlation,
    describe,
    difference,
    flags,
    paired_difference,
    seed_range,
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


# --------------------------------------------------------------------------- the additions
def test_weighted_bootstrap_is_total_over_total():
    """KL per token = total KL / total tokens: per-prompt values weighted by their tokens."""
    values, tokens = [0.1, 0.4, 0.2], [10.0, 30.0, 60.0]  # KL sums 1, 12, 12 over 100 tokens
    est = seeds_bootstrap([values], weights=[tokens])
    assert est.value == pytest.approx(25 / 100)
    assert est.low < est.value < est.high and est.seeds == 1
    flat = seeds_bootstrap([[0.3] * 5], weights=[[1, 2, 3, 4, 5]])
    assert (flat.low, flat.high) == pytest.approx((0.3, 0.3))  # equal per-token KL everywhere: no spread
    with pytest.raises(ValueError):
        seeds_bootstrap([[1.0]], weights=[[0.0]])


def test_crossed_bootstrap_keeps_the_shared_problems_correlated():
    """Two seeds that answered the same problems identically: sharing the problem draw (crossed) gives
    the one-seed width; resampling each seed's problems independently would shrink it by about 1/sqrt(2)."""
    rng = np.random.default_rng(3)
    one = rng.binomial(1, 0.5, size=200).astype(float)
    alone = seeds_bootstrap([one])
    crossed = seeds_bootstrap([one, one], crossed=True)
    nested = seeds_bootstrap([one, one])
    width = lambda e: e.high - e.low  # noqa: E731
    assert width(crossed) == pytest.approx(width(alone), rel=0.15)
    assert width(nested) < 0.85 * width(crossed)
    with pytest.raises(ValueError):
        seeds_bootstrap([[1, 0], [1]], crossed=True)


def test_difference_of_two_draws():
    every = difference([[0.0] * 10], [[1.0] * 10])
    assert (every.value, every.low, every.high) == (1.0, 1.0, 1.0)
    half = difference([[0.0, 1.0] * 20, [0.0, 1.0] * 20], [[1.0] * 40, [1.0, 1.0, 1.0, 0.0] * 10])
    assert half.value == pytest.approx((0.5 + 0.25) / 2) and half.seeds == 2 and half.n == 160
    assert half.low < half.value < half.high
    lone = difference([[0.2]], [[0.5]])
    assert not lone.has_interval and lone.value == pytest.approx(0.3)
    assert describe(lone) == "0.30 (n = 2, 1 seed: no interval)"


def test_seed_range_is_a_range_and_says_so():
    est = seed_range([0.2, 0.3, 0.25])
    assert (est.value, est.low, est.high, est.n) == (pytest.approx(0.25), 0.2, 0.3, 3) and est.is_range
    assert describe(est, 100, "%", 0) == "25% [20%, 30%] (range over 3 seeds, exact: no sampling)"
    assert verdict(est, -1, null=0.5) == "appeared" and verdict(seed_range([0.4, 0.6]), -1, null=0.5) == "inconclusive"


def test_correlation_uses_the_fisher_interval():
    xs, ys = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.0, -0.1, -0.15, -0.3, -0.35, -0.5]
    est = correlation(xs, ys)
    r = float(np.corrcoef(xs, ys)[0, 1])
    half = 1.959964 / math.sqrt(len(xs) - 3)
    assert est.value == pytest.approx(r)
    assert (est.low, est.high) == pytest.approx((math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)), abs=1e-4)
    assert verdict(est, -1) == "appeared"
    assert correlation([1, 2, 3], [3, 1, 2]).low == pytest.approx(-1.0)  # three runs: no information
    with pytest.raises(ValueError):
        correlation([1, 2], [2, 1])


def test_estimates_round_trip_through_json():
    est = binomial(3, 8)
    assert Estimate.from_dict(json.loads(json.dumps(est.to_dict()))) == est
    assert Estimate.from_dict(None) is None and Estimate.from_dict({"value": 1}) is None
    assert Estimate.from_dict({**est.to_dict(), "low": "x"}) is None
    assert flags(2, 5) == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_describe_names_what_n_counts_and_signs_changes():
    est = Estimate(-0.203, -0.312, -0.091, 64, 2, "test")
    assert describe(est, 100, " pp", 1, of="probes", signed=True) == "−20.3 pp [−31.2 pp, −9.1 pp] (n = 64 probes, 2 seeds)"
