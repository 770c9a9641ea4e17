"""Section 4: pass@k of base vs tuned, from analysis/passk.json (for a sweep without one: each trial's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rl_lab.analysis import plots_behaviour
from rl_lab.report.context import Context, Loaded
from rl_lab.report.findings import findings_passk
from rl_lab.report.findings.passk import units
from rl_lab.report.numbers import dig, fmt_ci, fmt_num, fmt_pct
from rl_lab.report.view import Card, Section, figure, table

KEY, TITLE = "passk", "pass@k: base vs tuned"
LEAD = ("Unbiased pass@k over n samples per problem (Chen et al. 2021): does RL widen coverage, or only "
        "sharpen pass@1 until the base catches up at larger k?")
MAX_KS = 8  # pass@k columns in the table


def level_order(x: Any) -> tuple[int, str]:
    """Sort key of a level name: numbers in order, anything else after them."""
    try:
        return (int(x), "")
    except (TypeError, ValueError):
        return (1 << 30, str(x))


def crossing_text(c: Mapping[str, Any] | None) -> str:
    if not c:
        return "–"
    status = c.get("status")
    if status == "crosses":
        return f"k = {c.get('k')}"
    if status == "base_ahead_from_start":
        return "base ahead from k = 1"
    return "no crossover"


def passk_cell(model: Mapping[str, Any], k: int) -> str:
    """pass@k of a model with its interval (files written before intervals: the value alone)."""
    stored = dig(model, f"overall.pass_at_k_interval.{k}")
    return fmt_ci(stored, "num", 2) if stored else fmt_num((dig(model, "overall.pass_at_k") or {}).get(str(k)))


def build(ctx: Context) -> Section:
    sec = Section(KEY, TITLE, LEAD)
    root = ctx.analysis("passk")
    if root.payload is not None:
        payloads = [("", root.payload, root.path)]
    else:
        payloads = [(p.run.label, p.payload, p.path) for p in ctx.per_run("passk", root)]
    if not payloads:
        sec.reason = f"{root.why}; run `rl-lab eval passk --model BASE --model TUNED --config CFG --out {ctx.root}`"
        return sec
    guide = plots_behaviour.READING_GUIDE
    for prefix, payload, path in payloads:
        tag = f"{prefix}: " if prefix else ""
        models = payload.get("models") or {}
        base = payload.get("base")
        sec.inputs.append(Loaded(payload, path).record())
        curves = {lb: dig(m, "overall.pass_at_k") or {} for lb, m in models.items()}
        if curves:
            bands = {lb: dig(m, "overall.pass_at_k_interval") or {} for lb, m in models.items()}
            sec.blocks.append(figure(f"{tag}pass@k", plots_behaviour.plot_passk(
                curves, title=f"{tag}pass@k (base: {base})", bands=bands), guide["passk.png"]))
        levels = list((models.get(base) or {}).get("by_difficulty") or {})
        if levels:
            panels = {f"level {lv}": {lb: dig(m, f"by_difficulty.{lv}.pass_at_k") or {} for lb, m in models.items()}
                      for lv in levels}
            sec.blocks.append(figure(f"{tag}pass@k per difficulty", plots_behaviour.plot_passk_panels(panels),
                                     guide["passk_by_difficulty.png"], wide=len(levels) > 3))
        ks = sorted({int(k) for c in curves.values() for k in c})
        shown = ks if len(ks) <= MAX_KS else sorted({ks[0], *ks[1:-1:max(1, len(ks) // 6)], ks[-1]})
        rows = [[lb + (" (base)" if lb == base else ""), fmt_num(dig(m, "overall.problems")),
                 *(passk_cell(m, k) for k in shown), fmt_pct(dig(m, "overall.coverage"), 0)]
                for lb, m in models.items()]
        sec.blocks.append(Card(f"{tag}pass@k per model (all problems)", table(
            ["model", "problems", *(f"pass@{k}" for k in shown), "coverage"], rows,
            caption=f"Unbiased pass@k, mean over problems, n = {dig(payload, 'inputs.n')} samples each; 95% interval: "
                    "percentile bootstrap over the problems.")))
        compared, _ = units(payload)
        if compared:
            rows = [[u.label, u.models, *(fmt_ci(u.vs_base.get(k), "delta") for k in shown)] for u in compared]
            sec.blocks.append(Card(f"{tag}tuned − base pass@k (vs {base})", table(
                ["tuned", "models", *(f"pass@{k}" for k in shown)], rows,
                caption="Paired per problem (every model answered the same problems); a group of several tuned models "
                        "(same run group and step, different seeds) is pooled: bootstrap over seeds and the shared "
                        "problems. Below 0 at large k: the base has caught up.")))
        cross = payload.get("crossover") or {}
        if cross:
            lv_names = sorted({lv for c in cross.values() for lv in (c.get("by_difficulty") or {})}, key=level_order)
            rows = [[lb, crossing_text(c.get("overall")),
                     *(crossing_text((c.get("by_difficulty") or {}).get(lv)) for lv in lv_names)]
                    for lb, c in cross.items()]
            sec.blocks.append(Card(f"{tag}where the base catches up (vs {base})", table(
                ["tuned model", "all problems", *(f"level {lv}" for lv in lv_names)], rows, numeric_from=99)))
        for f in findings_passk(payload, ctx.thresholds):
            f.text = tag + f.text if tag else f.text
            sec.findings.append(f)
    return sec
