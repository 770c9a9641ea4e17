"""Section 7: which parameters RL changed, from analysis/updates.json."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import update_plots
from rl_lab.analysis.update_stats import CRITERIA
from rl_lab.core import rundir
from rl_lab.report import figures
from rl_lab.report.context import Context
from rl_lab.report.findings import DEFAULTS, findings_updates
from rl_lab.report.numbers import dig, fmt_num, fmt_pct
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "updates", "Which parameters RL changed"
LEAD = ("Share of parameters that differ between base and tuned checkpoints, per layer and module type, "
        "under four criteria, and the overlap of the changed sets between tuned checkpoints (e.g. seeds).")
MAX_MODULE_COLUMNS = 8


def heatmap_choice(tuned: Sequence[Mapping[str, Any]], limit: int = DEFAULTS.max_heatmaps) -> list[Mapping[str, Any]]:
    """The last step of each run (labels ``<run>/step_<N>``; other labels kept), at most ``limit``."""
    chosen: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for i, t in enumerate(tuned):
        label = str(t.get("label"))
        run, _, step = label.rpartition("/step_")
        key, order = (run, int(step)) if run and step.isdigit() else (f"{label}#{i}", 0)
        if key not in chosen or order >= chosen[key][0]:
            chosen[key] = (order, t)
    return [t for _, t in chosen.values()][:limit]


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    out = rundir.analysis_file(ctx.root, "updates")
    root = ctx.open_section(sec, "updates", f"rl-lab analyze updates --base BASE --tuned T1 T2 ... --out {out}",
                            record=False)
    result = root.payload
    if result is None:
        return sec
    sec.inputs.append((str(root.path), {k: result.get(k) for k in ("created_utc", "inputs", "settings")}))
    guide = figures.READING_GUIDE
    tuned = result.get("tuned") or []
    limit = ctx.thresholds.max_heatmaps
    drawn = heatmap_choice(tuned, limit)
    for name, fig in update_plots.plot_update_heatmaps({**result, "tuned": drawn}).items():
        label = name[len("updates_heatmap_"):-len(".png")]
        sec.blocks.append(figure(f"Share updated per layer x module: {label}", fig, guide["updates_heatmap"]))
    if len(drawn) < len(tuned):
        sec.blocks.append(Card("Heatmaps drawn", text=f"{len(drawn)} of {len(tuned)} tuned checkpoints are drawn (the "
                               f"last step of each run, at most {limit}); all are in the tables below and in the JSON.",
                               wide=False))
    overlap = update_plots.plot_seed_overlap(result)
    if overlap is not None:
        sec.blocks.append(figure("Overlap of updated sets vs chance", overlap, guide["updates_seed_overlap"]))
    rank = update_plots.plot_rank_histogram(result)
    if rank is not None:
        sec.blocks.append(figure("Rank of the updates", rank, guide["updates_rank_hist"]))
    tol = dig(result, "settings.tol")
    rows = [[t.get("label"), fmt_num(t.get("parameters")), ", ".join(t.get("compared_in") or []),
             *(fmt_pct(dig(t, f"share.{c}")) for c in CRITERIA),
             fmt_pct(dig(t, "paper.mean_over_layers.paper")), fmt_pct(dig(t, "rank.mean_share"))] for t in tuned]
    sec.blocks.append(Card("Share of parameters changed", table(
        ["tuned", "parameters", "compared in", "exact", f"|Δ| > {tol:g}" if tol is not None else "tol", "bf16",
         "reference", "reference, layer mean", "rank / full"], rows, text_cols=(2,),
        caption="Exact counts over every parameter of each checkpoint: nothing is sampled, so a share has no confidence "
                "interval; its spread is over checkpoints (seeds), given as a range in the findings.")))
    modules = list(dict.fromkeys(m for t in tuned for m in (t.get("by_module") or {})))
    if modules:
        shown = tuned[:MAX_MODULE_COLUMNS]
        rows = [[m, *(f"{fmt_pct(dig(t, f'by_module.{m}.share.exact'))} / {fmt_pct(dig(t, f'by_module.{m}.share.paper'))}"
                      if m in (t.get("by_module") or {}) else "–" for t in shown)] for m in modules]
        sec.blocks.append(Card("Per module type: exact / reference criterion", table(
            ["module", *(t.get("label") for t in shown)], rows)))
    pairs = result.get("pairs") or []
    if pairs:
        rows = []
        for p in pairs:
            s = dig(p, "criteria.exact") or {}
            q = dig(p, "criteria.paper") or {}
            rows.append([p.get("a"), p.get("b"), f"{fmt_num(s.get('iou'))} ({fmt_num(s.get('iou_chance'))})",
                         f"{fmt_num(s.get('iou_ratio'))}x", f"{fmt_pct(s.get('o1'))} ({fmt_pct(s.get('o1_chance'))})",
                         f"{fmt_pct(s.get('o2'))} ({fmt_pct(s.get('o2_chance'))})", f"{fmt_num(q.get('iou_ratio'))}x",
                         fmt_num(p.get("cosine"))])
        sec.blocks.append(Card("Pairs of tuned checkpoints: observed (chance)", table(
            ["a", "b", "IoU (chance)", "IoU / chance", "o1 (chance)", "o2 (chance)", "reference IoU / chance",
             "cosine of deltas"], rows, numeric_from=2,
            caption="Exact over all parameters; chance = the IoU of independent sets of the same sizes. The overlap "
                    "finding is worded by the range of IoU / chance over these pairs.")))
    sec.findings = findings_updates(result, ctx.thresholds)
    return sec
