"""Runner of the format-collapse analysis: rollouts of each run -> analysis/formats.json + plots.

The metrics are ``analysis.format_collapse`` (pure); this module reads run dirs through
``RunDir`` and writes ``<run>/analysis/formats.json`` for each run and, for a sweep, the
per-group aggregate across seeds in ``<sweep>/analysis/formats.json``.
"""

from __future__ import annotations

from typing import Any

from rl_lab.analysis import format_collapse, plots_behaviour
from rl_lab.analysis.figures import save_figure, save_figures
from rl_lab.analysis.runs import AnalysisOutput, each_run, stamp
from rl_lab.analysis.settings import FormatsSettings
from rl_lab.core import rundir
from rl_lab.core.errors import RunDirError
from rl_lab.core.rundir import Resolved, RunDir


def formats_for_run(run: RunDir, settings: FormatsSettings) -> dict[str, Any]:
    """Shares per step of one run's rollouts; writes its analysis/formats.json and plots."""
    files = run.rollout_files()
    if not files:
        raise RunDirError(f"run dir {str(run.path)!r} has no rollouts/step_<N>.jsonl (train.rollouts_per_step > 0 "
                          "writes them)")
    summary = format_collapse.summarise_run(run.read_rollouts(), settings.threshold, settings.taxonomy,
                                            settings.window)
    inputs = {"run_dir": str(run.path), "rollout_files": [str(p) for p in files.values()],
              "steps": list(files), "config_point": run.config_point, "seed": run.seed()}
    payload = {"analysis": "formats", **stamp(), "threshold": settings.threshold, "window": settings.window,
               "inputs": inputs, **summary}
    run.write_analysis("formats", payload)
    save_figures(plots_behaviour.plot_format_run(summary, title=run.name), run.plots_dir())
    return payload


def analyze_formats(resolved: Resolved, settings: FormatsSettings) -> AnalysisOutput:
    per_run, skipped = each_run(resolved, lambda run: formats_for_run(run, settings),
                                f"no run under {str(resolved.root)!r} has rollouts")
    out = AnalysisOutput("formats", resolved, per_run, skipped=skipped)
    if resolved.kind == "sweep":
        groups: dict[str, list[tuple[RunDir, dict[str, Any]]]] = {}
        for run, summary in per_run:
            groups.setdefault(rundir.group_key(run.config_point), []).append((run, summary))
        aggregated = {
            name: {"run_dirs": [str(r.path) for r, _ in items],
                   **format_collapse.aggregate_runs([s for _, s in items], [r.seed() for r, _ in items])}
            for name, items in groups.items()
        }
        out.sweep = {
            "analysis": "formats", **stamp(), "threshold": settings.threshold, "window": settings.window,
            "taxonomy": settings.taxonomy.name,
            "labels": list(settings.taxonomy.labels), "inputs": resolved.describe(),
            "runs": {str(r.path): {k: s[k] for k in ("collapsed", "collapse_step", "winner", "final_shares",
                                                     "final_window_steps", "final_rollouts", "final_counts",
                                                     "final_share_interval")}
                     for r, s in per_run},
            "groups": aggregated,
        }
        rundir.write_analysis(resolved.root, "formats", out.sweep)
        save_figure(plots_behaviour.plot_format_seeds(aggregated), rundir.plots_dir(resolved.root) / "format_shares_seeds.png")
    return out
