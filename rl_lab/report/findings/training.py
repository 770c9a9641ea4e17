"""Training: reward and accuracy per level, the first vs the last logged steps.

The interval of a change rests on the logged steps, not on single rollouts: metrics.jsonl keeps
one mean per step (the rollouts behind it are not counted per level), so the change last window
- first window gets ``intervals.difference``: a bootstrap over the seeds of a group, then over the
logged steps of each window (a step's value is the mean over its batch of rollouts). With one
step per window and one seed there is nothing to resample, and the text says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.intervals import Estimate
from rl_lab.core.config import ReportConfig
from rl_lab.report.findings.common import DEFAULTS, Finding, head_tail_values, level_keys
from rl_lab.report.numbers import fmt_num, fmt_pct, mean_of


@dataclass
class WindowChange:
    first: float  # mean over runs of the first window's mean
    last: float
    change: Estimate  # last - first, with its interval


def window_change(runs: Sequence[Mapping[str, Any]], key: str, fraction: float) -> WindowChange | None:
    """``runs``: ``{series: {metric: {step: value}}}`` of one group (its seeds)."""
    windows = [head_tail_values(r["series"].get(key) or {}, fraction) for r in runs]
    windows = [w for w in windows if w]
    if not windows:
        return None
    change = intervals.difference([h for h, _ in windows], [t for _, t in windows])
    return WindowChange(mean_of([sum(h) / len(h) for h, _ in windows]), mean_of([sum(t) / len(t) for _, t in windows]),
                        change)


def by_group(runs: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        groups.setdefault(r["group"], []).append(r)
    return groups


def findings_training(runs: Sequence[Mapping[str, Any]], thresholds: ReportConfig = DEFAULTS) -> list[Finding]:
    """``runs``: ``{group, series}``. Reward and accuracy per level, first vs last 10% of steps."""
    out = []
    groups = by_group(runs)
    fraction = thresholds.tail_fraction
    for group, items in groups.items():
        parts, lone = [], False

        def shown(change: Estimate, scale: float = 1.0, unit: str = "", digits: int = 2) -> str:
            nonlocal lone
            if change.has_interval:
                return intervals.describe(change, scale, unit, digits, of="logged steps", signed=True)
            lone = True
            return f"{change.value * scale:+.{digits}f}{unit}".replace("-", "−")

        reward = window_change(items, "reward", fraction)
        if reward:
            parts.append(f"reward {fmt_num(reward.first)} → {fmt_num(reward.last)} (change {shown(reward.change)})")
        accs = []
        for level in level_keys([r["series"] for r in items]):
            acc = window_change(items, f"accuracy/level_{level}", fraction)
            if acc:
                accs.append(f"L{level} {fmt_pct(acc.first, 0)} → {fmt_pct(acc.last, 0)} "
                            f"({shown(acc.change, 100, ' pp', 0)})")
        if accs:
            parts.append("accuracy " + ", ".join(accs))
        if parts:
            who = f"{group} ({len(items)} run{'s' if len(items) != 1 else ''})" if len(groups) > 1 or len(items) > 1 else "Training"
            why = ("; a window of one logged step in one run has no interval" if lone else
                   "; 95% intervals resample the seeds, then the logged steps of each window")
            out.append(Finding("info", "training", f"{who}: " + "; ".join(parts)
                               + f" (mean of the first vs the last {fmt_pct(fraction, 0)} of logged steps{why})."))
    return out
