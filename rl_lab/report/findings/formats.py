"""Format collapse, worded by the interval of the largest final share against the threshold.

Claim (format collapse under RL, e.g. the steps format taking over): one format's share of the
last logged rollouts exceeds ``analysis.collapse_threshold``. Per run: "appeared" when the exact
binomial interval of the largest final share lies above threshold + ``report.collapse_margin``,
"did not appear" when it lies at or below it, "inconclusive" when it straddles it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.intervals import Estimate, Verdict
from rl_lab.report.findings.common import DEFAULTS, Finding, estimate, overall_kind
from rl_lab.report.numbers import fmt_pct


def final_share(summary: Mapping[str, Any]) -> tuple[str, Estimate] | None:
    """``(format, share with interval)`` of the largest final share of a run: formats.json's
    ``final_share_interval``, else (files written before it) the last step's share over the rollouts
    logged at that step; None when neither is there."""
    stored = {f: e for f, d in (summary.get("final_share_interval") or {}).items() if (e := estimate(d))}
    if stored:
        top = max(stored, key=lambda f: stored[f].value)
        return top, stored[top]
    shares, per_step = summary.get("final_shares") or {}, summary.get("rollouts_per_step") or {}
    if not shares or not per_step:
        return None
    n = int(per_step[max(per_step, key=int)])
    top = max(shares, key=lambda f: shares[f])
    return (top, intervals.binomial(round(shares[top] * n), n)) if n else None


def _share(est: Estimate) -> str:
    return intervals.describe(est, 100, "%", 0, of="rollouts")


def findings_formats(runs: Mapping[str, Mapping[str, Any]], threshold: float,
                     margin: float = DEFAULTS.collapse_margin) -> list[Finding]:
    """``runs``: label -> a formats.json summary (``collapsed``, ``collapse_step``, ``winner``,
    ``final_shares``, ``final_share_interval``)."""
    n = len(runs)
    if not n:
        return []
    thr = fmt_pct(threshold + margin, 0)
    judged: dict[Verdict, list[tuple[str, Mapping[str, Any], str | None, Estimate | None]]] = {
        "appeared": [], "did not appear": [], "inconclusive": []}
    for label, summ in runs.items():
        top = final_share(summ)
        if top is None:
            judged["inconclusive"].append((label, summ, None, None))
            continue
        fmt, est = top
        judged[intervals.verdict(est, +1, margin, null=threshold)].append((label, summ, fmt, est))
    kind = overall_kind(v for v, items in judged.items() for _ in items)
    rule = f"its whole 95% interval above {thr}"
    if not judged["appeared"] and not judged["inconclusive"]:
        largest = max(judged["did not appear"], key=lambda x: x[3].value)
        where = "the run" if n == 1 else f"0/{n} runs"
        return [Finding(kind, "format collapse", f"Format collapse did not appear: in {where} did one format's share "
                        f"of the last logged rollouts exceed {thr} (largest final share: {largest[2]} "
                        f"{_share(largest[3])}; every interval at or below {thr}).")]
    parts = []
    by_winner: dict[str, list[tuple[Any, Estimate]]] = {}
    for _, summ, fmt, est in judged["appeared"]:
        by_winner.setdefault(str(fmt), []).append((summ.get("collapse_step"), est))
    for winner, items in sorted(by_winner.items(), key=lambda kv: -len(kv[1])):
        steps = sorted(s for s, _ in items if s is not None)
        steps_text = ", ".join(map(str, steps)) or "–"
        shares = "; ".join(f"final share {_share(e)}" for _, e in items)
        label = "step" if len(steps) <= 1 else "steps"
        if n == 1:
            parts.append(f"`{winner}` exceeded {thr} of rollouts from step {steps_text} on ({shares})")
        else:
            parts.append(f"in {len(items)}/{n} runs `{winner}` exceeded {thr} ({label} {steps_text}; {shares})")
    if judged["inconclusive"]:
        items = judged["inconclusive"]
        shown = ", ".join(f"{label}: `{fmt}` {_share(est)}" if est else f"{label}: no final shares recorded"
                          for label, _, fmt, est in items)
        where = "the run" if n == 1 else f"{len(items)}/{n} runs"
        parts.append(f"inconclusive in {where} ({shown}: the interval straddles {thr})")
    text = ("Format collapse: " if judged["appeared"] else "Format collapse is inconclusive: ") + "; ".join(parts)
    if n > 1 and judged["did not appear"]:
        text += f"; in {len(judged['did not appear'])}/{n} no collapse"
    return [Finding(kind, "format collapse", f"{text} (collapse: {rule}).")]
