"""``rl-lab report RUN_OR_SWEEP [--out FILE]``: one self-contained HTML page of a run or a sweep.

It reads only what training and the analyses wrote (config, metrics.jsonl, sweep_summary.json,
``analysis/*.json``) and re-draws every figure from those numbers, so each plot agrees with the
table beside it.  Images are base64 data URIs, the CSS is inline and a Content-Security-Policy
forbids any network fetch: the file can be mailed or archived as is.  A section whose JSON is
missing or unreadable becomes a "not run / not available: <why>" box; the page is still written.

The headline findings are sentences computed from the measured numbers, including the plain
statement when a phenomenon did *not* appear (no collapse, no crossover, no prior-skill loss).
The HTML is assembled with f-strings and ``html.escape``: a template engine would be a new
dependency for a page with no logic beyond loops.
"""

from __future__ import annotations

import base64
import html
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.core import rundir
from rl_lab.core.rundir import RunDir
from rl_lab.report.findings import (
    FORMATS,
    SHORTCUT_NAMES,
    Finding,
    dig,
    findings_drift_points,
    findings_drift_run,
    findings_formats,
    findings_passk,
    findings_prior,
    findings_shortcuts,
    findings_training,
    findings_updates,
    fmt_num,
    fmt_pct,
    fmt_pp,
    level_keys,
    mean_of,
)

MAX_HEATMAPS = 6


# =========================================================================== data model
@dataclass
class Section:
    key: str
    title: str
    lead: str
    reason: str | None = None  # set: the section shows "not run / not available: reason"
    findings: list[Finding] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)  # HTML fragments
    inputs: list[tuple[str, Any]] = field(default_factory=list)  # (label, what was read)


@dataclass
class RunData:
    info: RunDir
    group: str
    seed: int | None
    metrics: list[dict[str, Any]]
    metrics_error: str | None = None

    @property
    def label(self) -> str:
        return self.info.name


class Context:
    """Everything the sections read, loaded once."""

    def __init__(self, path: Path):
        self.resolved = rundir.resolve(path)
        self.root = self.resolved.root
        self.kind = self.resolved.kind
        self.summary = _read_json_or_none(self.root / rundir.SWEEP_SUMMARY) if self.kind == "sweep" else None
        config_file = self.root / ("sweep_config.yaml" if self.kind == "sweep" else "config.yaml")
        if not config_file.is_file():
            config_file = self.resolved.runs[0].path / "config.yaml"
        self.config_file = config_file if config_file.is_file() else None
        self.config_text = self.config_file.read_text() if self.config_file else None
        self.config = _with_defaults(_safe_yaml(self.config_text))
        self.runs = [self._load_run(r) for r in self.resolved.runs]

    def _load_run(self, info: RunDir) -> RunData:
        group = rundir.group_label(info)
        path = info.path / "metrics.jsonl"
        rows, error = [], None
        if path.is_file():
            try:
                from rl_lab.core.io import read_jsonl

                rows = [r for r in read_jsonl(path) if isinstance(r.get("step"), int | float)]
            except (OSError, ValueError) as exc:
                error = f"could not read {path}: {exc}"
        try:
            seed = info.seed()
        except (OSError, ValueError):
            seed = None
        return RunData(info, group, seed, rows, error)

    def analysis(self, name: str, where: Path | None = None) -> tuple[dict[str, Any] | None, Path, str | None]:
        """``(payload, path, why missing)`` of ``<where or root>/analysis/<name>.json``."""
        path = Path(where or self.root) / "analysis" / f"{name}.json"
        if not path.is_file():
            return None, path, f"{path} not found"
        try:
            payload = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return None, path, f"could not read {path}: {exc}"
        if not isinstance(payload, dict):
            return None, path, f"{path} does not hold a JSON object"
        return payload, path, None

    def run_by_dir(self, run_dir: str) -> RunData | None:
        for r in self.runs:
            if str(r.info.path) == str(run_dir) or r.info.path.resolve() == Path(run_dir).resolve():
                return r
        return None


def _read_json_or_none(path: Path) -> Any:
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _safe_yaml(text: str | None) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _with_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The config with the schema's defaults filled in (the header shows what ran), or as read
    when it no longer validates (an old run must still get a report)."""
    from rl_lab.config import validate_config
    from rl_lab.core.errors import ConfigError

    try:
        return validate_config(raw).to_dict() if raw else raw
    except (ConfigError, ValueError):
        return raw


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


# =========================================================================== HTML fragments
class Raw(str):
    """An already-escaped HTML cell."""


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "", numeric_from: int = 1,
          text_cols: Sequence[int] = ()) -> str:
    """Cells are escaped unless ``Raw``; columns from ``numeric_from`` on, except ``text_cols``, are right-aligned."""
    def cell(tag: str, value: Any, i: int) -> str:
        cls = ' class="num"' if i >= numeric_from and i not in text_cols else ""
        content = value if isinstance(value, Raw) else esc(value)
        return f"<{tag}{cls}>{content}</{tag}>"

    head = "".join(cell("th", h, i) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", v, i) for i, v in enumerate(row)) + "</tr>" for row in rows)
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return f'<div class="tbl-wrap"><table class="tbl">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def figure(title: str, png: bytes | None, guide: str, wide: bool = False, why_missing: str = "") -> str:
    cls = "card fig wide" if wide else "card fig"
    if png is None:
        return f'<div class="{cls}"><h3>{esc(title)}</h3>{missing_box(why_missing or "figure not drawn")}</div>'
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure class="{cls}"><h3>{esc(title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{esc(title)}">'
            f'<figcaption class="guide">{esc(guide)}</figcaption></figure>')


def card(title: str, body: str, wide: bool = True) -> str:
    return f'<div class="card{" wide" if wide else ""}"><h3>{esc(title)}</h3>{body}</div>'


def missing_box(reason: str) -> str:
    return f'<div class="missing"><strong>not run / not available:</strong> {esc(reason)}</div>'


def _prune(obj: Any, depth: int = 0) -> Any:
    """A readable excerpt of an ``inputs`` record: long lists and strings cut, with a count."""
    if isinstance(obj, dict):
        items = list(obj.items())
        out = {str(k): _prune(v, depth + 1) for k, v in items[:30]}
        if len(items) > 30:
            out["…"] = f"{len(items) - 30} more keys"
        return out
    if isinstance(obj, list):
        out = [_prune(v, depth + 1) for v in obj[:12]]
        if len(obj) > 12:
            out.append(f"… {len(obj) - 12} more")
        return out
    if isinstance(obj, str) and len(obj) > 300:
        return obj[:300] + "…"
    return obj


def inputs_block(inputs: Sequence[tuple[str, Any]]) -> str:
    parts = []
    for label, data in inputs:
        text = data if isinstance(data, str) else json.dumps(_prune(data), indent=2, default=str)
        parts.append(f"<h4>{esc(label)}</h4><pre>{esc(text)}</pre>")
    return f'<details class="inputs"><summary>Inputs this section read</summary>{"".join(parts)}</details>'


# =========================================================================== helpers over data
def _series(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, float]]:
    out: dict[str, dict[int, float]] = {}
    for row in rows:
        step = int(row["step"])
        for key, value in row.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                out.setdefault(key, {})[step] = float(value)
    return out


# =========================================================================== sections
def section_training(ctx: Context) -> Section:
    from rl_lab.report import figures as report_plots

    sec = Section("training", "Reward and accuracy per difficulty",
                  "What the policy earned during RL, from each run's metrics.jsonl (one row per logged step).")
    runs = [r for r in ctx.runs if r.metrics]
    sec.inputs = [("metrics.jsonl", {r.label: f"{r.info.path / 'metrics.jsonl'} ({len(r.metrics)} rows, steps "
                                    f"{int(r.metrics[0]['step'])}..{int(r.metrics[-1]['step'])})" if r.metrics else
                                    (r.metrics_error or f"{r.info.path / 'metrics.jsonl'} missing or empty")
                                    for r in ctx.runs})]
    if not runs:
        sec.reason = "no run has metrics.jsonl rows (training has not logged a step yet)"
        return sec
    data = [{"label": r.label, "group": r.group, "series": _series(r.metrics)} for r in runs]
    levels = level_keys([d["series"] for d in data])
    guide = report_plots.READING_GUIDE
    sec.blocks.append(figure("Reward per step", report_plots.plot_metric_runs(
        data, "reward", "mean reward", band_key="reward_std"), guide["reward"]))
    length_key = next((k for k in ("completion_length", "completions/mean_length")
                       if any(k in d["series"] for d in data)), None)
    dyn = [(k, label) for k, label in (("entropy", "policy entropy"), ("kl", "KL to reference"),
                                       (length_key, "mean completion length")) if k and any(k in d["series"] for d in data)]
    if dyn:
        sec.blocks.append(figure("Training dynamics", report_plots.plot_dynamics(data, dyn), guide["dynamics"], wide=len(dyn) > 2))
    if levels:
        sec.blocks.append(figure("Accuracy per difficulty level", report_plots.plot_accuracy_levels(data, levels),
                                 guide["accuracy_levels"], wide=len(levels) > 2))
    else:
        sec.blocks.append(figure("Accuracy per difficulty level", None, "",
                                 why_missing="metrics.jsonl has no accuracy/level_<d> keys"))
    trial_of = {str(t.get("run_dir")): t for t in (ctx.summary or {}).get("trials", [])}
    rows = []
    for r in ctx.runs:
        s = _series(r.metrics)
        t = trial_of.get(str(r.info.path), {})
        last = lambda key, s=s: s[key][max(s[key])] if s.get(key) else None  # noqa: E731
        rows.append([r.label, r.group, fmt_num(r.seed), t.get("status") or r.info.status or "–",
                     fmt_num(t.get("attempts")), fmt_num(int(r.metrics[-1]["step"]) if r.metrics else None),
                     fmt_num(last("reward")), *(fmt_pct(last(f"accuracy/level_{lv}"), 0) for lv in levels)])
    sec.blocks.append(card("Runs: last logged values", table(
        ["run", "group", "seed", "status", "attempts", "last step", "reward", *(f"acc L{lv}" for lv in levels)],
        rows, numeric_from=2, text_cols=(3,))))
    sec.findings = findings_training(data)
    return sec


def section_formats(ctx: Context) -> Section:
    from rl_lab.analysis import plots_behaviour
    from rl_lab.report import figures as report_plots

    sec = Section("formats", "Format collapse",
                  "Share of each answer format (terse / steps / tagged / other) among sampled rollouts, step by step.")
    payload, path, why = ctx.analysis("formats")
    if payload is None:
        sec.reason = f"{why}; run `rl-lab analyze formats {ctx.root}`"
        return sec
    threshold = float(payload.get("threshold") or 0.9)
    per_run: dict[str, dict[str, Any]] = {}
    sec.inputs.append((str(path), {"threshold": threshold, "created": payload.get("created"), **(payload.get("inputs") or {})}))
    if ctx.kind == "run":
        per_run[ctx.runs[0].label] = payload
    else:
        for r in ctx.runs:
            sub, sub_path, _ = ctx.analysis("formats", r.info.path)
            if sub is not None:
                per_run[r.label] = sub
                sec.inputs.append((str(sub_path), {"steps": (sub.get("inputs") or {}).get("steps"),
                                                   "rollout files": len((sub.get("inputs") or {}).get("rollout_files") or [])}))
    summaries: dict[str, Mapping[str, Any]] = dict(per_run)
    if ctx.kind == "sweep":  # runs without their own JSON still have the sweep's one-line summary
        for run_dir, row in (payload.get("runs") or {}).items():
            r = ctx.run_by_dir(run_dir)
            label = r.label if r else Path(run_dir).name
            summaries.setdefault(label, row)
    guide = plots_behaviour.READING_GUIDE
    if ctx.kind == "run":
        pngs = report_plots.render_png(plots_behaviour.plot_format_run, payload, as_dir=True, title=ctx.runs[0].label)
        for name, title in (("format_shares.png", "Format shares"), ("format_shares_by_level.png", "Format shares per level"),
                            ("format_entropy.png", "Format entropy")):
            if name in pngs:
                sec.blocks.append(figure(title, pngs[name], guide[name], wide=name == "format_shares_by_level.png"))
    else:
        if per_run:
            sec.blocks.append(figure("Format shares per run", report_plots.plot_format_runs(per_run),
                                     report_plots.READING_GUIDE["format_runs"], wide=True))
        groups = payload.get("groups") or {}
        if groups:
            pngs = report_plots.render_png(plots_behaviour.plot_format_seeds, groups, as_dir=True)
            if pngs:
                sec.blocks.append(figure("Format shares across seeds", next(iter(pngs.values())),
                                         guide["format_shares_seeds.png"], wide=True))
    group_of = {r.label: r.group for r in ctx.runs}
    rows = []
    for label, s in summaries.items():
        fs = s.get("final_shares") or {}
        ent = s.get("entropy_bits") or {}
        last_ent = ent[max(ent, key=int)] if ent else None
        rows.append([label, group_of.get(label, "–"), "yes" if s.get("collapsed") else "no",
                     fmt_num(s.get("collapse_step")), s.get("winner") or "–",
                     *(fmt_pct(fs.get(f), 0) for f in FORMATS), fmt_num(last_ent, 2)])
    sec.blocks.append(card(f"Collapse per run (threshold {fmt_pct(threshold, 0)})", table(
        ["run", "group", "collapsed", "step", "winner", *(f"final {f}" for f in FORMATS), "entropy (bits)"],
        rows, numeric_from=3, text_cols=(4,))))
    sec.findings = findings_formats(summaries, threshold)
    return sec


def _passk_payloads(ctx: Context) -> tuple[list[tuple[str, dict[str, Any], Path]], str]:
    payload, path, why = ctx.analysis("passk")
    if payload is not None:
        return [("", payload, path)], ""
    found = []
    if ctx.kind == "sweep":
        for r in ctx.runs:
            sub, sub_path, _ = ctx.analysis("passk", r.info.path)
            if sub is not None:
                found.append((r.label, sub, sub_path))
    return found, why or ""


def section_passk(ctx: Context) -> Section:
    from rl_lab.analysis import plots_behaviour
    from rl_lab.report import figures as report_plots

    sec = Section("passk", "pass@k: base vs tuned",
                  "Unbiased pass@k over n samples per problem (Chen et al. 2021): does RL widen coverage, or only "
                  "sharpen pass@1 until the base catches up at larger k?")
    payloads, why = _passk_payloads(ctx)
    if not payloads:
        sec.reason = f"{why}; run `rl-lab eval passk --model BASE --model TUNED --config CFG --out {ctx.root}`"
        return sec
    guide = plots_behaviour.READING_GUIDE
    for prefix, payload, path in payloads:
        tag = f"{prefix}: " if prefix else ""
        models = payload.get("models") or {}
        base = payload.get("base")
        sec.inputs.append((str(path), {"created": payload.get("created"), **(payload.get("inputs") or {})}))
        curves = {lb: dig(m, "overall.pass_at_k") or {} for lb, m in models.items()}
        if curves:
            pngs = report_plots.render_png(plots_behaviour.plot_passk, curves, filename="passk.png",
                                           title=f"{tag}pass@k (base: {base})")
            sec.blocks.append(figure(f"{tag}pass@k", pngs.get("passk.png"), guide["passk.png"]))
        levels = list((models.get(base) or {}).get("by_difficulty") or {})
        if levels:
            panels = {f"level {lv}": {lb: dig(m, f"by_difficulty.{lv}.pass_at_k") or {} for lb, m in models.items()}
                      for lv in levels}
            pngs = report_plots.render_png(plots_behaviour.plot_passk_panels, panels, filename="passk_by_difficulty.png")
            sec.blocks.append(figure(f"{tag}pass@k per difficulty", pngs.get("passk_by_difficulty.png"),
                                     guide["passk_by_difficulty.png"], wide=len(levels) > 3))
        ks = sorted({int(k) for c in curves.values() for k in c})
        shown = ks if len(ks) <= 8 else sorted({ks[0], *ks[1:-1:max(1, len(ks) // 6)], ks[-1]})
        rows = [[lb + (" (base)" if lb == base else ""), fmt_num(dig(m, "overall.problems")),
                 *(fmt_num(curves[lb].get(str(k))) for k in shown), fmt_pct(dig(m, "overall.coverage"), 0)]
                for lb, m in models.items()]
        sec.blocks.append(card(f"{tag}pass@k per model (all problems)", table(
            ["model", "problems", *(f"pass@{k}" for k in shown), "coverage"], rows)))
        cross = payload.get("crossover") or {}
        if cross:
            lv_names = sorted({lv for c in cross.values() for lv in (c.get("by_difficulty") or {})}, key=_int_or_str)
            rows = [[lb, _crossing_text(c.get("overall")), *(_crossing_text((c.get("by_difficulty") or {}).get(lv))
                                                              for lv in lv_names)] for lb, c in cross.items()]
            sec.blocks.append(card(f"{tag}where the base catches up (vs {base})", table(
                ["tuned model", "all problems", *(f"level {lv}" for lv in lv_names)], rows, numeric_from=99)))
        for f in findings_passk(payload):
            f.text = tag + f.text if tag else f.text
            sec.findings.append(f)
    return sec


def _int_or_str(x: Any) -> tuple[int, str]:
    try:
        return (int(x), "")
    except (TypeError, ValueError):
        return (1 << 30, str(x))


def _crossing_text(c: Mapping[str, Any] | None) -> str:
    if not c:
        return "–"
    status = c.get("status")
    if status == "crosses":
        return f"k = {c.get('k')}"
    if status == "base_ahead_from_start":
        return "base ahead from k = 1"
    return "no crossover"


def section_contamination(ctx: Context) -> Section:
    from rl_lab.analysis import plots_behaviour
    from rl_lab.report import figures as report_plots

    sec = Section("contamination", "Prior skills and shortcuts",
                  "Greedy accuracy on prior-skill probes (held-out families and levels the curriculum never draws) at "
                  "each checkpoint against the base, and shortcut detectors on the rollouts.")
    payload, path, why = ctx.analysis("contamination")
    if payload is None:
        sec.reason = f"{why}; run `rl-lab analyze contamination {ctx.root}`"
        return sec
    sec.inputs.append((str(path), {"created": payload.get("created"), **(payload.get("inputs") or {})}))
    per_run: dict[str, tuple[RunData | None, dict[str, Any]]] = {}
    if ctx.kind == "run":
        per_run[ctx.runs[0].label] = (ctx.runs[0], payload)
    else:
        for t in payload.get("trials") or []:
            r = ctx.run_by_dir(t.get("run_dir", ""))
            sub, sub_path, _ = ctx.analysis("contamination", r.info.path if r else Path(t.get("run_dir", "")))
            if sub is not None:
                per_run[r.label if r else Path(t["run_dir"]).name] = (r, sub)
                sec.inputs.append((str(sub_path), {k: (sub.get("inputs") or {}).get(k) for k in
                                                   ("checkpoints", "problems_per_level", "decoding", "probe_seed")}))
    guide = plots_behaviour.READING_GUIDE
    curves = {label: {s: a.get("accuracy") for s, a in (p.get("accuracy") or {}).items()}
              for label, (_, p) in per_run.items() if p.get("accuracy")}
    if curves:
        pngs = report_plots.render_png(plots_behaviour.plot_contamination, curves, filename="contamination.png")
        sec.blocks.append(figure("Prior-skill probe accuracy per checkpoint", pngs.get("contamination.png"),
                                 guide["contamination.png"]))
    table_ = payload.get("curriculum_comparison") or {}
    if table_:
        pngs = report_plots.render_png(plots_behaviour.plot_curriculum_comparison, table_,
                                       filename="curriculum_comparison.png")
        sec.blocks.append(figure("Curricula side by side", pngs.get("curriculum_comparison.png"),
                                 guide["curriculum_comparison.png"]))
        rows = []
        for name, row in table_.items():
            pc = row.get("prior_skill_accuracy_change") or {}
            rows.append([name, len(row.get("seeds") or []), _spread_pp(pc), fmt_num(dig(row, "final_reward.mean")),
                         *(fmt_pct(dig(row, f"rollouts/{s}.mean"), 0) for s in SHORTCUT_NAMES)])
        sec.blocks.append(card("Per curriculum (mean over seeds; shortcut rates in the last rollouts)", table(
            ["curriculum", "seeds", "prior-skill Δ accuracy (± std) [min, max]", "final reward",
             *(s.replace("_", " ") for s in SHORTCUT_NAMES)], rows)))
    elif ctx.kind == "run":
        by_step = dig(payload, "rollout_shortcuts.by_step") or {}
        if by_step:
            pngs = report_plots.render_png(plots_behaviour.plot_shortcuts, by_step, filename="shortcuts.png",
                                           title=f"{ctx.runs[0].label}: rollouts")
            sec.blocks.append(figure("Shortcut rates in rollouts", pngs.get("shortcuts.png"), guide["shortcuts.png"]))

    changes, rates = [], []
    group_of = {r.label: r.group for r in ctx.runs}
    for label, (_, p) in per_run.items():
        acc = p.get("accuracy") or {}
        final_step = str(p.get("final_step")) if p.get("final_step") is not None else (max(acc, key=int) if acc else None)
        n = dig(acc, f"{final_step}.n") if final_step else None
        changes.append({"label": label, "group": group_of.get(label, label), "base": p.get("prior_skill_accuracy_base"),
                        "final": p.get("prior_skill_accuracy_final"), "change": p.get("prior_skill_accuracy_change"), "n": n})
        rb = dig(p, "rollout_shortcuts.by_step") or {}
        if rb:
            steps = sorted(rb, key=int)
            rates.append({"group": group_of.get(label, label), "first": rb[steps[0]], "last": rb[steps[-1]]})
    if ctx.kind == "sweep":  # trials without their own JSON: the sweep row (no probe count, no first step)
        for t in payload.get("trials") or []:
            r = ctx.run_by_dir(t.get("run_dir", ""))
            label = r.label if r else Path(t.get("run_dir", "?")).name
            if label not in per_run:
                changes.append({"label": label, "group": t.get("group", label), "base": None, "final": None,
                                "change": t.get("prior_skill_accuracy_change"), "n": None})
    cells = _cell_table(per_run, group_of)
    if cells:
        sec.blocks.append(card("Probe accuracy per family/level: base → last checkpoint", cells))
    sec.findings = findings_prior(changes) + findings_shortcuts(rates)
    if not rates and table_:
        finals = [(dig(row, f"rollouts/{s}.mean"), s, g) for g, row in table_.items() for s in SHORTCUT_NAMES]
        finals = [f for f in finals if f[0] is not None]
        if finals:
            top = max(finals)
            sec.findings.append(Finding("info", "shortcuts", f"Highest shortcut rate in the last rollouts: {top[1]} "
                                        f"{fmt_pct(top[0], 0)} ({top[2]}); the first-step rates were not available."))
    return sec


def _spread_pp(s: Mapping[str, Any]) -> str:
    if not s or s.get("mean") is None:
        return "–"
    std = f" ± {100 * s['std']:.1f}" if s.get("std") else ""
    return f"{fmt_pp(s['mean'])}{std} [{fmt_pp(s.get('min'), 0)}, {fmt_pp(s.get('max'), 0)}]"


def _cell_table(per_run: Mapping[str, tuple[Any, Mapping[str, Any]]], group_of: Mapping[str, str]) -> str:
    """family/level -> base and final accuracy, mean over the runs of each group."""
    acc: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for label, (_, p) in per_run.items():
        steps = p.get("accuracy") or {}
        if "0" not in steps or not steps:
            continue
        last = str(p.get("final_step") if p.get("final_step") is not None else max(steps, key=int))
        base, fin = steps["0"].get("by_cell") or {}, (steps.get(last) or {}).get("by_cell") or {}
        for cell, v in base.items():
            if cell in fin:
                acc.setdefault(cell, {}).setdefault(group_of.get(label, label), []).append((v, fin[cell]))
    if not acc:
        return ""
    groups = list(dict.fromkeys(g for cells in acc.values() for g in cells))
    rows = []
    for cell in sorted(acc, key=lambda c: (c.split("/")[0], _int_or_str(c.split("/")[-1]))):
        row: list[Any] = [cell]
        for g in groups:
            pairs = acc[cell].get(g)
            if not pairs:
                row.append("–")
                continue
            b, f = mean_of([x for x, _ in pairs]), mean_of([y for _, y in pairs])
            row.append(Raw(f"{esc(fmt_pct(b, 0))} → {esc(fmt_pct(f, 0))} <span class='{_tone(f - b)}'>"
                           f"({esc(fmt_pp(f - b, 0))})</span>"))
        rows.append(row)
    return table(["probe cell", *groups], rows)


def _tone(delta: float) -> str:
    return "neg" if delta < -1e-9 else "pos" if delta > 1e-9 else "zero"


def section_drift(ctx: Context) -> Section:
    from rl_lab.analysis import plots_behaviour
    from rl_lab.report import figures as report_plots

    sec = Section("drift", "Drift from the base vs prior-skill change",
                  "Token-level KL between base and tuned policies along sampled sequences, summed exactly over the "
                  "vocabulary: forward KL(base‖tuned) on base samples, reverse KL(tuned‖base) on tuned samples.")
    payload, path, why = ctx.analysis("drift")
    if payload is None:
        sec.reason = f"{why}; run `rl-lab analyze drift {ctx.root}`"
        return sec
    sec.inputs.append((str(path), {"created": payload.get("created"), **(payload.get("inputs") or {})}))
    guide = plots_behaviour.READING_GUIDE
    if payload.get("points") is not None:
        points = payload["points"]
        if any(p.get("prior_change") is not None for p in points):
            pngs = report_plots.render_png(plots_behaviour.plot_drift_vs_prior, points, filename="drift_vs_prior_skill.png")
            sec.blocks.append(figure("Drift against prior-skill change", pngs.get("drift_vs_prior_skill.png"),
                                     guide["drift_vs_prior_skill.png"]))
        curves = {}
        for r in ctx.runs:
            sub, sub_path, _ = ctx.analysis("drift", r.info.path)
            if sub is not None and sub.get("by_step"):
                curves[r.label] = sub
                sec.inputs.append((str(sub_path), {k: (sub.get("inputs") or {}).get(k) for k in
                                                   ("checkpoints", "prompts", "samples_per_prompt", "prompt_seed")}))
        if curves:
            sec.blocks.append(figure("Forward KL per checkpoint", _drift_runs_png(curves),
                                     "Forward KL(base‖tuned) per token on base samples at each checkpoint, one line per "
                                     "run: how fast each run moved away from the base."))
        rows = [[p.get("label") or Path(p.get("run_dir", "?")).name, p.get("group", "–"), fmt_num(p.get("kl"), 4),
                 fmt_num(p.get("reverse_kl"), 4), fmt_pp(p.get("prior_change")),
                 p.get("prior_change_source") or "–"] for p in points]
        sec.blocks.append(card("Per run, last checkpoint", table(
            ["run", "group", "KL(base‖tuned)/token", "KL(tuned‖base)/token", "prior-skill Δ", "prior-skill source"],
            rows, numeric_from=2, text_cols=(5,))))
        sec.findings = findings_drift_points(points)
    else:
        by_step = payload.get("by_step") or {}
        if by_step:
            pngs = report_plots.render_png(plots_behaviour.plot_drift, by_step, filename="drift.png", title=ctx.runs[0].label)
            sec.blocks.append(figure("KL per checkpoint", pngs.get("drift.png"), guide["drift.png"]))
        rows = [[s, fmt_num(dig(v, "forward_kl_base_tuned_on_base_samples.per_token"), 4),
                 fmt_num(dig(v, "reverse_kl_tuned_base_on_tuned_samples.per_token"), 4),
                 fmt_num(dig(v, "forward_kl_base_tuned_on_base_samples.per_sequence"), 3),
                 fmt_num(dig(v, "reverse_kl_tuned_base_on_tuned_samples.per_sequence"), 3)]
                for s, v in sorted(by_step.items(), key=lambda kv: int(kv[0]))]
        sec.blocks.append(card("KL per checkpoint (nats)", table(
            ["step", "forward / token", "reverse / token", "forward / sequence", "reverse / sequence"], rows)))
        sec.findings = findings_drift_run(payload)
        contamination, _, _ = ctx.analysis("contamination")
        if contamination and contamination.get("prior_skill_accuracy_change") is not None:
            sec.findings.append(Finding("info", "drift", "Prior-skill accuracy change over the same run: "
                                        f"{fmt_pp(contamination['prior_skill_accuracy_change'])} (one run: no "
                                        "correlation across runs is possible)."))
    return sec


def _drift_runs_png(runs: Mapping[str, Mapping[str, Any]]) -> bytes:
    from rl_lab.report import figures as report_plots

    data = [{"label": label, "group": label,
             "series": {"kl": {int(s): dig(v, "forward_kl_base_tuned_on_base_samples.per_token")
                               for s, v in p["by_step"].items()
                               if dig(v, "forward_kl_base_tuned_on_base_samples.per_token") is not None}}}
            for label, p in runs.items()]
    return report_plots.plot_metric_runs(data, "kl", "KL(base‖tuned) per token (nats)")


def section_updates(ctx: Context) -> Section:
    from rl_lab.analysis import update_plots
    from rl_lab.report import figures as report_plots

    sec = Section("updates", "Which parameters RL changed",
                  "Share of parameters that differ between base and tuned checkpoints, per layer and module type, "
                  "under four criteria, and the overlap of the changed sets between tuned checkpoints (e.g. seeds).")
    result, path, why = ctx.analysis("updates")
    if result is None:
        sec.reason = (f"{why}; run `rl-lab analyze updates --base BASE --tuned T1 T2 ... "
                      f"--out {ctx.root / 'analysis' / 'updates.json'}`")
        return sec
    sec.inputs.append((str(path), {"created_utc": result.get("created_utc"), "inputs": result.get("inputs"),
                                   "settings": result.get("settings")}))
    guide = report_plots.READING_GUIDE
    tuned = result.get("tuned") or []
    drawn = heatmap_choice(tuned)
    pngs = report_plots.render_png(update_plots.plot_update_heatmap, {**result, "tuned": drawn}, as_dir=True)
    for name, png in pngs.items():
        label = name[len("updates_heatmap_"):-4]
        sec.blocks.append(figure(f"Share updated per layer x module: {label}", png, guide["updates_heatmap"]))
    if len(drawn) < len(tuned):
        sec.blocks.append(card("Heatmaps drawn", f"<p>{len(drawn)} of {len(tuned)} tuned checkpoints are drawn (the "
                               f"last step of each run, at most {MAX_HEATMAPS}); all are in the tables below and in "
                               "the JSON.</p>", wide=False))
    overlap = report_plots.render_png(update_plots.plot_seed_overlap, result, as_dir=True)
    if overlap:
        sec.blocks.append(figure("Overlap of updated sets vs chance", next(iter(overlap.values())),
                                 guide["updates_seed_overlap"]))
    rank = report_plots.render_png(update_plots.plot_rank_histogram, result, as_dir=True)
    if rank:
        sec.blocks.append(figure("Rank of the updates", next(iter(rank.values())), guide["updates_rank_hist"]))
    tol = dig(result, "settings.tol")
    rows = [[t.get("label"), fmt_num(t.get("parameters")), ", ".join(t.get("compared_in") or []),
             *(fmt_pct(dig(t, f"share.{c}")) for c in ("exact", "tol", "bf16", "paper")),
             fmt_pct(dig(t, "paper.mean_over_layers.paper")), fmt_pct(dig(t, "rank.mean_share"))] for t in tuned]
    sec.blocks.append(card("Share of parameters changed", table(
        ["tuned", "parameters", "compared in", "exact", f"|Δ| > {tol:g}" if tol is not None else "tol", "bf16",
         "reference", "reference, layer mean", "rank / full"], rows, text_cols=(2,))))
    modules = list(dict.fromkeys(m for t in tuned for m in (t.get("by_module") or {})))
    if modules:
        rows = [[m, *(f"{fmt_pct(dig(t, f'by_module.{m}.share.exact'))} / {fmt_pct(dig(t, f'by_module.{m}.share.paper'))}"
                      if m in (t.get("by_module") or {}) else "–" for t in tuned[:8])] for m in modules]
        sec.blocks.append(card("Per module type: exact / reference criterion", table(
            ["module", *(t.get("label") for t in tuned[:8])], rows)))
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
        sec.blocks.append(card("Pairs of tuned checkpoints: observed (chance)", table(
            ["a", "b", "IoU (chance)", "IoU / chance", "o1 (chance)", "o2 (chance)", "reference IoU / chance",
             "cosine of deltas"], rows, numeric_from=2)))
    sec.findings = findings_updates(result)
    return sec


def heatmap_choice(tuned: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The last step of each run (labels ``<run>/step_<N>``; other labels kept), at most MAX_HEATMAPS."""
    chosen: dict[str, tuple[int, Mapping[str, Any]]] = {}
    for i, t in enumerate(tuned):
        label = str(t.get("label"))
        run, _, step = label.rpartition("/step_")
        key, order = (run, int(step)) if run and step.isdigit() else (f"{label}#{i}", 0)
        if key not in chosen or order >= chosen[key][0]:
            chosen[key] = (order, t)
    return [t for _, t in chosen.values()][:MAX_HEATMAPS]


def section_config(ctx: Context, sections: Sequence[Section]) -> Section:
    sec = Section("config", "Configuration and provenance", "The resolved config as run, and every file each section read.")
    if ctx.config_text:
        sec.blocks.append(card(f"Config ({ctx.config_file})", f"<details><summary>show YAML</summary>"
                               f"<pre>{esc(ctx.config_text)}</pre></details>"))
    else:
        sec.blocks.append(card("Config", missing_box("no config.yaml / sweep_config.yaml found")))
    if ctx.kind == "sweep":
        rows = [[r.label, r.group, json.dumps(r.info.config_point), r.info.status or "–", str(r.info.path)]
                for r in ctx.runs]
        sec.blocks.append(card("Trials (config points)", table(["trial", "group", "config point", "status", "run dir"],
                                                                rows, numeric_from=99)))
    rows = []
    for s in sections:
        read = [label for label, _ in s.inputs if label.endswith(".json")] or [label for label, _ in s.inputs]
        rows.append([s.title, "not available: " + s.reason if s.reason else "ok",
                     Raw("<br>".join(esc(x) for x in read) or "–")])
    sec.blocks.append(card("What each section read", table(["section", "state", "files"], rows, numeric_from=99)))
    return sec


# =========================================================================== page
def describe_experiment(ctx: Context) -> list[tuple[str, str]]:
    cfg = ctx.config
    facts: list[tuple[str, str]] = [("experiment", str(cfg.get("name") or ctx.root.name)),
                                    ("kind", f"sweep of {len(ctx.runs)} trials" if ctx.kind == "sweep" else "single run")]
    base = dig(cfg, "train.base_model") or dig(cfg, "model.path")
    if base:
        facts.append(("base model", str(base)))
    else:
        model = cfg.get("model") or {}
        out = cfg.get("output_dir") or f"runs/{cfg.get('name', '?')}"
        mix = dig(cfg, "pretrain.format_mixture") or {}
        mix_text = ", ".join(f"{k} {fmt_pct(v, 0)}" for k, v in mix.items())
        facts.append(("base model", f"{model.get('preset', 'tiny')} {model.get('architecture', 'qwen2')} preset "
                      f"({model.get('dtype', 'float32')}), pretrained here at {out}/base/model"
                      + (f"; format mixture {mix_text}" if mix_text else "")))
    families = dig(cfg, "environments.families") or []
    if families:
        facts.append(("families", "; ".join(f"{f.get('name')} ({f.get('role', 'trained')}, levels "
                                            f"{f.get('levels') or 'all'})" for f in families)))
    grid = (ctx.summary or {}).get("grid") or dig(cfg, "sweep.grid") or {}
    if ctx.kind == "sweep" and grid:
        facts.append(("sweep grid", "; ".join(f"{k} ∈ {v}" for k, v in grid.items())))
    seeds = sorted({r.seed for r in ctx.runs if r.seed is not None})
    facts.append(("seeds", ", ".join(map(str, seeds)) or "–"))
    facts.append(("curricula", ", ".join(dict.fromkeys(str(r.info.lookup("curriculum.kind") or "fixed") for r in ctx.runs))))
    train = cfg.get("train") or {}
    if train:
        facts.append(("RL", f"{train.get('steps', '?')} steps, lr {train.get('learning_rate', '?')}, "
                      f"group size {train.get('num_generations', '?')}, loss {train.get('loss_type', 'dapo')}, "
                      f"beta {train.get('beta', 0.0)}"))
    counts = (ctx.summary or {}).get("counts")
    if counts:
        facts.append(("trial status", ", ".join(f"{v} {k}" for k, v in counts.items())))
    stamps = [r.info.path / "metrics.jsonl" for r in ctx.runs if (r.info.path / "metrics.jsonl").is_file()]
    if stamps:
        latest = max(p.stat().st_mtime for p in stamps)
        facts.append(("last training write", time.strftime("%Y-%m-%d %H:%M", time.localtime(latest))))
    facts.append(("report generated", time.strftime("%Y-%m-%d %H:%M %Z")))
    facts.append(("directory", str(ctx.root)))
    return facts


BADGES = {"observed": "observed", "absent": "did not appear", "info": "measured", "missing": "not run"}

CSS = """
:root{--bg:#f3f4f7;--fg:#1d2330;--muted:#5b6475;--card:#fff;--line:#e3e6ec;--accent:#3b6ea5}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1480px;margin:0 auto;padding:24px 28px 60px}
header.top{background:var(--card);border-radius:12px;border-top:5px solid var(--accent);padding:22px 26px;
  box-shadow:0 1px 3px rgba(20,30,50,.08)}
h1{margin:0 0 4px;font-size:26px}
.sub{color:var(--muted);margin:0 0 16px}
.facts{display:grid;grid-template-columns:minmax(150px,max-content) 1fr;gap:4px 18px;margin:0 0 18px}
.facts dt{color:var(--muted);font-weight:600}.facts dd{margin:0}
h2.find{font-size:17px;margin:10px 0 8px}
ul.findings{list-style:none;padding:0;margin:0;display:grid;gap:7px}
ul.findings li{display:grid;grid-template-columns:128px 118px 1fr;gap:10px;align-items:baseline;padding:7px 10px;border-radius:8px;background:#f7f8fa}
ul.sec-findings li{grid-template-columns:128px 1fr}
.badge{flex:0 0 auto;font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;padding:2px 8px;
  border-radius:20px;text-align:center;white-space:nowrap;justify-self:start}
.b-observed{background:#dce9f7;color:#1f4f82}.b-absent{background:#e2f2e7;color:#1d6b3a}
.b-info{background:#eceef2;color:#454d5c}.b-missing{background:#f7ecd9;color:#8a5a12}
.topic{font-weight:600;color:var(--muted)}
nav.toc{margin:18px 0 0;display:flex;flex-wrap:wrap;gap:8px}
nav.toc a{text-decoration:none;color:var(--accent);background:#eef3f9;padding:4px 10px;border-radius:16px;font-size:13px}
section{margin-top:34px}
section>h2{font-size:20px;margin:0 0 2px;border-bottom:2px solid var(--line);padding-bottom:6px}
section>h2 .num{color:var(--accent);margin-right:8px}
p.lead{color:var(--muted);margin:6px 0 14px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px;align-items:start}
.card{background:var(--card);border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(20,30,50,.08);margin:0;min-width:0}
.card.wide{grid-column:1/-1}
.card h3{font-size:14px;margin:0 0 10px}
.fig img{display:block;max-width:100%;height:auto;margin:0 auto}
.guide{font-size:12.5px;color:var(--muted);margin-top:8px;border-top:1px solid var(--line);padding-top:6px}
.missing{border:1.5px dashed #c9a45c;background:#fcf7ee;color:#6b4d12;border-radius:8px;padding:12px 14px}
ul.sec-findings{margin:0 0 14px;padding-left:0;list-style:none}
ul.sec-findings li{margin:4px 0}
.tbl-wrap{overflow-x:auto}
table.tbl{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
table.tbl caption{text-align:left;color:var(--muted);padding-bottom:4px}
table.tbl th{text-align:left;background:#f1f3f6;font-weight:600;padding:6px 9px;border-bottom:1px solid var(--line);white-space:nowrap}
table.tbl td{padding:5px 9px;border-bottom:1px solid #eef0f3;vertical-align:top}
table.tbl tbody tr:nth-child(even){background:#fafbfc}
table.tbl .num{text-align:right}
.neg{color:#b3261e}.pos{color:#1d6b3a}.zero{color:var(--muted)}
details.inputs{margin-top:12px}
details summary{cursor:pointer;color:var(--accent);font-weight:600}
pre{background:#f6f7f9;border:1px solid var(--line);border-radius:6px;padding:10px;overflow:auto;max-height:420px;font-size:12px}
h4{margin:10px 0 4px;font-size:12px;color:var(--muted);word-break:break-all}
code{background:#eef0f4;padding:0 4px;border-radius:4px;font-size:12.5px}
footer{margin-top:40px;color:var(--muted);font-size:12px;text-align:center}
@media print{body{background:#fff}.card{box-shadow:none;border:1px solid var(--line)}}
"""


def _finding_li(f: Finding, topic: bool = True) -> str:
    text = esc(f.text)
    # `fmt` in a sentence is a format name: show it as code
    parts = text.split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    t = f'<span class="topic">{esc(f.topic)}</span>' if topic else ""
    return f'<li><span class="badge b-{f.kind}">{BADGES[f.kind]}</span>{t}<span>{text}</span></li>'


def render_page(ctx: Context, sections: Sequence[Section], title: str | None = None) -> str:
    facts = describe_experiment(ctx)
    name = dict(facts)["experiment"]
    title = title or f"rl_lab report: {name}"
    findings: list[Finding] = []
    for s in sections:
        if s.key == "config":
            continue
        if s.reason:
            findings.append(Finding("missing", s.title.split(":")[0].lower(), f"{s.title}: not available ({s.reason})."))
        findings.extend(s.findings)
    facts_html = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    toc = "".join(f'<a href="#{s.key}">{i}. {esc(s.title)}</a>' for i, s in enumerate(sections, start=2))
    body = []
    for i, s in enumerate(sections, start=2):
        parts = [f'<section id="{s.key}"><h2><span class="num">{i}</span>{esc(s.title)}</h2><p class="lead">{esc(s.lead)}</p>']
        if s.reason:
            parts.append(missing_box(s.reason))
        else:
            if s.findings:
                parts.append('<ul class="findings sec-findings">' + "".join(_finding_li(f, topic=False) for f in s.findings)
                             + "</ul>")
            parts.append('<div class="grid">' + "".join(s.blocks) + "</div>")
        if s.inputs and s.key != "config":
            parts.append(inputs_block(s.inputs))
        parts.append("</section>")
        body.append("".join(parts))
    csp = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}</style></head>
<body><main>
<header class="top" id="overview"><h1>{esc(title)}</h1>
<p class="sub">1. What was run, and what was measured. Every sentence below is computed from this directory's files.</p>
<dl class="facts">{facts_html}</dl>
<h2 class="find">Headline findings</h2>
<ul class="findings">{"".join(_finding_li(f) for f in findings) or "<li>nothing measured yet</li>"}</ul>
<nav class="toc">{toc}</nav></header>
{"".join(body)}
<footer>rl_lab report · self-contained: images are embedded, no network access, no scripts.</footer>
</main></body></html>
"""


SECTION_BUILDERS: list[tuple[str, str, Callable[[Context], Section]]] = [
    ("training", "Reward and accuracy per difficulty", section_training),
    ("formats", "Format collapse", section_formats),
    ("passk", "pass@k: base vs tuned", section_passk),
    ("contamination", "Prior skills and shortcuts", section_contamination),
    ("drift", "Drift from the base vs prior-skill change", section_drift),
    ("updates", "Which parameters RL changed", section_updates),
]


def build_sections(ctx: Context) -> list[Section]:
    sections = []
    for key, title, builder in SECTION_BUILDERS:
        try:
            sections.append(builder(ctx))
        except Exception as exc:  # one malformed JSON must not cost the whole report
            print(f"warning: report section {key!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            sections.append(Section(key, title, "", reason=f"could not be built from its inputs: {type(exc).__name__}: {exc}"))
    sections.append(section_config(ctx, sections))
    return sections


def build_report(path: str | Path, out: str | Path | None = None, title: str | None = None) -> Path:
    """Read RUN_OR_SWEEP, write the HTML atomically (default ``<dir>/report.html``), return its path."""
    from rl_lab.core.io import atomic_write_text

    ctx = Context(Path(path))
    page = render_page(ctx, build_sections(ctx), title)
    return atomic_write_text(Path(out) if out else ctx.root / "report.html", page)
