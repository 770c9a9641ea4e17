"""Section 6: drift from the base vs prior-skill change, from analysis/drift.json (+ each trial's own)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.analysis.drift import FORWARD, REVERSE
from rl_lab.report import figures
from rl_lab.report.context import Context
from rl_lab.report.findings import Finding, findings_drift_points, findings_drift_run
from rl_lab.report.numbers import dig, fmt_ci, fmt_num, fmt_pp
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "drift", "Drift from the base vs prior-skill change"
LEAD = ("Token-level KL between base and tuned policies along sampled sequences, summed exactly over the "
        "vocabulary: forward KL(base‖tuned) on base samples, reverse KL(tuned‖base) on tuned samples.")
SUB_INPUTS = ("checkpoints", "prompts", "samples_per_prompt", "prompt_seed")


CAPTION = ("KL per token with its 95% interval: percentile bootstrap over the prompts (a prompt's samples "
           "resampled together), each resample's total KL / total tokens.")


def kl_cell(interval: Any, value: float | None) -> str:
    """KL per token with its interval (files written before intervals: the value alone)."""
    return fmt_ci(interval, "num", 4) if interval else fmt_num(value, 4)


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
        rows = [[p.get("label") or Path(p.get("run_dir", "?")).name, p.get("group", "–"),
                 kl_cell(p.get("kl_interval"), p.get("kl")), kl_cell(p.get("reverse_kl_interval"), p.get("reverse_kl")),
                 fmt_ci(p["prior_change_interval"], "pp") if p.get("prior_change_interval") else fmt_pp(p.get("prior_change")),
                 p.get("prior_change_source") or "–"] for p in points]
        sec.blocks.append(Card("Per run, last checkpoint", table(
            ["run", "group", "KL(base‖tuned)/token [95%]", "KL(tuned‖base)/token [95%]", "prior-skill Δ [95%]",
             "prior-skill source"], rows, numeric_from=2, text_cols=(5,), caption=CAPTION)))
        groups = payload.get("groups") or {}
        if any(len(g.get("runs") or []) > 1 for g in groups.values()):
            rows = [[name, len(g.get("runs") or []), kl_cell(g.get("kl_interval"), None),
                     kl_cell(g.get("reverse_kl_interval"), None)] for name, g in groups.items()]
            sec.blocks.append(Card("Per group, seeds pooled", table(
                ["group", "seeds", "KL(base‖tuned)/token [95%]", "KL(tuned‖base)/token [95%]"], rows,
                caption="95% interval: bootstrap over seeds, then prompts; each resample's total KL / total tokens.")))
        sec.findings = findings_drift_points(points, ctx.thresholds)
        return sec
    by_step = payload.get("by_step") or {}
    if by_step:
        sec.blocks.append(figure("KL per checkpoint", plots_behaviour.plot_drift(by_step, title=ctx.runs[0].label),
                                 guide["drift.png"]))
    rows = [[s, kl_cell(dig(v, f"{FORWARD}.per_token_interval"), dig(v, f"{FORWARD}.per_token")),
             kl_cell(dig(v, f"{REVERSE}.per_token_interval"), dig(v, f"{REVERSE}.per_token")),
             fmt_num(dig(v, f"{FORWARD}.per_sequence"), 3), fmt_num(dig(v, f"{REVERSE}.per_sequence"), 3)]
            for s, v in sorted(by_step.items(), key=lambda kv: int(kv[0]))]
    sec.blocks.append(Card("KL per checkpoint (nats)", table(
        ["step", "forward / token [95%]", "reverse / token [95%]", "forward / sequence", "reverse / sequence"], rows,
        caption=CAPTION + " Step 0 is the base itself: 0 by definition.")))
    sec.findings = findings_drift_run(payload)
    contamination = ctx.analysis("contamination").payload
    if contamination and contamination.get("prior_skill_accuracy_change") is not None:
        interval = contamination.get("prior_skill_accuracy_change_interval")
        change = (fmt_ci(interval, "pp") if interval else fmt_pp(contamination["prior_skill_accuracy_change"]))
        sec.findings.append(Finding("info", "drift", f"Prior-skill accuracy change over the same run: {change} "
                                    "(one run: no correlation across runs is possible)."))
    return sec
