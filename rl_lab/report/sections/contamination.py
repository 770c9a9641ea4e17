"""Section 5: prior skills and shortcuts, from analysis/contamination.json (+ each trial's own)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.analysis.shortcuts import SHORTCUTS
from rl_lab.report.context import Context, PerRun
from rl_lab.report.findings import (
    Finding,
    findings_prior,
    findings_prior_groups,
    findings_shortcuts,
    prior_estimate,
)
from rl_lab.report.findings.common import estimate
from rl_lab.report.numbers import dig, fmt_ci, fmt_num, fmt_pct, fmt_pp, mean_of
from rl_lab.report.sections.passk import level_order
from rl_lab.report.view import Card, Cell, Section, Table, figure, table

KEY, TITLE = "contamination", "Prior skills and shortcuts"
LEAD = ("Greedy accuracy on prior-skill probes (held-out families and levels the curriculum never draws) at "
        "each checkpoint against the base, and shortcut detectors on the rollouts.")
SUB_INPUTS = ("checkpoints", "problems_per_level", "decoding", "probe_seed")


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    root = ctx.open_section(sec, "contamination", f"rl-lab analyze contamination {ctx.root}")
    payload = root.payload
    if payload is None:
        return sec
    found = ctx.per_run("contamination", root)
    if ctx.kind == "sweep":
        sec.inputs += [p.record(SUB_INPUTS) for p in found]
    guide = plots_behaviour.READING_GUIDE
    curves = {p.run.label: {s: a.get("accuracy") for s, a in (p.payload.get("accuracy") or {}).items()}
              for p in found if p.payload.get("accuracy")}
    if curves:
        sec.blocks.append(figure("Prior-skill probe accuracy per checkpoint", plots_behaviour.plot_contamination(curves),
                                 guide["contamination.png"]))
    comparison = payload.get("curriculum_comparison") or {}
    if comparison:
        sec.blocks += comparison_blocks(comparison, guide)
    elif ctx.kind == "run":
        by_step = dig(payload, "rollout_shortcuts.by_step") or {}
        if by_step:
            sec.blocks.append(figure("Shortcut rates in rollouts", plots_behaviour.plot_shortcuts(
                by_step, title=f"{ctx.runs[0].label}: rollouts"), guide["shortcuts.png"]))
    changes, rates = changes_and_rates(ctx, payload, found)
    if changes:
        sec.blocks.append(run_table(changes))
    cells = cell_table(found)
    if cells:
        sec.blocks.append(Card("Probe accuracy per family/level: base → last checkpoint", cells))
    sec.findings = (findings_prior(changes, ctx.thresholds) + findings_prior_groups(comparison, changes, ctx.thresholds)
                    + findings_shortcuts(rates, ctx.thresholds))
    if not rates and comparison:
        finals = [(dig(row, f"rollouts/{s}.mean"), s, g) for g, row in comparison.items() for s in SHORTCUTS]
        finals = [f for f in finals if f[0] is not None]
        if finals:
            top = max(finals)
            sec.findings.append(Finding("info", "shortcuts", f"Highest shortcut rate in the last rollouts: {top[1]} "
                                        f"{fmt_pct(top[0], 0)} ({top[2]}); the first-step rates were not available."))
    return sec


def comparison_blocks(comparison: Mapping[str, Any], guide: Mapping[str, str]) -> list[Any]:
    """Figure and table of the curricula side by side (mean over seeds)."""
    blocks: list[Any] = [figure("Curricula side by side", plots_behaviour.plot_curriculum_comparison(comparison),
                             guide["curriculum_comparison.png"])]
    rows = [[name, len(row.get("seeds") or []),
             fmt_ci(estimate(row.get("prior_skill_accuracy_change_interval")), "pp"),
             spread_pp(row.get("prior_skill_accuracy_change") or {}),
             fmt_num(dig(row, "final_reward.mean")), *(fmt_pct(dig(row, f"rollouts/{s}.mean"), 0) for s in SHORTCUTS)]
            for name, row in comparison.items()]
    blocks.append(Card("Per curriculum (mean over seeds; shortcut rates in the last rollouts)", table(
        ["curriculum", "seeds", "prior-skill Δ accuracy [95%]", "± std [min, max] over seeds", "final reward",
         *(s.replace("_", " ") for s in SHORTCUTS)], rows,
        caption="Δ accuracy: last checkpoint − base on the same probes; 95% interval from a paired bootstrap over "
                "seeds, then each seed's probes (a run's probes come from its seed).")))
    return blocks


def changes_and_rates(ctx: Context, payload: Mapping[str, Any], found: Sequence[PerRun],
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per run: the prior-skill change record (sweep trials without their own JSON: the sweep row) and
    the rollout shortcut rates at the first and last logged step."""
    changes, rates = [], []
    for p in found:
        acc = p.payload.get("accuracy") or {}
        final_step = final_step_of(p.payload)
        changes.append({"label": p.run.label, "group": p.run.group, "base": p.payload.get("prior_skill_accuracy_base"),
                        "final": p.payload.get("prior_skill_accuracy_final"),
                        "change": p.payload.get("prior_skill_accuracy_change"),
                        "n": dig(acc, f"{final_step}.n") if final_step else None,
                        "interval": p.payload.get("prior_skill_accuracy_change_interval"),
                        "base_interval": p.payload.get("prior_skill_accuracy_base_interval"),
                        "final_interval": p.payload.get("prior_skill_accuracy_final_interval")})
        rb = dig(p.payload, "rollout_shortcuts.by_step") or {}
        if rb:
            steps = sorted(rb, key=int)
            rates.append({"group": p.run.group, "first": rb[steps[0]], "last": rb[steps[-1]]})
    if ctx.kind == "sweep":  # trials without their own JSON: the sweep row (no probe count, no first step)
        have = {p.run.label for p in found}
        for t in payload.get("trials") or []:
            label = ctx.label_of(t.get("run_dir", ""))
            if label not in have:
                changes.append({"label": label, "group": t.get("group", label), "base": None, "final": None,
                                "change": t.get("prior_skill_accuracy_change"), "n": t.get("probe_count"),
                                "interval": t.get("prior_skill_accuracy_change_interval")})
    return changes, rates


def run_table(changes: Sequence[Mapping[str, Any]]) -> Card:
    """Per run: base and final probe accuracy (exact binomial) and the change (paired bootstrap)."""
    rows = [[c["label"], c.get("group", "–"), fmt_num(c.get("n")),
             fmt_ci(estimate(c.get("base_interval")), "pct") if c.get("base_interval") else fmt_pct(c.get("base"), 0),
             fmt_ci(estimate(c.get("final_interval")), "pct") if c.get("final_interval") else fmt_pct(c.get("final"), 0),
             fmt_ci(prior_estimate(c), "pp") if prior_estimate(c) else fmt_pp(c.get("change"))] for c in changes]
    return Card("Prior-skill probe accuracy per run", table(
        ["run", "group", "probes", "base [95%]", "last checkpoint [95%]", "Δ accuracy [95%]"], rows, numeric_from=2,
        caption="Accuracy: exact binomial (Clopper-Pearson) 95% interval over the probes. Δ: paired percentile bootstrap "
                "over the probes answered at both checkpoints (older files without per-probe records: unpaired, wider)."))


def final_step_of(payload: Mapping[str, Any]) -> str | None:
    """The last checkpoint step of a contamination.json, as its accuracy key."""
    acc = payload.get("accuracy") or {}
    if payload.get("final_step") is not None:
        return str(payload["final_step"])
    return max(acc, key=int) if acc else None


def spread_pp(s: Mapping[str, Any]) -> str:
    if not s or s.get("mean") is None:
        return "–"
    std = f" ± {100 * s['std']:.1f}" if s.get("std") else ""
    return f"{fmt_pp(s['mean'])}{std} [{fmt_pp(s.get('min'), 0)}, {fmt_pp(s.get('max'), 0)}]"


def tone(delta: float) -> str:
    return "neg" if delta < -1e-9 else "pos" if delta > 1e-9 else "zero"


def cell_table(found: Sequence[PerRun]) -> Table | None:
    """family/level -> base and final accuracy, mean over the runs of each group."""
    acc: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for p in found:
        steps = p.payload.get("accuracy") or {}
        if "0" not in steps:
            continue
        base, fin = steps["0"].get("by_cell") or {}, (steps.get(final_step_of(p.payload)) or {}).get("by_cell") or {}
        for cell, v in base.items():
            if cell in fin:
                acc.setdefault(cell, {}).setdefault(p.run.group, []).append((v, fin[cell]))
    if not acc:
        return None
    groups = list(dict.fromkeys(g for cells in acc.values() for g in cells))
    rows = []
    for cell in sorted(acc, key=lambda c: (c.split("/")[0], level_order(c.split("/")[-1]))):
        row: list[Any] = [cell]
        for g in groups:
            pairs = acc[cell].get(g)
            if not pairs:
                row.append("–")
                continue
            b, f = mean_of([x for x, _ in pairs]), mean_of([y for _, y in pairs])
            row.append(Cell(f"{fmt_pct(b, 0)} → {fmt_pct(f, 0)}", note=f"({fmt_pp(f - b, 0)})", tone=tone(f - b)))
        rows.append(row)
    return table(["probe cell", *groups], rows)
