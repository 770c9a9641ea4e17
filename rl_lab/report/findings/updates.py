"""Which parameters changed: exact counts, so the spread is over checkpoints (seeds), not sampling.

Update sparsity (Mukherjee et al. 2025, "RL fine-tunes small subnetworks"): the share of
parameters changed under the reference criterion is expected below ``report.sparse_share``.
Each share is an exact count over every parameter of one checkpoint; across checkpoints (seeds,
steps) the report gives the range and words the claim by it: "appeared" when every checkpoint is
below, "did not appear" when every one is at or above, "inconclusive" when they disagree.
Overlap of updated sets between checkpoints: IoU / chance IoU (1 = chance) expected above 1;
"appeared" when every pair's ratio exceeds ``report.overlap_ratio``, by the range over pairs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.core.config import ReportConfig
from rl_lab.report.findings.common import DEFAULTS, KINDS, Finding
from rl_lab.report.numbers import dig, fmt_num, fmt_range, mean_of

CHANCE = 1.0  # IoU / chance IoU of independent sets: the null of the overlap claim, by definition


def findings_updates(result: Mapping[str, Any], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    tuned = result.get("tuned") or []
    if not tuned:
        return []
    tol = dig(result, "settings.tol")
    out = []

    def shares(c: str) -> list[float]:
        return [t["share"][c] for t in tuned if (t.get("share") or {}).get(c) is not None]

    compared = sorted({d for t in tuned for d in (t.get("compared_in") or [])})
    many = len(tuned) > 1
    where = f" over {len(tuned)} tuned checkpoints" if many else ""
    text = (f"Parameters changed vs the base{where}{' (range; exact counts, no sampling)' if many else ''}: {fmt_range(shares('exact'))} exact (compared in "
            f"{', '.join(compared) or '?'}), {fmt_range(shares('tol'))} beyond |Δ| > {tol:g}, "
            f"{fmt_range(shares('bf16'))} in bf16, {fmt_range(shares('paper'))} under the reference criterion.")
    out.append(Finding("info", "updates", text))
    paper = shares("paper")
    if shares("exact") and max(shares("exact")) == 0:
        who = f"all {len(tuned)} tuned checkpoints equal" if many else "the tuned checkpoint equals"
        out.append(Finding("info", "updates", f"No parameter changed at all: {who} the base bit for bit, so "
                           "sparsity and overlap are undefined here."))
        return out
    if paper:
        est = intervals.seed_range(paper, "checkpoints")
        verdict = intervals.verdict(est, -1, null=thresholds.sparse_share)
        shown = intervals.describe(est, 100, "%", 1) if many else f"{100 * paper[0]:.1f}%"
        bound = f"{100 * thresholds.sparse_share:g}%"
        text = {
            "appeared": f"Update sparsity: under the reference criterion (bf16, isclose atol 1e-5) only {shown} of "
                        f"parameters changed{where}, below {bound}",
            "did not appear": f"Update sparsity did not appear: {shown} of parameters changed under the reference "
                              f"criterion (bf16, isclose atol 1e-5){where}, not below {bound}",
            "inconclusive": f"Update sparsity is inconclusive: {shown} of parameters changed under the reference "
                            f"criterion{where}: some checkpoints below {bound}, some not",
        }[verdict]
        out.append(Finding(KINDS[verdict], "updates", text + "."))
    pairs = result.get("pairs") or []
    ratios = [r for p in pairs if (r := dig(p, "criteria.exact.iou_ratio")) is not None]
    if ratios:
        def stat(c: str, key: str) -> float | None:
            return mean_of([dig(p, f"criteria.{c}.{key}") for p in pairs])

        est = intervals.seed_range(ratios, "pairs")
        ratio_text = intervals.describe(est, digits=2) if len(ratios) > 1 else f"{fmt_num(ratios[0])}x"
        detail = (f"IoU {fmt_num(stat('exact', 'iou'))} vs {fmt_num(stat('exact', 'iou_chance'))} by chance "
                  f"(IoU / chance {ratio_text}, exact criterion; reference criterion {fmt_num(stat('paper', 'iou_ratio'))}x), "
                  f"mean over {len(pairs)} pair{'s' if len(pairs) > 1 else ''}")
        verdict = intervals.verdict(est, +1, thresholds.overlap_ratio - CHANCE, null=CHANCE)
        lead = {"appeared": "Overlap of updated sets beyond chance:",
                "did not appear": "Overlap of updated sets beyond chance did not appear:",
                "inconclusive": "Overlap of updated sets beyond chance is inconclusive (pairs disagree):"}[verdict]
        out.append(Finding(KINDS[verdict], "updates", f"{lead} {detail}; beyond chance: every pair above "
                           f"{thresholds.overlap_ratio:g}x."))
    return out
