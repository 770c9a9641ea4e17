"""Figures of the behaviour analyses: each function draws from an analysis JSON's numbers and
returns a matplotlib ``Figure`` (or ``{file name: Figure}`` when one call draws several);
``analysis.figures`` saves them, the report embeds them.

``READING_GUIDE`` says in one line how to read each plot (keyed by the file name the runners
save it under); docs/analysis.md and the report reuse it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rl_lab.analysis.drift import FORWARD, REVERSE
from rl_lab.analysis.figures import format_colors, pyplot
from rl_lab.analysis.format_collapse import labels_of
from rl_lab.analysis.shortcuts import SHORTCUTS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110

READING_GUIDE: dict[str, str] = {
    "format_shares.png": "Stacked bands = share of each answer format among rollouts at each logged step; "
                         "a band swallowing the plot is format collapse, the dashed line marks the collapse step.",
    "format_shares_by_level.png": "One panel per difficulty level, same bands: shows whether collapse happens "
                                  "first (or only) on some levels.",
    "format_shares_seeds.png": "Lines = mean share of each format across seeds at each step, shaded band = "
                               "±1 std (clipped to [0, 1]); a wide band means seeds disagree on the winner or its timing.",
    "format_entropy.png": "Shannon entropy (bits) of the format shares over steps; it falls to 0 when one "
                          "format takes everything (log2(4) = 2 bits is the maximum).",
    "passk.png": "pass@k of each model against k (log2 axis), shaded band = 95% interval over problems; where "
                 "the base curve meets or overtakes a tuned one, RL sharpened pass@1 without widening coverage.",
    "passk_by_difficulty.png": "The same curves, one panel per difficulty level: the crossover usually moves "
                               "to smaller k on hard levels.",
    "contamination.png": "Prior-skill probe accuracy at each checkpoint (solid) against the base (step 0, "
                         "dotted); a falling line is a prior skill lost to RL.",
    "forcing.png": "Accuracy per trained cell of the base as it answers, the base with every answer started in "
                   "one format (weights untouched), and the RL-tuned model; error bars = exact 95% interval. A forced "
                   "bar as high as the tuned one is a gain RL's weights were not needed for.",
    "arms.png": "pass@1 on the trained levels of each arm (error bars = exact 95% interval): the base, the base "
                "with the best forced format, steered, another base proxy-tuned, and the trained checkpoint. A "
                "weight-free bar as high as the trained one is a gain that needed no weight update.",
    "proxy.png": "Accuracy per trained cell of the run's base and RL-tuned checkpoint, another untouched base, and "
                 "that base proxy-tuned with the run's (tuned - base) logits at every step; error bars = exact 95% "
                 "interval. A proxied bar as high as the RL-tuned one: RL's change transfers without training the "
                 "other base.",
    "steering.png": "Left: accuracy of the base with strength x the steering vector added at one layer (0 = the "
                     "base itself; error bars = exact 95% interval); right: the share of each answer format. A format "
                     "share that follows the strength while accuracy follows it too is a behaviour the base can be "
                     "steered into without training.",
    "shortcuts.png": "Share of rollouts flagged by each shortcut detector at each step; rising lines mean "
                     "the policy learned to repeat operands, skip work, shorten answers or game containment.",
    "curriculum_comparison.png": "Bars = mean across seeds per curriculum of prior-skill accuracy change and "
                                 "shortcut rates, error bars = min..max; hard_only below the others is contamination.",
    "drift.png": "KL between tuned and base per completion token at each checkpoint: forward KL(base‖tuned) "
                 "on base samples and reverse KL(tuned‖base) on tuned samples.",
    "drift_vs_prior_skill.png": "One point per run: forward KL(base‖tuned) at the last checkpoint against "
                                "prior-skill accuracy change, bars = 95% intervals (prompts; probes); a downward "
                                "slope is RL's Razor (more drift, more forgetting).",
}


def _figure(*args: Any, **kwargs: Any):
    """``plt.subplots`` at the behaviour plots' dpi."""
    return pyplot().subplots(*args, dpi=DPI, **kwargs)


def _stack(ax, shares: Mapping[str, Mapping[str, float]], labels: Sequence[str], title: str,
           collapse: int | None = None) -> None:
    steps = sorted(int(s) for s in shares)
    colors = format_colors(labels)
    ys = [[shares[str(s)].get(f, 0.0) for s in steps] for f in labels]
    ax.stackplot(steps, ys, labels=labels, colors=[colors[f] for f in labels], alpha=0.85)
    if collapse is not None:
        ax.axvline(collapse, color="k", ls="--", lw=1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("share of rollouts")
    ax.set_title(title, fontsize=9)


def plot_format_run(summary: Mapping[str, Any], title: str = "") -> dict[str, Figure]:
    """One run's formats.json: stacked shares, per-level panels (when levels were logged), entropy."""
    out = {}
    labels = labels_of(summary)
    fig, ax = _figure(figsize=(6, 3.5))
    _stack(ax, summary["shares"], labels, title or "format shares", summary.get("collapse_step"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    out["format_shares.png"] = fig

    levels = summary.get("by_level", {})
    if levels:
        fig, axes = _figure(1, len(levels), figsize=(3 * len(levels), 3), squeeze=False, sharey=True)
        for ax, (level, block) in zip(axes[0], levels.items(), strict=True):
            _stack(ax, block["shares"], labels, f"level {level}", block.get("collapse_step"))
        axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
        out["format_shares_by_level.png"] = fig

    fig, ax = _figure(figsize=(6, 3))
    steps = sorted(int(s) for s in summary["entropy_bits"])
    ax.plot(steps, [summary["entropy_bits"][str(s)] for s in steps], marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("format entropy (bits)")
    ax.set_ylim(0, math.log2(len(labels)) + 0.05)  # the entropy of equal shares
    out["format_entropy.png"] = fig
    return out


def plot_format_seeds(groups: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Mean share per format with a ±std band, one panel per group of seeds (format_shares_seeds.png)."""
    fig, axes = _figure(1, len(groups), figsize=(5 * len(groups), 3.5), squeeze=False, sharey=True)
    for ax, (name, agg) in zip(axes[0], groups.items(), strict=True):
        steps = agg["steps"]
        for fmt, color in format_colors(labels_of(agg)).items():
            mean = [agg["shares"][str(s)][fmt]["mean"] for s in steps]
            std = [agg["shares"][str(s)][fmt]["std"] for s in steps]
            ax.plot(steps, mean, color=color, label=fmt)
            ax.fill_between(steps, [max(0, m - d) for m, d in zip(mean, std, strict=True)],
                            [min(1, m + d) for m, d in zip(mean, std, strict=True)], color=color, alpha=0.2)
        ax.set_ylim(0, 1)
        ax.set_xlabel("step")
        ax.set_title(f"{name} ({agg['runs']} seeds)", fontsize=9)
    axes[0][0].set_ylabel("share of rollouts")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    return fig


def plot_passk(curves: Mapping[str, Mapping[str, float]], title: str = "pass@k",
               bands: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None) -> Figure:
    """``curves``: model label -> {str(k): pass@k}; ``bands``: model label -> {str(k): interval dict}
    (passk.json's ``pass_at_k_interval``), drawn as a shaded 95% band (passk.png)."""
    fig, ax = _figure(figsize=(6, 4))
    _passk_axes(ax, curves, title, bands)
    ax.legend(fontsize=8)
    return fig


def _passk_axes(ax, curves: Mapping[str, Mapping[str, float]], title: str,
                bands: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None) -> None:
    for label, curve in curves.items():
        ks = sorted(int(k) for k in curve)
        line = ax.plot(ks, [curve[str(k)] for k in ks], marker="o", ms=3, label=label)[0]
        band = (bands or {}).get(label) or {}
        if all(str(k) in band for k in ks):
            ax.fill_between(ks, [band[str(k)]["low"] for k in ks], [band[str(k)]["high"] for k in ks],
                            color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k")
    ax.set_ylabel("pass@k")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)


def plot_passk_panels(panels: Mapping[str, Mapping[str, Mapping[str, float]]]) -> Figure:
    """One panel per key (e.g. difficulty), each with every model's curve (passk_by_difficulty.png)."""
    fig, axes = _figure(1, len(panels), figsize=(3.5 * len(panels), 3.2), squeeze=False, sharey=True)
    for ax, (name, curves) in zip(axes[0], panels.items(), strict=True):
        _passk_axes(ax, curves, name)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    return fig


def plot_contamination(runs: Mapping[str, Mapping[str, float]]) -> Figure:
    """``runs``: run label -> {str(step): probe accuracy}; step 0 is the base (contamination.png)."""
    fig, ax = _figure(figsize=(6, 3.5))
    for label, acc in runs.items():
        steps = sorted(int(s) for s in acc)
        line = ax.plot(steps, [acc[str(s)] for s in steps], marker="o", ms=3, label=label)[0]
        ax.axhline(acc[str(steps[0])], color=line.get_color(), ls=":", lw=1)
    ax.set_xlabel("checkpoint step")
    ax.set_ylabel("prior-skill probe accuracy")
    ax.set_ylim(-0.02, 1.02)
    if len(runs) <= 12:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return fig


def plot_shortcuts(by_step: Mapping[str, Mapping[str, float | None]], title: str = "") -> Figure:
    """Rate of each shortcut detector per step (shortcuts.png)."""
    fig, ax = _figure(figsize=(6, 3.5))
    steps = sorted(int(s) for s in by_step)
    for name in SHORTCUTS:
        ys = [by_step[str(s)].get(name) for s in steps]
        if any(y is not None for y in ys):
            ax.plot(steps, [float("nan") if y is None else y for y in ys], marker=".", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("share of rollouts flagged")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "shortcut rates in rollouts", fontsize=9)
    ax.legend(fontsize=7)
    return fig


def plot_curriculum_comparison(table: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Grouped bars: per metric, one bar per curriculum group (mean, min..max error bars)
    (curriculum_comparison.png)."""
    metrics = ["prior_skill_accuracy_change", *(f"rollouts/{name}" for name in SHORTCUTS)]
    groups = list(table)
    fig, ax = _figure(figsize=(max(6, 1.6 * len(metrics)), 3.8))
    width = 0.8 / max(1, len(groups))
    for i, group in enumerate(groups):
        means, lo, hi = [], [], []
        for m in metrics:
            s = table[group][m]
            mean = s["mean"] if s["mean"] is not None else float("nan")
            means.append(mean)
            lo.append(mean - s["min"] if s["min"] is not None else 0)
            hi.append(s["max"] - mean if s["max"] is not None else 0)
        xs = [j + i * width for j in range(len(metrics))]
        ax.bar(xs, means, width, yerr=[lo, hi], capsize=2, label=group)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(metrics))])
    ax.set_xticklabels([m.replace("rollouts/", "") for m in metrics], rotation=20, fontsize=8)
    ax.legend(fontsize=7)
    return fig


def plot_drift(per_step: Mapping[str, Mapping[str, Any]], title: str = "") -> Figure:
    """``per_step``: str(step) -> drift_between() result (drift.png)."""
    fig, ax = _figure(figsize=(6, 3.5))
    steps = sorted(int(s) for s in per_step)
    for key, label in ((FORWARD, "KL(base‖tuned), base samples"), (REVERSE, "KL(tuned‖base), tuned samples")):
        ax.plot(steps, [per_step[str(s)][key]["per_token"] for s in steps], marker="o", ms=3, label=label)
    ax.set_xlabel("checkpoint step")
    ax.set_ylabel("KL per token (nats)")
    ax.set_title(title or "drift from the base", fontsize=9)
    ax.legend(fontsize=8)
    return fig


def plot_drift_vs_prior(points: Sequence[Mapping[str, Any]]) -> Figure:
    """``points``: {label, group, kl, prior_change}; one colour per group (drift_vs_prior_skill.png)."""
    fig, ax = _figure(figsize=(5.5, 4))
    groups = sorted({p["group"] for p in points})
    for group in groups:
        pts = [p for p in points if p["group"] == group and p["prior_change"] is not None]
        dots = ax.scatter([p["kl"] for p in pts], [p["prior_change"] for p in pts], label=group, s=25)
        for p in pts:  # 95% intervals where the JSON has them (drift_run's kl_interval, prior_change_interval)
            xi, yi = p.get("kl_interval") or {}, p.get("prior_change_interval") or {}
            if xi or yi:
                ax.errorbar(p["kl"], p["prior_change"], fmt="none", ecolor=dots.get_facecolor()[0], elinewidth=0.8,
                            alpha=0.6, xerr=[[p["kl"] - xi["low"]], [xi["high"] - p["kl"]]] if xi else None,
                            yerr=[[p["prior_change"] - yi["low"]], [yi["high"] - p["prior_change"]]] if yi else None)
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("KL(base‖tuned) per token at the last checkpoint (nats)")
    ax.set_ylabel("prior-skill accuracy change")
    ax.legend(fontsize=7)
    return fig


def plot_forcing(cells: Mapping[str, Mapping[str, Mapping[str, Any]]], policies: Sequence[str], title: str = "") -> Figure:
    """Accuracy per trained cell (x) of each policy (bars: base, each forced format, tuned) with
    the exact binomial 95% interval as error bars."""
    fig, ax = _figure(figsize=(max(6.0, 1.6 * len(cells) * max(1, len(policies)) / 3), 3.8))
    width = 0.8 / max(1, len(policies))
    for j, policy in enumerate(policies):
        xs, ys, lows, highs = [], [], [], []
        for i, cell in enumerate(cells):
            est = (cells[cell].get(policy) or {})
            if est.get("value") is None:
                continue
            xs.append(i + (j - (len(policies) - 1) / 2) * width)
            ys.append(est["value"])
            lows.append(est["value"] - est["low"])
            highs.append(est["high"] - est["value"])
        ax.bar(xs, ys, width, yerr=[lows, highs], capsize=2, label=policy)
    ax.set_xticks(range(len(cells)), list(cells))
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(title or "format forcing: base, base forced into each format, RL-tuned")
    ax.legend(fontsize=7, ncol=min(4, len(policies)))
    return fig


def plot_steering(by_strength: Mapping[str, Mapping[str, Any]], labels: Sequence[str], title: str = "") -> Figure:
    """Left: accuracy against steering strength (exact 95% interval); right: the share of each format."""
    fig, (left, right) = _figure(1, 2, figsize=(9.5, 3.6))
    xs = [float(k) for k in by_strength]
    acc = [by_strength[k]["accuracy"] for k in by_strength]
    left.errorbar(xs, [a["value"] for a in acc], yerr=[[a["value"] - a["low"] for a in acc],
                                                       [a["high"] - a["value"] for a in acc]], marker="o", capsize=3)
    left.set_xlabel("strength")
    left.set_ylabel("accuracy")
    left.set_ylim(0, 1.05)
    left.axvline(0, color="grey", lw=0.8, ls=":")
    colors = format_colors(labels)
    for label in labels:
        right.plot(xs, [by_strength[k]["format_shares"].get(label, 0.0) for k in by_strength], marker=".",
                   label=label, color=colors.get(label))
    right.set_xlabel("strength")
    right.set_ylabel("share of answers")
    right.set_ylim(0, 1.05)
    right.legend(fontsize=7)
    fig.suptitle(title or "activation steering")
    return fig


def plot_arms(runs: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]]]) -> Figure:
    """One panel per run: pass@1 of each arm (horizontal bars) with the exact 95% interval."""
    fig, axes = _figure(len(runs), 1, figsize=(8.0, 0.2 + sum(0.45 * max(1, len(b)) + 0.6 for b in runs.values())),
                        squeeze=False)
    for ax, (run, bars) in zip(axes[:, 0], runs.items(), strict=True):
        ys = list(range(len(bars)))[::-1]
        vals = [b["value"] for _, b in bars]
        ax.barh(ys, vals, xerr=[[v - b["low"] for v, (_, b) in zip(vals, bars, strict=True)],
                                [b["high"] - v for v, (_, b) in zip(vals, bars, strict=True)]], capsize=3)
        ax.set_yticks(ys, [arm if len(arm) < 60 else arm[:57] + "..." for arm, _ in bars], fontsize=7)
        ax.set_xlim(0, 1.05)
        ax.set_title(run, fontsize=9)
    axes[-1, 0].set_xlabel("pass@1 on the trained levels")
    return fig
