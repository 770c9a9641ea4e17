"""Figures of ``rl-lab report`` that no analysis module draws (training curves, per-run format
stacks, KL per checkpoint across runs). Every function returns a matplotlib ``Figure``; the
report embeds it with ``rl_lab.report.view.data_uri``. The analyses' own figures come from
``analysis.plots_behaviour`` and ``analysis.update_plots``, re-drawn from the JSON the report read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rl_lab.analysis.drift import FORWARD
from rl_lab.analysis.figures import format_colors, pyplot
from rl_lab.report.numbers import dig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# One line under each figure: how to read it.  The behaviour and update plots have their own
# guides in analysis/plots_behaviour.py READING_GUIDE; these cover the report's own figures.
READING_GUIDE: dict[str, str] = {
    "reward": "Mean reward of the rollout batch at each logged step: thin lines are single runs, thick lines "
              "the mean of the runs that share a curriculum (and any other non-seed grid key).",
    "accuracy_levels": "Share of rollouts the verifier scored 1, one panel per difficulty level; a level "
                       "that the curriculum does not draw at a step has no point there.",
    "dynamics": "Policy entropy over completion tokens, KL to the reference (only when train.beta > 0) and "
                "mean completion length per step: entropy falling towards 0 means the policy stopped exploring.",
    "format_runs": "One panel per run: stacked share of each answer format among that run's sampled rollouts; "
                   "the dashed line marks the collapse step.",
    "drift_runs": "Forward KL(base‖tuned) per token on base samples at each checkpoint, one line per run: how fast "
                  "each run moved away from the base.",
    "updates_heatmap": "Share of parameters changed (exact criterion) per layer (rows) and module type (columns), "
                       "0 = untouched, 1 = every parameter moved.",
    "updates_seed_overlap": "Cells = IoU of two tuned checkpoints' updated sets divided by the IoU that independent "
                            "sets of the same sizes would give; 1.0x is chance, above 1 the same parameters were chosen.",
    "updates_rank_hist": "Distribution over weight matrices of rank(delta) / min(shape); a pile at 1.0 means the "
                         "update is nearly full-rank even where it is sparse.",
}

PALETTE = ["#3b6ea5", "#d1495b", "#2e9b6c", "#edae49", "#7b5ea7", "#00798c", "#8c564b", "#e377c2", "#7f7f7f"]

_STYLE = {
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.25,
    "font.size": 9, "axes.titlesize": 10, "axes.titleweight": "bold", "legend.frameon": False,
    "figure.dpi": 110,
}


def _pin_tick_labels(fig: Figure) -> None:
    """Fix the tick label size the style gives: matplotlib spaces ticks at draw time by the
    rcParams then in force, and the figure is drawn (saved) after the style context has closed."""
    from matplotlib.font_manager import FontProperties

    plt = pyplot()
    for axis in ("x", "y"):
        size = FontProperties(size=plt.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()
        for ax in fig.axes:
            ax.tick_params(axis=axis, labelsize=size)


def group_colors(groups: Sequence[str]) -> dict[str, str]:
    return {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(dict.fromkeys(groups))}


def _mean_curve(curves: Sequence[Mapping[int, float]]) -> tuple[list[int], list[float]]:
    """Mean over curves at each step (over the curves that have that step)."""
    steps = sorted({s for c in curves for s in c})
    means = []
    for s in steps:
        vals = [c[s] for c in curves if s in c]
        means.append(sum(vals) / len(vals))
    return steps, means


def _draw_groups(ax, runs: Sequence[Mapping[str, Any]], key: str, colors: Mapping[str, str],
                 single_label: bool = True) -> None:
    """Per group: one run is a solid labelled line; several are thin lines under a thick mean."""
    by_group: dict[str, list[Mapping[int, float]]] = {}
    for r in runs:
        curve = r["series"].get(key) or {}
        if curve:
            by_group.setdefault(r["group"], []).append(curve)
    for group, curves in by_group.items():
        if len(curves) == 1:
            steps = sorted(curves[0])
            ax.plot(steps, [curves[0][s] for s in steps], color=colors[group], lw=1.9,
                    label=group if single_label else None)
            continue
        for curve in curves:
            steps = sorted(curve)
            ax.plot(steps, [curve[s] for s in steps], color=colors[group], lw=0.8, alpha=0.4)
        steps, means = _mean_curve(curves)
        ax.plot(steps, means, color=colors[group], lw=2.4, label=f"{group} (mean of {len(curves)})")


def plot_metric_runs(runs: Sequence[Mapping[str, Any]], key: str, ylabel: str, title: str = "",
                     band_key: str | None = None, ylim: tuple[float, float] | None = None) -> Figure:
    """``runs``: ``{label, group, series: {metric: {step: value}}}``. Thin line per run, thick group mean;
    a lone run also gets a ±``band_key`` band (e.g. reward_std)."""
    plt = pyplot()
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        colors = group_colors([r["group"] for r in runs])
        _draw_groups(ax, runs, key, colors)
        if band_key and len(runs) == 1:
            curve, band = runs[0]["series"].get(key) or {}, runs[0]["series"].get(band_key) or {}
            if curve and band:
                steps = sorted(curve)
                ax.fill_between(steps, [curve[s] - band.get(s, 0.0) for s in steps],
                                [curve[s] + band.get(s, 0.0) for s in steps], color=colors[runs[0]["group"]],
                                alpha=0.15, lw=0, label=f"± {band_key} (within batch)")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        if ylim:
            ax.set_ylim(*ylim)
        if title:
            ax.set_title(title)
        ax.legend(fontsize=7.5, loc="best")
        _pin_tick_labels(fig)
    return fig


def plot_accuracy_levels(runs: Sequence[Mapping[str, Any]], levels: Sequence[int]) -> Figure:
    """One panel per level of ``accuracy/level_<d>``; thin per run, thick per group mean."""
    plt = pyplot()
    with plt.rc_context(_STYLE):
        cols = min(len(levels), 5)
        rows = -(-len(levels) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(2.8 * cols + 0.6, 2.5 * rows + 0.5), squeeze=False,
                                 sharey=True)
        colors = group_colors([r["group"] for r in runs])
        for i, level in enumerate(levels):
            ax = axes[i // cols][i % cols]
            _draw_groups(ax, runs, f"accuracy/level_{level}", colors)
            ax.set_title(f"level {level}")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("step")
            if i % cols == 0:
                ax.set_ylabel("accuracy")
        for j in range(len(levels), rows * cols):
            axes[j // cols][j % cols].set_visible(False)
        handles, labels = {}, {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(lab, h)
                labels[lab] = lab
        if handles:
            fig.legend(list(handles.values()), list(labels), loc="lower center", ncol=min(4, len(labels)), fontsize=8)
        fig.tight_layout(rect=(0, 0.09 if handles else 0, 1, 1))
        _pin_tick_labels(fig)
    return fig


def plot_dynamics(runs: Sequence[Mapping[str, Any]], keys: Sequence[tuple[str, str]]) -> Figure:
    """Small multiples of the ``(metric key, axis label)`` pairs present in the runs."""
    plt = pyplot()
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, len(keys), figsize=(3.4 * len(keys) + 0.6, 2.8), squeeze=False)
        colors = group_colors([r["group"] for r in runs])
        for ax, (key, label) in zip(axes[0], keys, strict=True):
            _draw_groups(ax, runs, key, colors)
            ax.set_title(label)
            ax.set_xlabel("step")
        handles, labels = axes[0][0].get_legend_handles_labels()
        if handles and len(runs) > 1:
            axes[0][-1].legend(handles, labels, fontsize=7, loc="best")
        fig.tight_layout()
        _pin_tick_labels(fig)
    return fig


def plot_format_runs(summaries: Mapping[str, Mapping[str, Any]], labels: Sequence[str]) -> Figure:
    """Stacked format shares, one small panel per run (``summaries``: label -> formats.json of that
    run; ``labels``: the taxonomy's formats)."""
    plt = pyplot()
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        n = len(summaries)
        cols = min(n, 4)
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols + 1.2, 2.5 * rows + 0.3), squeeze=False,
                                 sharey=True)
        colors = format_colors(labels)
        for i, (name, summ) in enumerate(summaries.items()):
            ax = axes[i // cols][i % cols]
            shares = summ.get("shares") or {}
            steps = sorted(int(s) for s in shares)
            ys = [[shares[str(s)].get(f, 0.0) for s in steps] for f in labels]
            if steps:
                ax.stackplot(steps, ys, colors=[colors[f] for f in labels], alpha=0.9, labels=labels)
            if summ.get("collapse_step") is not None:
                ax.axvline(summ["collapse_step"], color="k", ls="--", lw=1)
            ax.set_ylim(0, 1)
            ax.set_title(name if len(name) <= 34 else name[:31] + "...", fontsize=8)
            ax.set_xlabel("step")
            if i % cols == 0:
                ax.set_ylabel("share of rollouts")
        for j in range(n, rows * cols):
            axes[j // cols][j % cols].set_visible(False)
        handles, names = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, names, loc="center right", fontsize=8, bbox_to_anchor=(1.0, 0.5))
        fig.tight_layout(rect=(0, 0, 0.88, 1))
        _pin_tick_labels(fig)
    return fig


def plot_kl_runs(runs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Forward KL per token at each checkpoint, one line per run (``runs``: label -> drift.json)."""
    key = f"{FORWARD}.per_token"
    data = [{"label": label, "group": label,
             "series": {"kl": {int(s): dig(v, key) for s, v in p["by_step"].items() if dig(v, key) is not None}}}
            for label, p in runs.items()]
    return plot_metric_runs(data, "kl", "KL(base‖tuned) per token (nats)")
