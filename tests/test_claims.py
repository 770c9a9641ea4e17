"""Known-answer tests of the atlas verdicts (rl_lab.analysis.claims): each claim decided from numbers
whose answer is known, in both directions, and the inconclusive case between."""

from __future__ import annotations

import pytest

from rl_lab.analysis.claims import (
    CollapseRun,
    ExposurePoint,
    PrecisionArm,
    crossover_claim,
    drift_claim,
    easy_to_hard_claim,
    exposure_claim,
    format_collapse_claim,
    hard_only_claims,
    precision_claim,
)
from rl_lab.analysis.intervals import Estimate


def est(value: float, low: float, high: float) -> Estimate:
    return Estimate(value, low, high, 64, 3, "test")


def arm(dtype: str, lr: float, changed: float, predicted: float = 0.2) -> PrecisionArm:
    return PrecisionArm(dtype, lr, [changed] * 3, [min(changed, 0.95)] * 3, predicted, [(0.6, 0.37)] * 3)


def test_precision_appears_when_bf16_is_sparse_and_fp32_dense():
    claim = precision_claim([arm("float32", 1e-6, 1.0), arm("bfloat16", 1e-6, 0.05, 0.06),
                             arm("float32", 1e-4, 1.0), arm("bfloat16", 1e-4, 0.9, 0.85)], sparse_share=0.5)
    assert claim.verdict == "appeared" and claim.agrees is True
    assert any("predicted" in what for what, _ in claim.numbers)
    assert any("seed overlap" in what for what, _ in claim.numbers)


def test_precision_does_not_appear_without_sparsity_or_when_fp32_is_sparse_too():
    dense = precision_claim([arm("float32", 1e-4, 1.0), arm("bfloat16", 1e-4, 0.9)], sparse_share=0.5)
    assert dense.verdict == "did not appear" and dense.agrees is False
    both = precision_claim([arm("float32", 1e-6, 0.1), arm("bfloat16", 1e-6, 0.05)], sparse_share=0.5)
    assert both.verdict == "did not appear"


def run(size: str, beta: float, seed: int, collapsed: bool, top: str, minority: float) -> CollapseRun:
    flags = [1.0] * int(minority * 1000) + [0.0] * (1000 - int(minority * 1000))
    return CollapseRun(f"{size}, beta {beta:g}", size, beta, seed, collapsed, 50 if collapsed else None,
                       top if collapsed else None, top, flags)


def test_collapse_kl_and_scale_known_answers():
    runs = [run(s, b, seed, b == 0, "terse" if s == "tiny" else "steps", 0.02 if b == 0 else 0.3)
            for s in ("nano", "tiny") for b in (0.0, 0.2) for seed in range(3)]
    collapse, kl, scale = format_collapse_claim(runs, steps=200)
    assert collapse.verdict == "appeared"  # 6 of 6 runs without KL collapsed
    assert kl.verdict == "appeared"  # the minority share rose from 2% to 30%
    assert scale.verdict == "appeared"  # terse won at tiny, steps at nano, every seed
    none = [run(s, b, seed, False, "terse", 0.3) for s in ("nano", "tiny") for b in (0.0, 0.2) for seed in range(3)]
    collapse, kl, scale = format_collapse_claim(none, steps=200)
    assert collapse.verdict == "did not appear" and kl.verdict == "did not appear"
    assert scale.verdict == "did not appear"  # same winner at both sizes


def point(exposure: float, gain1: tuple[float, float, float], gaink: tuple[float, float, float]) -> ExposurePoint:
    return ExposurePoint(exposure, est(0.1, 0.05, 0.15), est(0.3, 0.2, 0.4), est(*gain1), est(*gaink), 32)


def test_exposure_amplifies_not_creates():
    zero = point(0.0, (0.0, -0.01, 0.01), (0.0, -0.02, 0.02))
    some = point(0.01, (0.2, 0.1, 0.3), (0.05, -0.05, 0.15))
    assert exposure_claim([zero, some], margin=0.03).verdict == "appeared"
    flat = point(0.001, (0.0, -0.01, 0.01), (0.0, -0.02, 0.02))
    claim = exposure_claim([zero, flat, some], margin=0.03)
    assert claim.verdict == "appeared" and claim.summary.endswith("at exposure 1.0% (not at 0.1%)")
    created = point(0.0, (0.2, 0.1, 0.3), (0.3, 0.2, 0.4))
    assert exposure_claim([created, some], margin=0.03).verdict == "did not appear"
    unclear = point(0.0, (0.0, -0.1, 0.1), (0.02, -0.1, 0.15))
    assert exposure_claim([unclear, some], margin=0.03).verdict == "inconclusive"


def test_hard_only_claim_and_per_arm_verdicts():
    claim, per_arm = hard_only_claims({"matched": est(0.01, -0.03, 0.05), "hard_only": est(-0.2, -0.3, -0.1),
                                       "hard_only_kl": est(0.0, -0.02, 0.02)}, margin=0.05)
    assert claim.verdict == "appeared"
    assert per_arm == {"matched": "did not appear", "hard_only": "appeared", "hard_only_kl": "did not appear"}
    claim, _ = hard_only_claims({"matched": est(0.0, -0.02, 0.02), "hard_only": est(0.0, -0.03, 0.03)}, margin=0.05)
    assert claim.verdict == "did not appear"


def test_easy_to_hard():
    assert easy_to_hard_claim({3: est(0.1, 0.05, 0.15), 4: est(0.0, -0.01, 0.01)}, 0.03).verdict == "appeared"
    assert easy_to_hard_claim({3: est(0.0, -0.01, 0.02), 4: est(0.0, -0.01, 0.01)}, 0.03).verdict == "did not appear"


def test_drift_claim_prefers_the_better_predictor():
    import numpy as np

    rng = np.random.default_rng(0)
    kl = rng.uniform(0, 1, 30)
    prior = -0.3 * kl + rng.normal(0, 0.02, 30)
    noise = rng.uniform(0, 1, 30)
    assert drift_claim(list(kl), list(noise), list(prior)).verdict == "appeared"
    assert drift_claim(list(noise), list(kl), list(prior)).verdict == "did not appear"


def test_claim_agreement_is_none_when_inconclusive():
    claim, _ = hard_only_claims({"matched": est(0.0, -0.1, 0.1), "hard_only": est(-0.05, -0.15, 0.05)}, margin=0.05)
    assert claim.verdict == "inconclusive" and claim.agrees is None


@pytest.mark.parametrize("bad", [[], [1.0]])
def test_drift_claim_needs_three_runs(bad):
    with pytest.raises(ValueError):
        drift_claim(bad, bad, bad)


def test_drift_claim_with_a_constant_input_is_inconclusive():
    claim = drift_claim([0.1, 0.2, 0.3], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert claim.verdict == "inconclusive" and "undefined" in claim.summary


def test_exposure_with_no_base_coverage_is_inconclusive():
    def flat(exposure: float) -> ExposurePoint:
        zero = est(0.0, 0.0, 0.0)
        return ExposurePoint(exposure, zero, zero, zero, zero, 32)

    claim = exposure_claim([flat(0.0), flat(0.01), flat(0.1)], margin=0.02)
    assert claim.verdict == "inconclusive" and "edge of competence" in claim.summary


def test_exposure_with_bases_below_the_edge_of_competence_is_inconclusive():
    """The atlas' level-3 exposure run: bases reach pass@32 0.125 but pass@1 0.004 at 1% and 10% exposure,
    RL (no reward to learn from) gains nothing: that is no test of amplification, not a refutation."""
    zero = est(0.0, 0.0, 0.0)

    def below(exposure: float, gain1: tuple[float, float, float]) -> ExposurePoint:
        return ExposurePoint(exposure, est(0.004, 0.0, 0.012), est(0.125, 0.0, 0.375), est(*gain1),
                             est(-0.04, -0.375, 0.25), 32)

    points = [ExposurePoint(0.0, zero, zero, zero, zero, 32), below(0.01, (-0.004, -0.012, 0.0)),
              below(0.1, (-0.001, -0.012, 0.008))]
    claim = exposure_claim(points, margin=0.03)
    assert claim.verdict == "inconclusive" and "edge of competence" in claim.summary
    # the same bases, but RL raised pass@1 at 10%: amplification did happen, whatever the base's level
    points[-1] = below(0.1, (0.1, 0.05, 0.15))
    assert exposure_claim(points, margin=0.03).verdict == "appeared"


def test_crossover_counts_only_models_rl_put_ahead_and_is_worded_by_its_interval():
    # 31 of 72 cross, but 20 trailed their base from k = 1: 31 of 52 is 0.60 with an interval across one half
    claim = crossover_claim(["crosses"] * 31 + ["never"] * 21 + ["base_ahead_from_start"] * 20)
    assert claim.verdict == "inconclusive" and "31 of the 52" in claim.summary
    assert crossover_claim(["crosses"] * 40 + ["never"] * 5).verdict == "appeared"
    assert crossover_claim(["crosses"] * 5 + ["never"] * 40 + ["base_ahead_from_start"] * 50).verdict == "did not appear"
    assert crossover_claim(["base_ahead_from_start"] * 3).verdict == "inconclusive"
