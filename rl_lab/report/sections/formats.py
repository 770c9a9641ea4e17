"""Section 3: format collapse, from analysis/formats.json (and each trial's own for a sweep)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.analysis.format_collapse import labels_of
from rl_lab.report import figures
from rl_lab.report.context import Context
from rl_lab.report.findings import final_share, findings_formats
from rl_lab.report.findings.common import estimate
from rl_lab.report.numbers import fmt_ci, fmt_num, fmt_pct
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "formats", "Format collapse"


def lead(labels: Sequence[str]) -> str:
    return f"Share of each answer format ({' / '.join(labels)}) among sampled rollouts, step by step."

RUN_FIGURES = (("format_shares.png", "Format shares"), ("format_shares_by_level.png", "Format shares per level"),
               ("format_entropy.png", "Format entropy"))


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, lead(ctx.taxonomy.labels))
    root = ctx.open_section(sec, "formats", f"rl-lab analyze formats {ctx.root}", top=("threshold",))
    payload = root.payload
    if payload is None:
        return sec
    labels = labels_of(payload)  # the taxonomy the analysis used
    sec.lead = lead(labels)
    threshold = float(payload.get("threshold") or ctx.analysis_config.collapse_threshold)
    found = ctx.per_run("formats", root)
    if ctx.kind == "sweep":
        for p in found:
            inputs = p.payload.get("inputs") or {}
            sec.inputs.append((str(p.path), {"steps": inputs.get("steps"),
                                             "rollout files": len(inputs.get("rollout_files") or [])}))
    per_run = {p.run.label: p.payload for p in found}
    summaries: dict[str, Mapping[str, Any]] = dict(per_run)
    if ctx.kind == "sweep":  # runs without their own JSON still have the sweep's one-line summary
        for run_dir, row in (payload.get("runs") or {}).items():
            summaries.setdefault(ctx.label_of(run_dir), row)
    guide = plots_behaviour.READING_GUIDE
    if ctx.kind == "run":
        drawn = plots_behaviour.plot_format_run(payload, title=ctx.runs[0].label)
        for name, title in RUN_FIGURES:
            if name in drawn:
                sec.blocks.append(figure(title, drawn[name], guide[name], wide=name == "format_shares_by_level.png"))
    else:
        if per_run:
            sec.blocks.append(figure("Format shares per run", figures.plot_format_runs(per_run, labels),
                                     figures.READING_GUIDE["format_runs"], wide=True))
        groups = payload.get("groups") or {}
        if groups:
            sec.blocks.append(figure("Format shares across seeds", plots_behaviour.plot_format_seeds(groups),
                                     guide["format_shares_seeds.png"], wide=True))
    group_of = ctx.group_of
    rows = []
    for label, s in summaries.items():
        fs = s.get("final_shares") or {}
        ent = s.get("entropy_bits") or {}
        last_ent = ent[max(ent, key=int)] if ent else None
        top = final_share(s)
        rows.append([label, group_of.get(label, "–"), "yes" if s.get("collapsed") else "no",
                     fmt_num(s.get("collapse_step")), s.get("winner") or "–",
                     *(fmt_pct(fs.get(f), 0) for f in labels), f"{top[0]} {fmt_ci(top[1], 'pct')}" if top else "–",
                     fmt_num(last_ent, 2)])
    window = payload.get("window")
    pooled = (f"the last {fmt_pct(window, 0)} of logged steps (at least one)" if window else "the last logged step")
    sec.blocks.append(Card(f"Collapse per run (threshold {fmt_pct(threshold, 0)})", table(
        ["run", "group", "collapsed", "step", "winner", *(f"final {f}" for f in labels),
         "largest share, last steps [95%]", "entropy (bits)"], rows, numeric_from=3, text_cols=(4,),
        caption=f"final: shares at the last logged step. Largest share: pooled over the rollouts of {pooled}, with "
                "the exact binomial (Clopper-Pearson) 95% interval over those rollouts; collapse is worded by it.")))
    groups = payload.get("groups") or {}
    if any(g.get("final_share_interval") for g in groups.values()):
        sec.blocks.append(group_table(groups, labels))
    sec.findings = findings_formats(summaries, threshold, ctx.thresholds.collapse_margin)
    return sec


def group_table(groups: Mapping[str, Mapping[str, Any]], labels: Sequence[str]) -> Card:
    """Per group of seeds: final shares and the collapse step, with intervals over seeds."""
    rows = []
    for name, g in groups.items():
        rows.append([name, g.get("runs"), f"{g.get('collapsed_runs', 0)}/{g.get('runs')}",
                     fmt_ci(estimate(g.get("collapse_step_interval")), "num", 1),
                     *(fmt_ci(estimate((g.get("final_share_interval") or {}).get(f)), "pct") for f in labels)])
    return Card("Across seeds, per group", table(
        ["group", "seeds", "collapsed", "collapse step [95%]", *(f"final {f} [95%]" for f in labels)], rows,
        caption="Final shares pool the last logged steps' rollouts of each seed; 95% intervals from a bootstrap over "
                "seeds, then rollouts. Collapse step: over the seeds that collapsed (bootstrap over those seeds)."))
