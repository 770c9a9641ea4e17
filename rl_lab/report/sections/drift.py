"""Section 6: drift from the base vs prior-skill change, from analysis/drift.json (+ each trial's own)."""

from __future__ import annotations

from pathlib import Path

from rl_lab.analysis import plots_behaviour
from rl_lab.analysis.drift import FORWARD, REVERSE
from rl_lab.report import figures
from rl_lab.report.context import Context
from rl_lab.report.findings import Finding, findings_drift_points, findings_drift_run
from rl_lab.report.numbers import dig, fmt_num, fmt_pp
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "drift", "Drift from the base vs prior-skill change"
LEAD = ("Token-level KL between base and tuned policies along sampled sequences, summed exactly over the "
        "vocabulary: forward KL(base‖tuned) on base samples, reverse KL(tuned‖base) on tuned samples.")
SUB_INPUTS = ("checkpoints", "prompts", "samples_per_prompt", "prompt_seed")


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    root = ctx.open_section(sec, "drift", f"rl-lab analyze drift {ctx.root}")
    payload = root.payload
    if payload is None:
        return sec
    guide = plots_behaviour.READING_GUIDE
    if payload.get("points") is not None:  # a sweep: one point per run
        points = payload["points"]
        if any(p.get("prior_change") is not None for p in points):
            sec.blocks.append(figure("Drift against prior-skill change", plots_behaviour.plot_drift_vs_prior(points),
                                     guide["drift_vs_prior_skill.png"]))
        found = [p for p in ctx.per_run("drift", root) if p.payload.get("by_step")]
        sec.inputs += [p.record(SUB_INPUTS) for p in found]
        if found:
            sec.blocks.append(figure("Forward KL per checkpoint", figures.plot_kl_runs({p.run.label: p.payload for p in found}),
                                     figures.READING_GUIDE["drift_runs"]))
        rows = [[p.get("label") or Path(p.get("run_dir", "?")).name, p.get("group", "–"), fmt_num(p.get("kl"), 4),
                 fmt_num(p.get("reverse_kl"), 4), fmt_pp(p.get("prior_change")),
                 p.get("prior_change_source") or "–"] for p in points]
        sec.blocks.append(Card("Per run, last checkpoint", table(
            ["run", "group", "KL(base‖tuned)/token", "KL(tuned‖base)/token", "prior-skill Δ", "prior-skill source"],
            rows, numeric_from=2, text_cols=(5,))))
        sec.findings = findings_drift_points(points, ctx.thresholds)
        return sec
    by_step = payload.get("by_step") or {}
    if by_step:
        sec.blocks.append(figure("KL per checkpoint", plots_behaviour.plot_drift(by_step, title=ctx.runs[0].label),
                                 guide["drift.png"]))
    rows = [[s, fmt_num(dig(v, f"{FORWARD}.per_token"), 4), fmt_num(dig(v, f"{REVERSE}.per_token"), 4),
             fmt_num(dig(v, f"{FORWARD}.per_sequence"), 3), fmt_num(dig(v, f"{REVERSE}.per_sequence"), 3)]
            for s, v in sorted(by_step.items(), key=lambda kv: int(kv[0]))]
    sec.blocks.append(Card("KL per checkpoint (nats)", table(
        ["step", "forward / token", "reverse / token", "forward / sequence", "reverse / sequence"], rows)))
    sec.findings = findings_drift_run(payload)
    contamination = ctx.analysis("contamination").payload
    if contamination and contamination.get("prior_skill_accuracy_change") is not None:
        sec.findings.append(Finding("info", "drift", "Prior-skill accuracy change over the same run: "
                                    f"{fmt_pp(contamination['prior_skill_accuracy_change'])} (one run: no "
                                    "correlation across runs is possible)."))
    return sec
