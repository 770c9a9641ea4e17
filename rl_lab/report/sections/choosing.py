"""Section: choosing vs changing — how much of RL's gain can be had without changing the weights:
the comparison of every arm (``rl_lab.report.sections.arms``), then format forcing in detail (each
run's analysis/forcing.json, ``rl-lab analyze forcing``) and steering against strength."""

from __future__ import annotations

from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.report.context import Context
from rl_lab.report.findings import Finding
from rl_lab.report.findings.common import estimate
from rl_lab.report.numbers import fmt_ci, fmt_pct
from rl_lab.report.sections.arms import comparison_blocks, proxy_findings
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "choosing", "Choosing vs changing"
LEAD = ("The same problems answered by the base as it answers, by the base with every answer started in one "
        "format, steered by an activation vector, by another base proxy-tuned with the run's change (no weight "
        "touched), and by the trained model (GRPO, LoRA or SFT). If a weight-free arm matches the trained one, the "
        "gain was a choice among behaviours the base already had.")
SUB_INPUTS = ("problems", "problems_per_level", "decoding", "tuned_step")


def _share_text(head: dict[str, Any], best: str) -> tuple[str, str]:
    """(table cell, finding kind) for a run's share of RL's gain."""
    if head.get("share") is None:
        return "undefined: " + str(head.get("why_no_share", "no share recorded")), "inconclusive"
    si = estimate(head.get("share_interval"))
    cell = fmt_ci(si, "num", 2) if si else f"{head['share']:.2f}"
    return f"{cell} (forcing {best})", "observed"


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    root = ctx.open_section(sec, "forcing", f"rl-lab analyze forcing {ctx.root}", record=ctx.kind == "run")
    sec.blocks += comparison_blocks(ctx)
    for kind, text in proxy_findings(ctx):
        sec.findings.append(Finding(kind, "choosing", text + "."))
    if root.payload is None:
        steering_card(ctx, sec)
        if sec.blocks:  # steering or proxy ran, forcing did not: show what there is, and say what is missing
            sec.findings.append(Finding("missing", "choosing", f"Format forcing was not run: {sec.reason}."))
            sec.reason = None
        return sec
    found = ctx.per_run("forcing", root)
    if ctx.kind == "sweep":
        sec.inputs += [p.record(SUB_INPUTS) for p in found]
    rows, texts = [], []
    for p in found:
        acc = p.payload.get("accuracy") or {}
        policies = p.payload.get("policies") or list(acc)
        share, kind = _share_text(p.payload.get("share_of_rl_gain") or {}, p.payload.get("best_format", "?"))
        rows.append([p.run.label, p.run.group, *(fmt_ci(estimate(acc.get(k)), "pct") for k in policies), share])
        texts.append((kind, f"{p.run.label}: {share}"))
    if found:
        first = found[0].payload
        policies = first.get("policies") or list(first.get("accuracy") or {})
        sec.blocks.append(Card("Accuracy on the trained levels, and the share of RL's gain forcing recovers", table(
            ["run", "group", *policies, "share of RL's gain [95%]"], rows, numeric_from=2,
            caption="Accuracy: exact binomial 95% interval over the problems. Share = (forced − base) / (tuned − base) "
                    "for the best format, chosen on half of the problems and measured on the other half; its interval "
                    "is a paired bootstrap over problems, and it is undefined when RL's own gain is not "
                    "distinguishable from 0.")))
        if ctx.kind == "run":
            sec.blocks.append(figure("Accuracy per trained cell", plots_behaviour.plot_forcing(
                first.get("by_cell") or {}, policies, title=found[0].run.label),
                plots_behaviour.READING_GUIDE["forcing.png"]))
    steering_card(ctx, sec)
    measured = [t for k, t in texts if k == "observed"]
    if measured:
        sec.findings.append(Finding("observed", "choosing", "Share of RL's pass@1 gain that choosing the best format "
                                    "in the untouched base recovers: " + "; ".join(measured) + "."))
    undefined = [t for k, t in texts if k != "observed"]
    if undefined:
        sec.findings.append(Finding("inconclusive", "choosing", "; ".join(undefined) + "."))
    compliance = [(p.run.label, p.payload.get("forced_format_compliance") or {}) for p in found]
    low = [f"{label}: {fmt}" f" {fmt_pct(v, 0)}" for label, c in compliance for fmt, v in c.items() if v < 0.5]
    if low:
        sec.findings.append(Finding("info", "choosing", "Forced answers the taxonomy did not classify as the forced "
                                    "format in most cases (the model left the format after its opening): "
                                    + "; ".join(low) + "."))
    return sec


def steering_card(ctx: Context, sec: Section) -> None:
    """Each run's analysis/steering.json, if ``rl-lab analyze steering`` ran: accuracy and the formats
    of the base against steering strength."""
    rows = []
    for r in ctx.runs:
        payload = ctx.analysis("steering", r.info.path).payload
        if not payload:
            continue
        towards = (payload.get("contrast") or {}).get("towards", "?")
        away = (payload.get("contrast") or {}).get("away_from", "?")
        for strength, v in (payload.get("by_strength") or {}).items():
            shares = v.get("format_shares") or {}
            top = max(shares, key=shares.get) if shares else "–"
            rows.append([r.label, f"{towards} − {away}, layer {payload.get('layer')}", strength,
                         fmt_ci(estimate(v.get("accuracy")), "pct"), f"{top} {fmt_pct(shares.get(top), 0)}",
                         fmt_pct(shares.get(towards), 0)])
    if rows:
        sec.blocks.append(Card("Activation steering of the base (rl-lab analyze steering)", table(
            ["run", "vector", "strength", "accuracy [95%]", "most common format", "share in the steered-to format"],
            rows, numeric_from=2, caption="The vector is built on half of the problems from the base's own answers "
                                          "(forced into each format, or its correct minus its incorrect ones); "
                                          "accuracy is measured on the other half.")))
