"""95% intervals for every headline number, and findings worded by their interval.

- A proportion of independent trials (accuracy on n problems, one checkpoint): the exact
  binomial interval (Clopper-Pearson), from scipy.
- A mean over seeds of per-problem values (accuracy change, pass@k, KL): a two-level bootstrap
  that resamples seeds, then problems within each resampled seed, so the interval carries both
  the seed-to-seed spread and the finite probe set. scipy's ``bootstrap`` resamples observations
  independently and has no cluster (two-level) mode, hence the few lines of numpy here.
- A verdict: "appeared" when the interval lies beyond the null in the direction the literature
  predicts, "did not appear" when it lies inside the margin around the null or on the other side,
  "inconclusive" otherwise. Never a point estimate alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

Verdict = Literal["appeared", "did not appear", "inconclusive"]
CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval and what it rests on."""

    value: float
    low: float
    high: float
    n: int  # observations: problems (x seeds), or seeds
    seeds: int | None
    method: str
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


def binomial(successes: int, trials: int, confidence: float = CONFIDENCE) -> Estimate:
    """Share of successes with the exact (Clopper-Pearson) interval."""
    from scipy.stats import binomtest

    if trials <= 0:
        raise ValueError("binomial: needs at least one trial")
    if not 0 <= successes <= trials:
        raise ValueError(f"binomial: {successes} successes out of {trials} trials")
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="exact")
    return Estimate(successes / trials, float(ci.low), float(ci.high), int(trials), None,
                    "exact binomial (Clopper-Pearson)", confidence)


def seeds_bootstrap(per_seed: Sequence[Sequence[float]], confidence: float = CONFIDENCE,
                    resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """Mean over seeds of the mean over problems, with a two-level percentile bootstrap.

    ``per_seed[i]`` holds one value per problem for seed i (e.g. 1/0 correctness, a per-problem
    accuracy change, a pass@k estimate). With one seed only problems are resampled (the interval
    then says nothing about seed variance, and ``seeds`` records that).
    """
    groups = [np.asarray(v, dtype=float) for v in per_seed if len(v)]
    if not groups:
        raise ValueError("seeds_bootstrap: no values")
    point = float(np.mean([g.mean() for g in groups]))
    n = sum(len(g) for g in groups)
    if all(len(g) == 1 for g in groups) and len(groups) == 1:
        return Estimate(point, point, point, n, 1, "single value: no interval", confidence)
    rng = np.random.default_rng(seed)
    stats = np.empty(resamples)
    k = len(groups)
    for b in range(resamples):
        picked = rng.integers(0, k, size=k) if k > 1 else np.zeros(1, dtype=int)
        means = [groups[i][rng.integers(0, len(groups[i]), size=len(groups[i]))].mean() for i in picked]
        stats[b] = np.mean(means)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    how = "seeds, then problems within seed" if k > 1 else "problems (one seed)"
    return Estimate(point, float(low), float(high), n, k,
                    f"percentile bootstrap over {how}, {resamples} resamples", confidence)


def paired_difference(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]],
                      confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """Mean over seeds of (after - before) on the same problems, with the two-level bootstrap."""
    if len(before) != len(after):
        raise ValueError("paired_difference: before and after need the same seeds")
    diffs = []
    for b, a in zip(before, after, strict=True):
        if len(b) != len(a):
            raise ValueError("paired_difference: before and after need the same problems per seed")
        diffs.append([y - x for x, y in zip(b, a, strict=True)])
    return seeds_bootstrap(diffs, confidence, resamples, seed)


def verdict(estimate: Estimate, expected_sign: int, margin: float = 0.0, null: float = 0.0) -> Verdict:
    """Word a finding by its interval.

    ``expected_sign``: +1 if the literature predicts an effect above ``null``, -1 below.
    In units of the predicted effect e = (x - null) x expected_sign, with interval [lo, hi]:
    appeared when lo > margin (the whole interval shows an effect larger than the margin);
    did not appear when hi <= margin (any effect is smaller than the margin, or opposite);
    inconclusive otherwise (the interval straddles the margin).
    """
    if expected_sign not in (-1, 1):
        raise ValueError("expected_sign must be +1 or -1")
    ends = sorted(((estimate.low - null) * expected_sign, (estimate.high - null) * expected_sign))
    if ends[0] > margin:
        return "appeared"
    if ends[1] <= margin:
        return "did not appear"
    return "inconclusive"


def describe(estimate: Estimate, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
    """``0.31 [0.25, 0.38] (n = 256 problems, 3 seeds)``: the number as reports print it."""
    def fmt(x: float) -> str:
        return f"{x * scale:.{digits}f}{unit}" if math.isfinite(x) else "–"

    rest = f"n = {estimate.n}" + (f", {estimate.seeds} seed{'s' if estimate.seeds != 1 else ''}" if estimate.seeds else "")
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}] ({rest})"
