"""pass@k, worded by the interval of tuned - base at the smallest and the largest k.

Claim (Yue et al. 2025, "Does RL really incentivize reasoning capacity beyond the base model?"):
RL raises pass@1 but the base model catches up and overtakes at large k. Per tuned model (or
per sweep group of tuned models, pooled over seeds): the crossover "appeared" when the 95%
interval of tuned - base pass@k at the largest k lies below -``report.passk_margin``, "did not
appear" when it lies above it, "inconclusive" otherwise. The pass@1 gain (tuned - base at the
smallest k, expected > +margin) is worded the same way inside the sentence. The crossing k of
the point estimates (``analysis.passk.crossover``) is quoted as where the curves meet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rl_lab.analysis import intervals, passk
from rl_lab.analysis.intervals import Estimate, Verdict
from rl_lab.core.config import ReportConfig
from rl_lab.report.findings.common import DEFAULTS, KINDS, Finding, estimate, overall_kind, plural
from rl_lab.report.numbers import dig

GAIN_WORDS: dict[Verdict, str] = {"appeared": "RL raised it", "did not appear": "no gain from RL",
                                  "inconclusive": "gain inconclusive"}


@dataclass
class Unit:
    """A tuned model, or a group of tuned models pooled over seeds, compared with the base."""

    label: str
    vs_base: dict[int, Estimate]  # tuned - base per k
    crossing: Mapping[str, Any] | None  # point-estimate crossover (one model only)
    models: int = 1


def vs_base(payload: Mapping[str, Any], label: str) -> dict[int, Estimate] | None:
    """tuned - base per k with intervals: passk.json's ``vs_base``, else computed from the models'
    per-problem (n, c) records (files written before intervals were stored)."""
    models = payload.get("models") or {}
    stored = (models.get(label) or {}).get("vs_base")
    if not stored:
        base = (models.get(payload.get("base")) or {}).get("per_problem")
        tuned = (models.get(label) or {}).get("per_problem")
        ks = sorted({int(k) for k in dig(models.get(label) or {}, "overall.pass_at_k") or {}})
        stored = passk.gain_intervals(base, [tuned], ks) if base and tuned and ks else None
    if not stored:
        return None
    out = {int(k): e for k, d in stored.items() if (e := estimate(d))}
    return out or None


def units(payload: Mapping[str, Any]) -> tuple[list[Unit], list[str]]:
    """The comparisons to word: every group of several tuned models as one (pooled over seeds),
    every other tuned model alone; and the labels without per-problem records."""
    base = payload.get("base")
    crossings = payload.get("crossover") or {}
    pooled: set[str] = set()
    out: list[Unit] = []
    for name, group in (payload.get("groups") or {}).items():
        labels = [lb for lb in group.get("models") or [] if lb != base]
        stored = {int(k): e for k, d in (group.get("vs_base") or {}).items() if (e := estimate(d))}
        if len(labels) > 1 and stored:
            out.append(Unit(f"{name} ({len(labels)} models)", stored, None, len(labels)))
            pooled.update(labels)
    missing = []
    for label in crossings:
        if label in pooled:
            continue
        diffs = vs_base(payload, label)
        if diffs is None:
            missing.append(label)
        else:
            out.append(Unit(label, diffs, (crossings.get(label) or {}).get("overall")))  # labels may hold dots
    return out, missing


def _d(est: Estimate) -> str:
    return intervals.describe(est, of="problems", signed=True)


def findings_passk(payload: Mapping[str, Any], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    crossings = payload.get("crossover") or {}
    if not crossings:
        return [Finding("missing", "pass@k", "pass@k: only one model was sampled; no base-vs-tuned comparison.")]
    margin = thresholds.passk_margin
    found, missing = units(payload)
    out = []
    judged: list[tuple[Unit, Verdict, str]] = []
    for u in found:
        ks = sorted(u.vs_base)
        kmin, kmax = ks[0], ks[-1]
        over = intervals.verdict(u.vs_base[kmax], -1, margin)
        gain = intervals.verdict(u.vs_base[kmin], +1, margin)
        detail = (f"tuned − base at k = {kmax}: {_d(u.vs_base[kmax])}; at k = {kmin}: {_d(u.vs_base[kmin])}, "
                  f"{GAIN_WORDS[gain]}")
        judged.append((u, over, detail))
    rule = f"crossover: the 95% interval of tuned − base at the largest k below −{margin:g}"
    if len(judged) == 1:
        u, over, detail = judged[0]
        kmax = max(u.vs_base)
        status, k = dig(u.crossing or {}, "status"), dig(u.crossing or {}, "k")
        if over == "appeared" and status == "base_ahead_from_start":
            text = f"pass@k: the base model is at or above {u.label} from the smallest k measured ({detail})"
        elif over == "appeared":
            where = f"at k = {k}" if status == "crosses" else f"by k = {kmax}"
            text = f"pass@k crossover: the base model catches up with {u.label} {where} and ends above it ({detail})"
        elif over == "did not appear":
            text = (f"pass@k crossover did not appear within k ≤ {kmax}: {u.label} stays at or above the base "
                    f"({detail})")
        else:
            text = f"pass@k crossover is inconclusive within k ≤ {kmax} for {u.label} ({detail})"
        out.append(Finding(KINDS[over], "pass@k", f"{text}; {rule}."))
    elif judged:
        total = len(judged)
        parts = []
        for verdict, words in (("appeared", "the base overtakes at the largest k"),
                               ("inconclusive", "inconclusive"), ("did not appear", "no crossover")):
            items = [(u, d) for u, v, d in judged if v == verdict]
            if items:
                parts.append(f"{words} in {len(items)}/{total} (" + "; ".join(f"{u.label}: {d}" for u, d in items) + ")")
        kmax = max(max(u.vs_base) for u, _, _ in judged)
        out.append(Finding(overall_kind(v for _, v, _ in judged), "pass@k",
                           f"pass@k crossover within k ≤ {kmax}, over {plural(total, 'tuned comparison')}: "
                           + "; ".join(parts) + f"; {rule}."))
    if missing:
        out.append(Finding("inconclusive", "pass@k", f"pass@k: no per-problem records for {', '.join(missing)} in "
                           "passk.json to put an interval on; re-run `rl-lab eval passk`."))
    return out
