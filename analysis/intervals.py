"""95% intervals for every headline number, and findings worded by their interval.

- A proportion of independent trials (accuracy on n problems, one checkpoint; a format's share
  among a run's last rollouts): the exact binomial interval (Clopper-Pearson), from scipy.
- A mean over seeds of per-problem values (accuracy change, pass@k, KL): a two-level bootstrap
  that resamples seeds, then problems within each resampled seed, so the interval carries both
  the seed-to-seed spread and the finite probe set. When every seed answered the *same* problems
  (pass@k: one problem set for all models) the problem draw is shared by the seeds of a resample
  (``crossed``), so a hard problem counts against every seed at once. scipy's ``bootstrap``
  resamples observations independently and has no cluster (two-level) mode, hence the numpy here.
- A ratio of sums (KL per token = KL summed over sequences / their tokens): the same bootstrap
  with ``weights``; each seed's statistic is sum(w·v) / sum(w).
- An exact quantity measured once per seed (share of parameters changed, IoU of two update sets):
  no sampling error to put an interval on; ``seed_range`` reports the range over seeds and says so.
- A correlation across runs: Pearson r with scipy's Fisher-z interval.
- A verdict: "appeared" when the interval lies beyond the null in the direction the literature
  predicts, "did not appear" when it lies inside the margin around the null or on the other side,
  "inconclusive" otherwise. Never a point estimate alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np

Verdict = Literal["appeared", "did not appear", "inconclusive"]
CONFIDENCE = 0.95
RESAMPLES = 2000
SINGLE = "single value: no interval"
RANGE = "range over"  # the method of a seed_range: exact per seed, not a confidence interval
# Resampled indices held at once per group (int64): bounds the bootstrap's memory at ~32 MB.
_CHUNK_ELEMENTS = 1 << 22


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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Estimate | None:
        """The Estimate an analysis JSON stored (``to_dict``); None when absent or malformed."""
        if not isinstance(data, Mapping):
            return None
        names = {f.name for f in fields(cls)}
        try:
            est = cls(**{k: v for k, v in data.items() if k in names})
            return est if all(isinstance(x, int | float) for x in (est.value, est.low, est.high)) else None
        except TypeError:
            return None

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    @property
    def has_interval(self) -> bool:
        """False for a lone observation (no spread to resample)."""
        return self.method != SINGLE

    @property
    def is_range(self) -> bool:
        return self.method.startswith(RANGE)


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


def flags(successes: int, trials: int) -> list[float]:
    """0/1 outcomes with ``successes`` ones: what a bootstrap resamples when only counts were kept."""
    return [1.0] * int(successes) + [0.0] * (int(trials) - int(successes))


# --------------------------------------------------------------------------- the two-level bootstrap
def _arrays(per_seed: Sequence[Sequence[float]], weights: Sequence[Sequence[float]] | None,
            ) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    if weights is not None and len(weights) != len(per_seed):
        raise ValueError("weights: one list per seed")
    keep = [i for i, v in enumerate(per_seed) if len(v)]
    groups = [np.asarray(per_seed[i], dtype=float) for i in keep]
    if weights is None:
        return groups, None
    ws = [np.asarray(weights[i], dtype=float) for i in keep]
    if any(w.shape != g.shape for w, g in zip(ws, groups, strict=True)):
        raise ValueError("weights: one weight per value")
    if any((w <= 0).any() for w in ws):
        raise ValueError("weights must be > 0")
    return groups, ws


def _statistic(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Mean along the last axis, or the weighted mean sum(w·v) / sum(w)."""
    if weights is None:
        return values.mean(axis=-1)
    return (values * weights).sum(axis=-1) / weights.sum(axis=-1)


def _slot_stats(groups: list[np.ndarray], weights: list[np.ndarray] | None, picked: np.ndarray,
                rng: np.random.Generator, crossed: bool) -> np.ndarray:
    """``out[b, j]``: the statistic of seed ``picked[b, j]`` over a fresh resample of its problems
    (``crossed``: one resample per ``b``, shared by every seed)."""
    resamples, k = picked.shape
    out = np.empty((resamples, k))
    if crossed:
        m = len(groups[0])
        if any(len(g) != m for g in groups):
            raise ValueError("crossed bootstrap: every seed needs the same problems")
        idx = rng.integers(0, m, size=(resamples, m))
        per_group = np.stack([_statistic(g[idx], None if weights is None else weights[i][idx])
                              for i, g in enumerate(groups)])  # (groups, resamples)
        return per_group[picked, np.arange(resamples)[:, None]]
    for i, g in enumerate(groups):
        rows, cols = np.nonzero(picked == i)
        step = max(1, _CHUNK_ELEMENTS // len(g))
        for start in range(0, len(rows), step):
            r, c = rows[start:start + step], cols[start:start + step]
            idx = rng.integers(0, len(g), size=(len(r), len(g)))
            out[r, c] = _statistic(g[idx], None if weights is None else weights[i][idx])
    return out


def _picks(k: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, k, size=(resamples, k)) if k > 1 else np.zeros((resamples, 1), dtype=int)


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)


def _how(k: int, crossed: bool, resamples: int) -> str:
    if k == 1:
        how = "problems (one seed)"
    elif crossed:
        how = "seeds, and the shared problems"
    else:
        how = "seeds, then problems within seed"
    return f"percentile bootstrap over {how}, {resamples} resamples"


def seeds_bootstrap(per_seed: Sequence[Sequence[float]], confidence: float = CONFIDENCE,
                    resamples: int = RESAMPLES, seed: int = 0, weights: Sequence[Sequence[float]] | None = None,
                    crossed: bool = False) -> Estimate:
    """Mean over seeds of the mean over problems, with a two-level percentile bootstrap.

    ``per_seed[i]`` holds one value per problem for seed i (e.g. 1/0 correctness, a per-problem
    accuracy change, a pass@k estimate). With one seed only problems are resampled (the interval
    then says nothing about seed variance, and ``seeds`` records that). ``weights``: per-seed
    statistic sum(w·v) / sum(w) instead of the mean. ``crossed``: the seeds answered the same
    problems, in the same order (see module doc).
    """
    groups, ws = _arrays(per_seed, weights)
    if not groups:
        raise ValueError("seeds_bootstrap: no values")
    k = len(groups)
    point = float(np.mean([_statistic(g, None if ws is None else ws[i]) for i, g in enumerate(groups)]))
    n = sum(len(g) for g in groups)
    if k == 1 and len(groups[0]) == 1:
        return Estimate(point, point, point, n, 1, SINGLE, confidence)
    rng = np.random.default_rng(seed)
    stats = _slot_stats(groups, ws, _picks(k, resamples, rng), rng, crossed).mean(axis=1)
    low, high = _percentiles(stats, confidence)
    return Estimate(point, low, high, n, k, _how(k, crossed, resamples), confidence)


def paired_difference(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]],
                      confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0,
                      crossed: bool = False) -> Estimate:
    """Mean over seeds of (after - before) on the same problems, with the two-level bootstrap."""
    if len(before) != len(after):
        raise ValueError("paired_difference: before and after need the same seeds")
    diffs = []
    for b, a in zip(before, after, strict=True):
        if len(b) != len(a):
            raise ValueError("paired_difference: before and after need the same problems per seed")
        diffs.append([y - x for x, y in zip(b, a, strict=True)])
    return seeds_bootstrap(diffs, confidence, resamples, seed, crossed=crossed)


def difference(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]],
               confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0) -> Estimate:
    """Mean over seeds of mean(after) - mean(before) where the two are *different* draws (the first
    and the last logged steps, rollouts of two steps): seeds are resampled together, then each
    side's observations independently within every seed."""
    if len(before) != len(after):
        raise ValueError("difference: before and after need the same seeds")
    pairs = [(np.asarray(b, dtype=float), np.asarray(a, dtype=float)) for b, a in zip(before, after, strict=True)
             if len(b) and len(a)]
    if not pairs:
        raise ValueError("difference: no seed has values on both sides")
    bs, as_ = [b for b, _ in pairs], [a for _, a in pairs]
    k = len(pairs)
    point = float(np.mean([a.mean() - b.mean() for b, a in pairs]))
    n = sum(len(b) + len(a) for b, a in pairs)
    if k == 1 and len(bs[0]) == 1 and len(as_[0]) == 1:
        return Estimate(point, point, point, n, 1, SINGLE, confidence)
    rng = np.random.default_rng(seed)
    picked = _picks(k, resamples, rng)
    stats = (_slot_stats(as_, None, picked, rng, False) - _slot_stats(bs, None, picked, rng, False)).mean(axis=1)
    low, high = _percentiles(stats, confidence)
    how = "seeds, then each side's observations within seed" if k > 1 else "each side's observations (one seed)"
    return Estimate(point, low, high, n, k, f"percentile bootstrap over {how}, {resamples} resamples", confidence)


# --------------------------------------------------------------------------- exact quantities, correlations
def seed_range(values: Sequence[float], what: str = "seeds") -> Estimate:
    """Mean with [min, max] of an exact quantity measured once per seed (or per pair): the
    spread across seeds, not a confidence interval (there is no sampling within a seed)."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        raise ValueError("seed_range: no values")
    return Estimate(float(np.mean(vals)), min(vals), max(vals), len(vals), len(vals) if what == "seeds" else None,
                    f"{RANGE} {len(vals)} {what} (exact per {what[:-1] if what.endswith('s') else what}: no sampling)",
                    1.0)


def correlation(xs: Sequence[float], ys: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """Pearson r across runs with scipy's Fisher-z interval ([-1, 1] for three runs)."""
    from scipy.stats import pearsonr

    if len(xs) != len(ys) or len(xs) < 3:
        raise ValueError("correlation: needs at least three (x, y) pairs")
    res = pearsonr(xs, ys)
    ci = res.confidence_interval(confidence_level=confidence)
    return Estimate(float(res.statistic), float(ci.low), float(ci.high), len(xs), None,
                    "Pearson r, Fisher-z interval (scipy)", confidence)


# --------------------------------------------------------------------------- wording
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


def describe(estimate: Estimate, scale: float = 1.0, unit: str = "", digits: int = 2, of: str = "",
             signed: bool = False) -> str:
    """``0.31 [0.25, 0.38] (n = 256, 3 seeds)``: the number as reports print it.

    ``of`` names what n counts (``n = 64 probes, 2 seeds``); ``signed`` prints changes with a
    sign and a typographic minus (``−20.3 pp [−31.2 pp, −9.1 pp]``). A lone value says it has no
    interval; a ``seed_range`` says it is a range over seeds.
    """
    def fmt(x: float) -> str:
        if not math.isfinite(x):
            return "–"
        text = f"{x * scale:{'+' if signed else ''}.{digits}f}{unit}"
        return text.replace("-", "−") if signed else text

    if estimate.is_range:
        what = estimate.method[len(RANGE):].split("(")[0].strip()
        return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}] (range over {what}, exact: no sampling)"
    noun = f" {of}" if of else ""
    seeds = f", {estimate.seeds} seed{'s' if estimate.seeds != 1 else ''}" if estimate.seeds else ""
    if not estimate.has_interval:
        return f"{fmt(estimate.value)} (n = {estimate.n}{noun}{seeds}: no interval)"
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}] (n = {estimate.n}{noun}{seeds})"
