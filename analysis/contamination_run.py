"""Runner of the contamination analysis: answer the prior-skill probes with every checkpoint of a
run, score them, measure shortcut rates, and write analysis/contamination.json + plots.

The probe rule, accuracy tables, shortcut rates and the curriculum table are pure functions in
``analysis.contamination`` and ``analysis.shortcuts``; loading models and sampling happen here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rl_lab.analysis import contamination, plots_behaviour, shortcuts
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import ContaminationSettings, contamination_settings
from rl_lab.core import rundir
from rl_lab.core.config import Config, PromptConfig
from rl_lab.core.errors import RunDirError
from rl_lab.core.forcing import Forcing
from rl_lab.core.model_spec import ModelSpec, base_path
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments import problem_sets
from rl_lab.environments.scoring import solved
from rl_lab.prompting import check_prompt_support, render_all

if TYPE_CHECKING:
    from rl_lab.core.sampler import Sampler

SettingsFor = Callable[[Config], ContaminationSettings]


def evaluate_checkpoint(model: str | Path | ModelSpec | Sampler, problems, temperature: float, max_new_tokens: int,
                        batch_size: int, seed: int, prompt: PromptConfig | None = None,
                        dtype: str = "float32", forcing: Forcing | None = None) -> list[dict[str, Any]]:
    """Answer every probe once with ``model`` (a checkpoint, a model spec, or a loaded ``Sampler``;
    ``forcing``: every answer started in one format), shown as the run showed prompts to the policy;
    rows with prompt, completion, answer, metadata (scoring mode), correct, cell."""
    from rl_lab.core.sampler import Sampler, load_sampler

    prompt = prompt or PromptConfig()
    sampler = model if isinstance(model, Sampler) else load_sampler(model, dtype)
    check_prompt_support(prompt, sampler.tokenizer, str(base_path(sampler.spec)))
    completions = sampler.sample(render_all(problems, prompt, sampler.tokenizer), n=1, temperature=temperature,
                                 top_p=1.0, max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                                 forcing=forcing)
    rows = []
    for problem, (completion,) in zip(problems, completions, strict=True):
        row = {"family": problem["family"], "difficulty": int(problem["difficulty"]), "prompt": problem["prompt"],
               "answer": problem["answer"], "metadata": problem["metadata"], "completion": completion,
               "correct": float(solved(problem_sets.verify_completion(problem, completion)))}
        rows.append({**row, "cell": contamination.cell_key(row)})
    return rows


def with_scoring(rollouts: dict[int, list[dict[str, Any]]], cfg: Config) -> dict[int, list[dict[str, Any]]]:
    """Rollout rows with the metadata their family's verifier needs (scoring mode, params): rollouts are
    logged without it, and the shortcut detectors read answers the way the run's verifier did."""
    meta = {spec.name: problem_sets.spec_metadata(spec) for spec in cfg.environments.families}
    return {step: [{**r, "metadata": r.get("metadata") or meta.get(r.get("family"), {})} for r in rows]
            for step, rows in rollouts.items()}


def contamination_for_run(run: RunDir, settings: ContaminationSettings) -> dict[str, Any]:
    """Probe every checkpoint of one run; write its analysis/contamination.json and plots; return the payload."""
    from tqdm.auto import tqdm

    cfg = run.config
    cells = contamination.probe_cells(cfg)
    if not cells:
        raise RunDirError(
            f"run {str(run.path)!r} has no prior-skill probes: add a family with role prior_skill, or train "
            "on a subset of levels (curriculum.levels / hard_only) so some levels stay untrained"
        )
    ckpts = checkpoints_with_base(run, "compare with")
    s = settings
    problems = problem_sets.build_problem_set(contamination.probe_specs(cells), s.problems_per_level, seed=s.seed)

    tables, probe_rates, examples, correct = {}, {}, {}, {}
    base_medians: dict[str, float] = {}
    cells_answered: list[str] = []
    for step, path in tqdm(list(ckpts.items()), desc=f"probing {run.name}", unit="ckpt"):
        rows = evaluate_checkpoint(path, problems, s.temperature, s.max_new_tokens, s.batch_size, s.seed,
                                   cfg.prompt, cfg.model.dtype)
        if step == 0:
            base_medians = shortcuts.median_lengths(rows, key="cell")
            cells_answered = [r["cell"] for r in rows]
        tables[step] = contamination.accuracy_table(rows)
        correct[str(step)] = contamination.probe_vector(rows)
        probe_rates[str(step)] = shortcuts.rates(rows, base_medians, s.length_fraction, key="cell")
        examples[str(step)] = rows[:8]
    roll = contamination.rollout_shortcuts(with_scoring(run.read_rollouts(), cfg), s.length_fraction)
    last = max(tables)
    change = contamination.change_vs_base(tables)
    payload = {
        "analysis": "contamination", **stamp(),
        "inputs": {
            "run_dir": str(run.path), "checkpoints": {str(k): str(p) for k, p in ckpts.items()},
            "rollout_files": [str(p) for p in run.rollout_files().values()],
            "config_point": run.config_point, "seed": run.seed(), "probe_seed": s.seed,
            "problems_per_level": s.problems_per_level, "decoding": s.decoding,
            "max_new_tokens": s.max_new_tokens, "length_fraction": s.length_fraction,
            "curriculum": cfg.curriculum.model_dump(mode="json"),
        },
        "probes": cells,
        "accuracy": {str(k): t for k, t in tables.items()},
        "change_vs_base": change,
        "prior_skill_accuracy_base": tables[0]["accuracy"],
        "prior_skill_accuracy_final": tables[last]["accuracy"],
        "prior_skill_accuracy_change": change[str(last)]["accuracy"],
        # what the intervals rest on: each probe's correctness (1/0) at every checkpoint, same order
        "probe_count": len(cells_answered),
        "probe_cells": cells_answered,
        "probe_correct": correct,
        "prior_skill_accuracy_base_interval": contamination.accuracy_interval([correct["0"]]),
        "prior_skill_accuracy_final_interval": contamination.accuracy_interval([correct[str(last)]]),
        "prior_skill_accuracy_change_interval": contamination.change_interval([correct["0"]], [correct[str(last)]]),
        "final_step": last,
        "probe_shortcuts": {"base_median_length": base_medians, "by_step": probe_rates},
        "rollout_shortcuts": roll,
        "final_reward": run.final_reward(),
        "examples": examples,
    }
    run.write_analysis("contamination", payload)
    plots = run.plots_dir()
    save_figure(plots_behaviour.plot_contamination({run.name: {str(k): t["accuracy"] for k, t in tables.items()}}),
                plots / "contamination.png")
    if roll["by_step"]:
        save_figure(plots_behaviour.plot_shortcuts(roll["by_step"], title=f"{run.name}: rollouts"), plots / "shortcuts.png")
    return payload


def last_rates(by_step: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The shortcut rates of the last step of a ``{step: rates}`` record ({} when empty)."""
    return by_step[max(by_step, key=int)] if by_step else {}


def _trial(run: RunDir, payload: dict[str, Any]) -> dict[str, Any]:
    """One row of the sweep's ``trials``: the run's final prior-skill change and shortcut rates."""
    final_probe = payload["probe_shortcuts"]["by_step"][str(payload["final_step"])]
    final_roll = last_rates(payload["rollout_shortcuts"]["by_step"])
    return {
        "run_dir": str(run.path), "seed": run.seed(), "config_point": run.config_point,
        "curriculum": run.lookup("curriculum.kind") or "fixed", "group": rundir.group_label(run),
        "prior_skill_accuracy_change": payload["prior_skill_accuracy_change"],
        "prior_skill_accuracy_change_interval": payload["prior_skill_accuracy_change_interval"],
        "probe_count": payload["probe_count"],
        "probe_correct": {"base": payload["probe_correct"]["0"],
                          "final": payload["probe_correct"][str(payload["final_step"])]},
        "final_reward": payload["final_reward"],
        "rollouts_shortcuts": {k: final_roll.get(k) for k in shortcuts.SHORTCUTS},
        "probes_shortcuts": {k: final_probe.get(k) for k in shortcuts.SHORTCUTS},
    }


def analyze_contamination(resolved: Resolved, settings_for: SettingsFor = contamination_settings) -> AnalysisOutput:
    """Every run of ``resolved``; ``settings_for`` builds each run's settings from its config
    (the command line's explicit values bound in, e.g. with ``functools.partial``)."""
    per_run, skipped = each_run(resolved, lambda run: contamination_for_run(run, settings_for(run.config)),
                                f"no run under {str(resolved.root)!r} could be probed")
    out = AnalysisOutput("contamination", resolved, per_run, skipped=skipped)
    if resolved.kind == "sweep":
        trials = [_trial(run, payload) for run, payload in per_run]
        table = contamination.comparison_table(trials)
        out.sweep = {"analysis": "contamination", **stamp(), "inputs": resolved.describe(), "trials": trials,
                     "curriculum_comparison": table}
        rundir.write_analysis(resolved.root, "contamination", out.sweep)
        plots = rundir.plots_dir(resolved.root)
        save_figure(plots_behaviour.plot_contamination(
            {f"{t['group']} s{t['seed']}": {k: a["accuracy"] for k, a in p["accuracy"].items()}
             for t, (_, p) in zip(trials, per_run, strict=True)}), plots / "contamination.png")
        save_figure(plots_behaviour.plot_curriculum_comparison(table), plots / "curriculum_comparison.png")
    return out
