"""Choosing instead of changing: how much of RL's pass@1 gain format forcing recovers (pure).

Inputs are per-problem correctness (1/0, or a reward in [0, 1]) of three policies on the *same*
problems, in the same order: the base model as it answers, the base with every answer started in
one format (``rl_lab.core.forcing``), and the RL-tuned model.

    gain      = mean(tuned) - mean(base)          what RL bought
    recovered = mean(forced) - mean(base)         what choosing the format buys, weights untouched
    share     = recovered / gain

The share's interval is a paired percentile bootstrap over problems (one resample draws the same
problems for all three policies). It is reported only when RL's gain is distinguishable from 0
and positive (its own 95% interval lies above 0): a share of a gain that may be nothing, or of a
loss, is undefined, and the record says so instead of printing a number. A share above 1 means forcing alone did better than
RL; below 0, forcing hurt.

Choosing the best format on the problems it is then scored on flatters it (a winner's curse over
a handful of formats); ``best_format`` therefore picks on one half of the problems and the share
is measured on the other half (``selection: "held-out half"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rl_lab.analysis.intervals import CONFIDENCE, RESAMPLES, Estimate, binomial, paired_difference


def accuracy(values: Sequence[float]) -> Estimate:
    """Mean correctness with its exact binomial interval (values are 0/1) or, for graded rewards,
    the share of fully solved problems."""
    solved = sum(1 for v in values if v >= 1 - 1e-6)
    return binomial(solved, len(values))


def best_format(forced: Mapping[str, Sequence[float]], pick: Sequence[int]) -> str:
    """The forced format with the highest mean on the problems ``pick`` (ties: the first declared)."""
    if not forced:
        raise ValueError("best_format: no forced format")
    return max(forced, key=lambda label: float(np.mean([forced[label][i] for i in pick])) if pick else 0.0)


def halves(n: int) -> tuple[list[int], list[int]]:
    """Even-indexed problems choose the format, odd-indexed ones measure it (problem sets interleave
    levels and families in a fixed order, so both halves cover every cell)."""
    return list(range(0, n, 2)), list(range(1, n, 2))


def share_recovered(base: Sequence[float], forced: Sequence[float], tuned: Sequence[float],
                    confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """Gain, recovered gain and their ratio with a paired bootstrap over problems (see module doc)."""
    return share_of_gain(base, tuned, base, forced, confidence, resamples, seed, what="forcing")


def share_of_gain(base: Sequence[float], tuned: Sequence[float], before: Sequence[float], after: Sequence[float],
                  confidence: float = CONFIDENCE, resamples: int = RESAMPLES, seed: int = 0,
                  what: str = "the other change") -> dict[str, Any]:
    """``(mean(after) - mean(before)) / (mean(tuned) - mean(base))``: the share of RL's gain (base ->
    tuned) that another change (before -> after) reaches, all four on the same problems in the same
    order; paired percentile bootstrap over problems (one resample draws the same problems for all).

    Forcing: before = base, after = the base forced. Proxy-tuning onto another base: before = that
    base, after = it proxy-tuned with (tuned, base). Undefined (``share`` None, ``why_no_share``) when
    RL's gain is not distinguishable from 0 or is a loss.
    """
    b, t, x0, x1 = (np.asarray(v, dtype=float) for v in (base, tuned, before, after))
    if not (len(b) == len(t) == len(x0) == len(x1)) or len(b) == 0:
        raise ValueError("share_of_gain: base, tuned, before and after need the same, non-empty problems")
    gain = paired_difference([list(b)], [list(t)], confidence, resamples, seed)
    recovered = paired_difference([list(x0)], [list(x1)], confidence, resamples, seed)
    out: dict[str, Any] = {"problems": len(b), "gain": gain.to_dict(), "recovered": recovered.to_dict(),
                           "share": None, "share_interval": None}
    if gain.low <= 0 <= gain.high:
        out["why_no_share"] = (f"RL's gain {gain.value:+.3f} has a 95% interval [{gain.low:+.3f}, {gain.high:+.3f}] "
                               "that includes 0: the share of it is undefined")
        return out
    if gain.high < 0:
        out["why_no_share"] = (f"RL lost accuracy ({gain.value:+.3f}, 95% interval [{gain.low:+.3f}, {gain.high:+.3f}]): "
                               f"there is no gain to recover; {what} changed accuracy by "
                               f"{recovered.value:+.3f} [{recovered.low:+.3f}, {recovered.high:+.3f}]")
        return out
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(b), size=(resamples, len(b)))
    gains = t[idx].mean(axis=1) - b[idx].mean(axis=1)
    recs = x1[idx].mean(axis=1) - x0[idx].mean(axis=1)
    ok = np.abs(gains) > 1e-12  # resamples where the gain vanished have no ratio
    ratios = recs[ok] / gains[ok]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(ratios, [alpha, 1 - alpha])
    value = float((x1.mean() - x0.mean()) / (t.mean() - b.mean()))
    out["share"] = value
    out["share_interval"] = Estimate(value, float(low), float(high), len(b), 1,
                                     f"paired percentile bootstrap over problems, {int(ok.sum())} of {resamples} "
                                     "resamples with a non-zero gain", confidence).to_dict()
    return out
