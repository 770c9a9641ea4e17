"""Verdicts of the claims atlas: each literature claim decided from measured numbers and their intervals.

Pure functions (no files, no models): ``rl_lab.report.atlas`` gathers each study's numbers from its
analysis JSONs and calls these. A verdict is about the claim *as the literature states it*:
``appeared`` (our interval shows it), ``did not appear`` (our interval excludes it, beyond the
stated margin) or ``inconclusive``; ``agrees`` says whether that matches the paper (None when
inconclusive). Every number carries its interval (``rl_lab.analysis.intervals``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from rl_lab.analysis.intervals import Estimate, Verdict, correlation, describe, verdict


@dataclass(frozen=True)
class Claim:
    verdict: Verdict
    summary: str  # one sentence, worded by the interval
    numbers: list[tuple[str, str]] = field(default_factory=list)  # (what, value with interval)
    from_paper: bool = True  # False: a condition of our own (an ablation arm), with no paper to agree with

    @property
    def agrees(self) -> bool | None:
        if not self.from_paper or self.verdict == "inconclusive":
            return None
        return self.verdict == "appeared"


def _pp(est: Estimate) -> str:
    return describe(est, scale=100, unit=" pp", digits=1, signed=True, of="problems")


# =========================================================================== precision decides sparsity
@dataclass(frozen=True)
class PrecisionArm:
    dtype: str  # the dtype the weights were trained (stored) in
    learning_rate: float
    changed: Sequence[float]  # per seed: share of parameters whose stored value changed (exact)
    cast_changed: Sequence[float]  # per seed: share changed after casting base and tuned to bf16
    predicted: float  # share whose bf16 half-spacing is at most the step size (analysis.precision)
    overlap: Sequence[tuple[float, float]] = ()  # per seed pair: (observed overlap, chance overlap)


def precision_claim(arms: Sequence[PrecisionArm], sparse_share: float) -> Claim:
    """'Update sparsity is bf16 rounding': appeared when some learning rate leaves bf16-stored weights
    sparse (every seed below ``sparse_share`` changed) while fp32 weights at that rate are dense;
    did not appear when no bf16 arm is sparse, or fp32 is as sparse wherever bf16 is."""
    by_lr: dict[float, dict[str, PrecisionArm]] = {}
    for arm in arms:
        by_lr.setdefault(arm.learning_rate, {})[arm.dtype] = arm
    numbers, shown = [], []
    for lr in sorted(by_lr):
        pair = by_lr[lr]
        for dtype in ("float32", "bfloat16"):
            if dtype in pair:
                a = pair[dtype]
                numbers.append((f"lr {lr:g}, {dtype} weights: changed", _range(a.changed)))
                if dtype == "float32":
                    numbers.append((f"lr {lr:g}, float32 read through a bf16 cast: changed", _range(a.cast_changed)))
        numbers.append((f"lr {lr:g}: predicted changeable in bf16 (share whose half-spacing <= lr)",
                        f"{next(iter(pair.values())).predicted:.3f}"))
    sparse_lrs = [lr for lr, p in by_lr.items() if "bfloat16" in p and max(p["bfloat16"].changed) < sparse_share]
    dense_fp32 = [lr for lr in sparse_lrs if "float32" in by_lr[lr] and min(by_lr[lr]["float32"].changed) >= sparse_share]
    bf16 = [a for a in arms if a.dtype == "bfloat16"]
    if bf16:
        err = sum(abs(sum(a.changed) / len(a.changed) - a.predicted) for a in bf16) / len(bf16)
        numbers.append(("mean |measured - predicted| over bf16 arms", f"{err:.3f} (share of parameters)"))
        shown = [f"{a.learning_rate:g}" for a in bf16 if a.learning_rate in sparse_lrs]
    for arm in bf16:
        if arm.overlap and arm.learning_rate in sparse_lrs:
            obs = sum(o for o, _ in arm.overlap) / len(arm.overlap)
            chance = sum(c for _, c in arm.overlap) / len(arm.overlap)
            numbers.append((f"lr {arm.learning_rate:g}, bf16: seed overlap observed vs chance",
                            f"{obs:.3f} vs {chance:.3f} ({len(arm.overlap)} seed pairs; the reference: 0.605 vs 0.367)"))
    if dense_fp32:
        return Claim("appeared", f"at learning rate {', '.join(shown)} bf16-stored weights stayed sparse (every seed "
                     f"< {sparse_share:.0%} changed) while fp32 weights at the same rate changed almost everywhere: "
                     "the sparsity is a property of the storage precision", numbers)
    if not sparse_lrs:
        return Claim("did not appear", f"no arm was sparse: every bf16 arm changed at least {sparse_share:.0%} of its "
                     "parameters in some seed", numbers)
    return Claim("did not appear", "where bf16 weights were sparse, fp32 weights were sparse too: precision "
                 "does not explain the sparsity here", numbers)


def _range(values: Sequence[float]) -> str:
    vals = list(values)
    return f"{sum(vals) / len(vals):.3f} [{min(vals):.3f}, {max(vals):.3f}] (range over {len(vals)} seeds, exact)"


# =========================================================================== format collapse
@dataclass(frozen=True)
class CollapseRun:
    condition: str  # e.g. "tiny, beta 0"
    size: str
    beta: float
    seed: int
    collapsed: bool
    step: int | None
    winner: str | None
    final_top: str | None  # the most frequent format over the final window
    minority: Sequence[float]  # per final-window rollout: 1 when not in the run's top format


def format_collapse_claim(runs: Sequence[CollapseRun], steps: int, kl_margin: float = 0.05,
                          ) -> tuple[Claim, Claim, Claim]:
    """Three claims: collapse happens without KL (the share of runs collapsed, exact binomial interval,
    above one half); KL keeps minority formats (the minority-format share rises with beta by more than
    ``kl_margin``, bootstrap over seeds then rollouts); the winner depends on scale (unanimous winners
    that differ between sizes)."""
    from rl_lab.analysis.intervals import binomial, difference

    free = [r for r in runs if r.beta == 0]
    k = sum(r.collapsed for r in free)
    rate = binomial(k, len(free))
    nums = [(f"{r.condition} seed {r.seed}", f"collapse at step {r.step} ({r.winner})" if r.collapsed
             else f"no collapse in {steps} steps (top format {r.final_top})") for r in runs]
    collapse = Claim(
        "appeared" if rate.low > 0.5 else "did not appear" if rate.high < 0.5 else "inconclusive",
        f"{k} of {len(free)} runs without KL collapsed within {steps} steps; share collapsed "
        f"{describe(rate, of='runs')}", nums)
    betas = sorted({r.beta for r in runs})
    kl_nums, kl_verdicts = [], []
    for size in sorted({r.size for r in runs}):
        base = sorted((r for r in runs if r.size == size and r.beta == 0), key=lambda r: r.seed)
        for beta in betas[1:]:
            arm = sorted((r for r in runs if r.size == size and r.beta == beta), key=lambda r: r.seed)
            if len(arm) != len(base) or not arm:
                continue
            est = difference([list(r.minority) for r in base], [list(r.minority) for r in arm])
            kl_verdicts.append(verdict(est, +1, kl_margin))
            kl_nums.append((f"{size}: minority-format share, beta {beta:g} minus beta 0", _pp(est).replace("problems", "rollouts")))
    kl = Claim(_combine(kl_verdicts), "KL anchor and minority formats: " + (", ".join(kl_verdicts) or "not measured"),
               kl_nums)
    winners = {size: Counter(r.final_top for r in runs if r.size == size and r.beta == 0) for size in sorted({r.size for r in runs})}
    tops = {size: c.most_common(1)[0] for size, c in winners.items() if c}
    unanimous = all(n == sum(winners[s].values()) for s, (_, n) in tops.items())
    if len(tops) < 2:
        scale = Claim("inconclusive", "one model size only", [])
    elif unanimous and len({w for w, _ in tops.values()}) > 1:
        scale = Claim("appeared", "the winning format differed between sizes, unanimously over seeds",
                      [(s, dict(c).__repr__()) for s, c in winners.items()])
    elif unanimous:
        scale = Claim("did not appear", "every seed of every size ended with the same top format",
                      [(s, dict(c).__repr__()) for s, c in winners.items()])
    else:
        scale = Claim("inconclusive", "seeds of one size disagree on the winner", [(s, dict(c).__repr__()) for s, c in winners.items()])
    return collapse, kl, scale


def _combine(verdicts: Sequence[Verdict]) -> Verdict:
    if verdicts and all(v == "appeared" for v in verdicts):
        return "appeared"
    if verdicts and all(v == "did not appear" for v in verdicts):
        return "did not appear"
    return "inconclusive"


# =========================================================================== exposure: creation or elicitation
@dataclass(frozen=True)
class ExposurePoint:
    exposure: float  # share of the skill in its family's pretraining documents
    base_pass1: Estimate
    base_passk: Estimate
    gain_pass1: Estimate  # tuned - base, paired over seeds and problems
    gain_passk: Estimate
    k: int


def exposure_claim(points: Sequence[ExposurePoint], margin: float) -> Claim:
    """'RL amplifies, it does not create': appeared when RL gains nothing in pass@k where pretraining never
    showed the skill and gains in pass@1 where it showed it a little; did not appear when RL creates
    coverage at zero exposure."""
    pts = sorted(points, key=lambda p: p.exposure)
    nums = []
    for p in pts:
        nums += [(f"exposure {p.exposure:.1%}: base pass@1 / pass@{p.k}", f"{p.base_pass1.value:.3f} / {p.base_passk.value:.3f}"),
                 (f"exposure {p.exposure:.1%}: RL gain pass@1", _pp(p.gain_pass1)),
                 (f"exposure {p.exposure:.1%}: RL gain pass@{p.k}", _pp(p.gain_passk))]
    zero = [p for p in pts if p.exposure == 0]
    seen = [p for p in pts if p.exposure > 0]
    if not zero or not seen:
        return Claim("inconclusive", "needs a zero-exposure base and at least one exposed base", nums)
    created = verdict(zero[0].gain_passk, +1, margin)
    amplified = [verdict(p.gain_pass1, +1, margin) for p in seen]
    if created == "appeared":
        return Claim("did not appear", f"RL raised pass@{zero[0].k} on a skill the base never saw in pretraining "
                     f"({_pp(zero[0].gain_passk)}): it created coverage", nums)
    # The paper's condition: the task at the edge of competence. A base whose pass@1 is within the margin
    # of 0 gives GRPO groups with (almost) no success, hence no gradient: no test of amplification.
    if all(p.base_pass1.high <= margin for p in seen) and "appeared" not in amplified:
        return Claim("inconclusive", f"no exposed base was at the edge of competence (pass@1 within the margin of 0 at "
                     f"every exposure; pass@{pts[0].k} at most {max(p.base_passk.value for p in seen):.3f}): GRPO's "
                     "groups almost never held a success, so amplification was never put to the test", nums)
    if created == "did not appear" and "appeared" in amplified:
        rose = [f"{p.exposure:.1%}" for p, a in zip(seen, amplified, strict=True) if a == "appeared"]
        flat = [f"{p.exposure:.1%}" for p, a in zip(seen, amplified, strict=True) if a != "appeared"]
        return Claim("appeared", "RL added no coverage where pretraining never showed the skill, and raised pass@1 "
                     f"at exposure {', '.join(rose)}" + (f" (not at {', '.join(flat)})" if flat else ""), nums)
    if created == "did not appear" and all(a == "did not appear" for a in amplified):
        return Claim("did not appear", "RL gained on no exposure level: nothing to amplify at this budget", nums)
    return Claim("inconclusive", "the intervals of the gains straddle the margin", nums)


# =========================================================================== why hard-only RL damages prior skills
def hard_only_claims(prior_change: dict[str, Estimate], margin: float, reference: str = "hard_only",
                     control: str = "matched") -> tuple[Claim, dict[str, Verdict]]:
    """Prior-skill change per arm. The claim (hard-only RL damages prior skills; the control's verdict is
    printed beside it) and, per arm, whether the loss appeared (a cause removed when it did not)."""
    per_arm = {arm: verdict(est, -1, margin) for arm, est in prior_change.items()}
    nums = [(f"{arm}: prior-skill accuracy change", _pp(est)) for arm, est in prior_change.items()]
    ref, ctl = per_arm.get(reference), per_arm.get(control)
    # the claim is about the reference arm; the control is reported beside it, not required
    words = {"appeared": f"{reference} lost prior-skill accuracy beyond the margin",
             "did not appear": f"{reference} lost no prior-skill accuracy beyond the margin",
             "inconclusive": f"{reference}'s interval straddles the margin"}
    claim = Claim(ref or "inconclusive", f"{words[ref or 'inconclusive']}; {control}: {ctl}", nums)
    return claim, per_arm


# =========================================================================== easy-to-hard generalisation
def easy_to_hard_claim(change_by_level: dict[int, Estimate], margin: float) -> Claim:
    """'RL on easy levels generalises to harder ones': pass@1 change on each held-out level."""
    verdicts = [verdict(est, +1, margin) for est in change_by_level.values()]
    nums = [(f"held-out level {lv}: pass@1 change", _pp(est)) for lv, est in sorted(change_by_level.items())]
    v = "appeared" if "appeared" in verdicts else _combine(verdicts)
    words = {"appeared": "accuracy rose on a level RL never trained on",
             "did not appear": "no held-out level improved beyond the margin",
             "inconclusive": "the held-out changes straddle the margin"}
    return Claim(v, words[v], nums)


# =========================================================================== drift against forgetting
def drift_claim(kl: Sequence[float], weight_change: Sequence[float], prior_change: Sequence[float],
                min_r: float = 0.3) -> Claim:
    """RL's Razor: forward KL on the trained task predicts forgetting, weight change does not. Pearson r
    across all runs (Fisher-z interval) for both predictors; appeared when KL's correlation with the
    prior-skill change is negative beyond ``min_r`` and its r² exceeds weight change's."""
    import math
    import warnings

    if len(kl) < 3 or not len(kl) == len(weight_change) == len(prior_change):
        raise ValueError("drift_claim: needs at least three runs, each with a KL, a weight change and a prior change")
    if len({*prior_change}) < 2 or len({*kl}) < 2:
        return Claim("inconclusive", "a correlation is undefined: the prior-skill change (or the KL) was the same "
                     f"in all {len(kl)} runs", [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant weight change: r is NaN, handled below
        r_kl = correlation(kl, prior_change)
        r_w = correlation(weight_change, prior_change)
    if not math.isfinite(r_w.value):
        r_w = Estimate(0.0, float("nan"), float("nan"), len(kl), None, "undefined: constant weight change")
    nums = [("forward KL vs prior-skill change: r", describe(r_kl, of="runs") + f"; R² {r_kl.value ** 2:.2f}"),
            ("weight change (L2 norm of the update) vs prior-skill change: r", describe(r_w, of="runs") + f"; R² {r_w.value ** 2:.2f}")]
    kl_predicts = r_kl.high < -min_r
    if kl_predicts and r_kl.value ** 2 > r_w.value ** 2:
        return Claim("appeared", "forward KL predicts the prior-skill loss across runs, better than weight change", nums)
    if r_kl.low > -min_r:
        return Claim("did not appear", "forward KL does not predict the prior-skill loss across runs", nums)
    if kl_predicts:
        return Claim("did not appear", "KL predicts the loss, but weight change predicts it as well or better", nums)
    return Claim("inconclusive", "the interval of the KL correlation straddles the margin", nums)


def crossover_claim(statuses: Sequence[str]) -> Claim:
    """'The base catches up with the RL model at large k' (Yue et al.), among the tuned models that RL put
    ahead at the smallest k (status ``crosses`` or ``never`` of ``analysis.passk.crossover``; a model the base
    leads from k = 1 has nothing to overtake). Appeared when the exact binomial interval of the share that
    crosses lies above one half, did not appear when below."""
    from rl_lab.analysis.intervals import binomial

    counts = Counter(statuses)
    nums = [(status, str(n)) for status, n in sorted(counts.items())]
    crosses, ahead = counts.get("crosses", 0), counts.get("crosses", 0) + counts.get("never", 0)
    if not ahead:
        return Claim("inconclusive", "no tuned model was ahead of its base at the smallest k", nums)
    share = binomial(crosses, ahead)
    v: Verdict = "appeared" if share.low > 0.5 else "did not appear" if share.high < 0.5 else "inconclusive"
    return Claim(v, f"{crosses} of the {ahead} tuned models ahead of their base at k = 1 are caught up by the base "
                 f"at a larger k: share {describe(share, of='models')} ({counts.get('base_ahead_from_start', 0)} more "
                 "trailed their base from k = 1)", nums)
