"""Section 2: reward and accuracy per difficulty, from each run's metrics.jsonl."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.report import figures
from rl_lab.report.context import Context
from rl_lab.report.findings import findings_training, level_keys
from rl_lab.report.findings.training import by_group, window_change
from rl_lab.report.numbers import fmt_ci, fmt_num, fmt_pct
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "training", "Reward and accuracy per difficulty"
LEAD = "What the policy earned during RL, from each run's metrics.jsonl (one row per logged step)."
LENGTH_KEYS = ("completion_length", "completions/mean_length")  # rl_lab's own, TRL's


def series(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    """``{metric: {step: value}}`` of the finite numbers in metrics rows."""
    out: dict[str, dict[int, float]] = {}
    for row in rows:
        step = int(row["step"])
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                out.setdefault(key, {})[step] = float(value)
    return out


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    sec.inputs = [("metrics.jsonl", {
        r.label: f"{r.info.metrics_file} ({len(r.metrics)} rows, steps {int(r.metrics[0]['step'])}.."
                 f"{int(r.metrics[-1]['step'])})" if r.metrics else
                 (r.metrics_error or f"{r.info.metrics_file} missing or empty")
        for r in ctx.runs})]
    runs = [r for r in ctx.runs if r.metrics]
    if not runs:
        errors = [r.metrics_error for r in ctx.runs if r.metrics_error]
        sec.reason = "; ".join(errors) if errors else "no run has metrics.jsonl rows (training has not logged a step yet)"
        return sec
    data = [{"label": r.label, "group": r.group, "series": series(r.metrics)} for r in runs]
    levels = level_keys([d["series"] for d in data])
    guide = figures.READING_GUIDE
    sec.blocks.append(figure("Reward per step", figures.plot_metric_runs(data, "reward", "mean reward", band_key="reward_std"),
                             guide["reward"]))
    length_key = next((k for k in LENGTH_KEYS if any(k in d["series"] for d in data)), None)
    dyn = [(k, label) for k, label in (("entropy", "policy entropy"), ("kl", "KL to reference"),
                                       (length_key, "mean completion length")) if k and any(k in d["series"] for d in data)]
    if dyn:
        sec.blocks.append(figure("Training dynamics", figures.plot_dynamics(data, dyn), guide["dynamics"], wide=len(dyn) > 2))
    if levels:
        sec.blocks.append(figure("Accuracy per difficulty level", figures.plot_accuracy_levels(data, levels),
                                 guide["accuracy_levels"], wide=len(levels) > 2))
    else:
        sec.blocks.append(figure("Accuracy per difficulty level", None, "",
                                 missing="metrics.jsonl has no accuracy/level_<d> keys"))
    trial_of = {str(t.get("run_dir")): t for t in (ctx.summary or {}).get("trials", [])}
    rows = []
    for r in ctx.runs:
        s = series(r.metrics)
        t = trial_of.get(str(r.info.path), {})

        def last(key: str, s: dict[str, dict[int, float]] = s) -> float | None:
            return s[key][max(s[key])] if s.get(key) else None

        rows.append([r.label, r.group, fmt_num(r.seed), t.get("status") or r.info.summary_status or r.info.state() or "–",
                     fmt_num(t.get("attempts")), fmt_num(int(r.metrics[-1]["step"]) if r.metrics else None),
                     fmt_num(last("reward")), *(fmt_pct(last(f"accuracy/level_{lv}"), 0) for lv in levels)])
    sec.blocks.append(Card("Runs: last logged values", table(
        ["run", "group", "seed", "status", "attempts", "last step", "reward", *(f"acc L{lv}" for lv in levels)],
        rows, numeric_from=2, text_cols=(3,))))
    sec.blocks.append(window_table(data, levels, ctx.thresholds.tail_fraction))
    sec.findings = findings_training(data, ctx.thresholds)
    return sec


def window_table(data: Sequence[Mapping[str, Any]], levels: Sequence[int], fraction: float) -> Card:
    """Per group: the change from the first to the last ``fraction`` of logged steps, with intervals."""
    rows = []
    for group, items in by_group(data).items():
        reward = window_change(items, "reward", fraction)
        accs = [window_change(items, f"accuracy/level_{lv}", fraction) for lv in levels]
        rows.append([group, len(items), f"{fmt_num(reward.first)} → {fmt_num(reward.last)}" if reward else "–",
                     fmt_ci(reward.change if reward else None, "delta"),
                     *(fmt_ci(a.change if a else None, "pp", 0) for a in accs)])
    caption = (f"Mean of the last {fmt_pct(fraction, 0)} of logged steps minus the first {fmt_pct(fraction, 0)}, with "
               "95% intervals from a bootstrap over the group's seeds, then the logged steps of each window (metrics.jsonl "
               "keeps one mean per step); a window of one step in one run has no interval.")
    return Card(f"First vs last {fmt_pct(fraction, 0)} of logged steps, per group", table(
        ["group", "runs", "reward", "reward change", *(f"acc L{lv} change" for lv in levels)], rows, caption=caption))
