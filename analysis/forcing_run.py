"""Runner of the format-forcing analysis (``rl-lab analyze forcing RUN_OR_SWEEP``).

For each run: the same problems (``analysis.forcing``'s settings: trained families x the levels
the curriculum drew) answered by the base (checkpoints/step_0) as it answers, by the base with
every answer started in each format the run's taxonomy can force (``Taxonomy.forcing``), and by
the run's last checkpoint. Writes ``<run>/analysis/forcing.json`` and ``plots/forcing.png``; for a
sweep, ``<sweep>/analysis/forcing.json`` lists each run's headline. The metrics are
``rl_lab.analysis.forcing`` (pure).
"""

from __future__ import annotations

from typing import Any

from rl_lab.analysis import forcing, plots_behaviour
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import ForcingSettings, run_section, taxonomy
from rl_lab.core import rundir
from rl_lab.core.config import Config, FormatsConfig
from rl_lab.core.errors import RunDirError
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments.scoring import solved

BASE, TUNED = "base", "RL-tuned"


def problems_for(cfg: Config, s: ForcingSettings):
    """The trained families at the levels the curriculum draws (all trained levels when it names none)."""
    from rl_lab.environments.config_checks import spec_levels
    from rl_lab.environments.problem_sets import build_problem_set

    specs = cfg.environments.by_role("trained")
    drawn = cfg.curriculum.levels
    levels = {spec.name: [lv for lv in spec_levels(spec) if drawn is None or lv in drawn] or spec_levels(spec)
              for spec in specs}
    return build_problem_set(specs, s.problems_per_level, seed=s.seed, levels=levels)


def answers(cfg: Config, sampler, problems, s: ForcingSettings, force=None) -> list[dict[str, Any]]:
    from rl_lab.evaluate import eval_rows

    decoding = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={
        "temperature": s.temperature, "batch_size": s.batch_size, "max_new_tokens": s.max_new_tokens})})
    return eval_rows(decoding, sampler, forcing=force, problems=problems, seed=s.seed)


def forcing_for_run(run: RunDir, s: ForcingSettings) -> dict[str, Any]:
    from rl_lab.core.sampler import load_sampler

    cfg = run.config
    ckpts = checkpoints_with_base(run, "force formats in")
    last = max(ckpts)
    if last == 0:
        raise RunDirError(f"run {str(run.path)!r} has no trained checkpoint beside step_0 to compare forcing with")
    tax = taxonomy(run_section(run, "formats", FormatsConfig))
    if not tax.forcing:
        raise RunDirError(f"the run's format taxonomy {tax.name!r} declares no way to force a format")
    problems = problems_for(cfg, s)
    base = load_sampler(ckpts[0], cfg.model.dtype)
    rows = {BASE: answers(cfg, base, problems, s)}
    for label in tax.forcing:
        rows[f"forced {label}"] = answers(cfg, base, problems, s, tax.forcing_for(label))
    del base
    rows[TUNED] = answers(cfg, load_sampler(ckpts[last], cfg.model.dtype), problems, s)
    correct = {policy: [1.0 if solved(r["reward"]) else 0.0 for r in rs] for policy, rs in rows.items()}
    cells = [f"{r['family']}/{r['difficulty']}" for r in rows[BASE]]
    by_cell = {cell: {policy: forcing.accuracy([c[i] for i in range(len(cells)) if cells[i] == cell]).to_dict()
                      for policy, c in correct.items()} for cell in dict.fromkeys(cells)}
    compliance = {label: sum(r["format"] == label for r in rows[f"forced {label}"]) / len(cells) for label in tax.forcing}
    pick, measure = forcing.halves(len(cells))
    forced = {label: correct[f"forced {label}"] for label in tax.forcing}
    best = forcing.best_format(forced, pick)
    headline = forcing.share_recovered([correct[BASE][i] for i in measure], [forced[best][i] for i in measure],
                                       [correct[TUNED][i] for i in measure], seed=s.seed)
    payload = {
        "analysis": "forcing", **stamp(),
        "inputs": {"run_dir": str(run.path), "base": str(ckpts[0]), "tuned": str(ckpts[last]), "tuned_step": last,
                   "config_point": run.config_point, "seed": run.seed(), "problems": len(cells),
                   "problems_per_level": s.problems_per_level, "problem_seed": s.seed,
                   "decoding": "greedy" if s.temperature == 0 else f"temperature {s.temperature}, top_p {s.top_p}",
                   "max_new_tokens": s.max_new_tokens, "taxonomy": tax.name},
        "forcings": {label: tax.forcing_for(label).describe() for label in tax.forcing},
        "policies": list(rows),
        "accuracy": {policy: forcing.accuracy(c).to_dict() for policy, c in correct.items()},
        "by_cell": by_cell,
        "forced_format_compliance": compliance,
        "best_format": best,
        "selection": "held-out half: the format is chosen on even-indexed problems, the share measured on the "
                     f"{len(measure)} odd-indexed ones",
        "share_of_rl_gain": headline,
        "examples": {policy: [rs[i]["completion"] for i in range(min(3, len(rs)))] for policy, rs in rows.items()},
    }
    run.write_analysis("forcing", payload)
    save_figure(plots_behaviour.plot_forcing(by_cell, list(rows), title=f"{run.name}: format forcing"),
                run.plots_dir() / "forcing.png")
    return payload


def analyze_forcing(resolved: Resolved, settings_for) -> AnalysisOutput:
    """``settings_for(cfg)``: the typed settings of each run (its config plus the command's flags)."""
    per_run, skipped = each_run(resolved, lambda run: forcing_for_run(run, settings_for(run.config)),
                                f"no run under {str(resolved.root)!r} has a base and a trained checkpoint")
    out = AnalysisOutput("forcing", resolved, per_run, skipped=skipped)
    if resolved.kind == "sweep":
        out.sweep = {"analysis": "forcing", **stamp(), "inputs": resolved.describe(),
                     "runs": {str(r.path): {"group": rundir.group_label(r), "seed": r.seed(),
                                            "best_format": p["best_format"], "share_of_rl_gain": p["share_of_rl_gain"],
                                            "accuracy": p["accuracy"]} for r, p in per_run}}
        rundir.write_analysis(resolved.root, "forcing", out.sweep)
    return out
