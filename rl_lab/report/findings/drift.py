"""Drift from the base, and its relation to prior-skill change across runs.

Claim (Shenfeld et al. 2025, "RL's Razor"): forward KL(base‖tuned) on base samples predicts
forgetting, so across runs more drift goes with a lower prior-skill change: Pearson r < 0.
"appeared" when the 95% interval of r (scipy's Fisher-z) lies below -``report.correlation_margin``,
"did not appear" when it lies above it, "inconclusive" otherwise; fewer than three runs give no r.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.drift import FORWARD, REVERSE
from rl_lab.core.config import ReportConfig
from rl_lab.report.findings.common import DEFAULTS, KINDS, Finding, estimate
from rl_lab.report.numbers import dig, fmt_num


def _kl(node: Any, value: float | None) -> str:
    est = estimate(node)
    return intervals.describe(est, digits=4, of="prompts") if est else f"{fmt_num(value, 4)} (no interval)"


def findings_drift_points(points: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """Sweep drift: forward KL per token against prior-skill change across runs."""
    pts = [p for p in points if p.get("kl") is not None and p.get("prior_change") is not None]
    kls = [p["kl"] for p in points if p.get("kl") is not None]
    if not kls:
        return []
    if fmt_num(min(kls), 4) == fmt_num(max(kls), 4):
        span = f"forward KL(base‖tuned) per token was {fmt_num(kls[0], 4)} nats in all {len(kls)} runs"
    else:
        span = (f"forward KL(base‖tuned) per token ranged {fmt_num(min(kls), 4)} to {fmt_num(max(kls), 4)} nats "
                f"over {len(kls)} runs" + (" (each with its interval in the table)"
                                           if all(p.get("kl_interval") for p in points) else ""))
    if len(pts) < 3:
        return [Finding("info", "drift", f"Drift: {span}; too few runs with prior-skill results ({len(pts)}) "
                        "for a correlation.")]
    xs, ys = [p["kl"] for p in pts], [p["prior_change"] for p in pts]
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return [Finding("info", "drift", f"Drift: {span}; no correlation (one of the two quantities is constant).")]
    r = intervals.correlation(xs, ys)
    margin = thresholds.correlation_margin
    verdict = intervals.verdict(r, -1, margin)
    stated = f"Pearson r = {intervals.describe(r, of='runs', signed=True)}"
    rule = f"a relation: the whole 95% interval of r below −{margin:g}"
    text = {
        "appeared": f"Drift vs prior skills: over {len(pts)} runs, more forward KL went with more prior-skill loss ({stated})",
        "did not appear": f"A relation between drift and prior-skill loss did not appear: {stated}"
                          + (" (more drift went with a smaller loss or a gain)" if r.low > 0 else ""),
        "inconclusive": f"A relation between drift and prior-skill loss is inconclusive: {stated}",
    }[verdict]
    return [Finding(KINDS[verdict], "drift", f"{text}; {span}; {rule}.")]


def findings_drift_run(payload: Mapping[str, Any]) -> list[Finding]:
    fin = payload.get("final") or {}
    fwd = dig(fin, f"{FORWARD}.per_token")
    rev = dig(fin, f"{REVERSE}.per_token")
    if fwd is None and rev is None:
        return []
    return [Finding("info", "drift", f"Drift at step {payload.get('final_step')}: KL(base‖tuned) "
                    f"{_kl(dig(fin, f'{FORWARD}.per_token_interval'), fwd)} nats/token on base samples, KL(tuned‖base) "
                    f"{_kl(dig(fin, f'{REVERSE}.per_token_interval'), rev)} nats/token on tuned samples.")]
