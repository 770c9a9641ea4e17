"""Runner of the activation-steering analysis (``rl-lab analyze steering RUN_OR_SWEEP``).

For each run, on the base (checkpoints/step_0), weights untouched:

1. the problems of ``analysis.forcing_run.problems_for`` are split in halves (``forcing.halves``);
2. on the first half the base answers twice, forced into format A and into format B (the contrast,
   two labels of the run's taxonomy); the steering vector is the mean activation at one decoder
   layer over the A answers minus that over the B answers (``rl_lab.core.steering``), saved as
   ``<run>/analysis/steering_A_vs_B_L<layer>.safetensors``;
3. on the other half the base answers unforced with ``strength * vector`` added at that layer, for
   each strength (strength 1 moves the mean activation from B's to A's; 0 is the base itself):
   accuracy (exact 95% interval) and the share of each format.

Writes ``<run>/analysis/steering.json`` and ``plots/steering.png``. The vector is built from answers
the base itself wrote, on problems it is not measured on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from rl_lab.analysis import forcing, plots_behaviour
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.forcing_run import answers, problems_for
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import ForcingSettings, run_section, taxonomy
from rl_lab.core import rundir
from rl_lab.core.config import FormatsConfig
from rl_lab.core.errors import ConfigError
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments.scoring import solved


@dataclass(frozen=True)
class SteeringSettings:
    contrast: tuple[str, str]  # (towards, away from): two forceable labels of the run's taxonomy
    strengths: tuple[float, ...]
    layer: int | None  # None: the middle decoder layer
    problems: ForcingSettings  # which problems, how they are decoded


def steering_for_run(run: RunDir, s: SteeringSettings) -> dict[str, Any]:
    from rl_lab.core.sampler import load_sampler
    from rl_lab.core.steering import (
        check_layer,
        compute_steering_vector,
        decoder_layers,
        save_steering_vector,
        steering,
    )

    cfg = run.config
    ckpts = checkpoints_with_base(run, "steer")
    tax = taxonomy(run_section(run, "formats", FormatsConfig))
    towards, away = s.contrast
    missing = [label for label in s.contrast if label not in tax.forcing]
    if missing:
        raise ConfigError(f"--contrast: {missing} cannot be forced in the run's taxonomy {tax.name!r}; "
                          f"pick two of {list(tax.forcing)}")
    base = load_sampler(ckpts[0], cfg.model.dtype)
    layers = len(decoder_layers(base.model))
    layer = layers // 2 if s.layer is None else s.layer
    check_layer(layer, layers, str(ckpts[0]))  # before anything is sampled
    problems = problems_for(cfg, s.problems)
    pick, measure = forcing.halves(len(problems))
    build, held_out = problems.select(pick), problems.select(measure)
    sides = {label: answers(cfg, base, build, s.problems, tax.forcing_for(label)) for label in s.contrast}
    vector = compute_steering_vector(
        base.model, base.tokenizer, [(r["prompt"], r["completion"]) for r in sides[towards]],
        [(r["prompt"], r["completion"]) for r in sides[away]], layer,
        metadata={"towards": towards, "away_from": away, "base": str(ckpts[0]), "taxonomy": tax.name})
    name = f"steering_{towards}_vs_{away}_L{layer}"
    vector_path = save_steering_vector(vector, rundir.steering_vector_file(run.path, name))
    by_strength: dict[str, Any] = {}
    for strength in s.strengths:
        with steering(base.model, vector, strength):
            rows = answers(cfg, base, held_out, s.problems)
        counts = Counter(r["format"] for r in rows)
        by_strength[f"{strength:g}"] = {
            "accuracy": forcing.accuracy([1.0 if solved(r["reward"]) else 0.0 for r in rows]).to_dict(),
            "format_shares": {label: counts[label] / len(rows) for label in tax.labels},
            "examples": [r["completion"] for r in rows[:3]],
        }
    best = max(by_strength, key=lambda k: by_strength[k]["accuracy"]["value"])
    payload = {
        "analysis": "steering", **stamp(),
        "inputs": {"run_dir": str(run.path), "base": str(ckpts[0]), "config_point": run.config_point,
                   "seed": run.seed(), "problems_for_vector": len(pick), "problems_measured": len(measure),
                   "problem_seed": s.problems.seed, "max_new_tokens": s.problems.max_new_tokens,
                   "decoding": "greedy" if s.problems.temperature == 0 else f"temperature {s.problems.temperature}",
                   "taxonomy": tax.name},
        "contrast": {"towards": towards, "away_from": away}, "layer": layer, "layers": layers,
        "vector": str(vector_path), "vector_norm": float(vector.vector.norm()),
        "strengths": [float(x) for x in s.strengths], "by_strength": by_strength,
        "best_strength": float(best),
        "best_strength_note": "chosen on the measured problems among the strengths tried (in-sample: optimistic)",
    }
    run.write_analysis("steering", payload)
    save_figure(plots_behaviour.plot_steering(by_strength, tax.labels, title=f"{run.name}: steering {towards} - {away}, "
                                              f"layer {layer}"), run.plots_dir() / "steering.png")
    return payload


def analyze_steering(resolved: Resolved, settings_for) -> AnalysisOutput:
    """``settings_for(cfg)``: the typed settings of each run."""
    per_run, skipped = each_run(resolved, lambda run: steering_for_run(run, settings_for(run.config)),
                                f"no run under {str(resolved.root)!r} has a base checkpoint")
    return AnalysisOutput("steering", resolved, per_run, skipped=skipped)
