"""Runner of the activation-steering analysis (``rl-lab analyze steering RUN_OR_SWEEP``).

For each run, on the base (checkpoints/step_0), weights untouched:

1. the problems of ``analysis.forcing_run.problems_for`` are split in halves (``forcing.halves``);
2. on the first half the base answers twice, forced into format A and into format B (the contrast,
   two labels of the run's taxonomy), or once unforced (contrast ``correct``: its correct answers vs
   its incorrect ones); the steering vector is the mean activation at one decoder layer over the A
   (correct) answers minus that over the B (incorrect) answers (``rl_lab.core.steering``), saved as
   ``<run>/analysis/steering_A_vs_B_L<layer>.safetensors`` (``rl-lab steer vector`` stops here;
   ``rl-lab analyze steering --vector FILE`` starts from such a file);
3. on the other half the base answers unforced with ``strength * vector`` added at that layer, for
   each strength (strength 1 moves the mean activation from B's to A's; 0 is the base itself):
   accuracy (exact 95% interval) and the share of each format.

Writes ``<run>/analysis/steering.json`` and ``plots/steering.png``. The vector is built from answers
the base itself wrote, on problems it is not measured on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rl_lab.analysis import forcing, plots_behaviour
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.forcing_run import answers, problems_for
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import ForcingSettings, run_section, taxonomy
from rl_lab.core import rundir
from rl_lab.core.config import Config, FormatsConfig
from rl_lab.core.errors import ConfigError, InputError
from rl_lab.core.model_spec import base_path
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.environments.scoring import solved

if TYPE_CHECKING:
    from rl_lab.core.steering import SteeringVector


CORRECT, INCORRECT = "correct", "incorrect"


@dataclass(frozen=True)
class Contrast:
    """What a steering vector points from and to: two forced formats of the run's taxonomy
    (``by="format"``), or the base's correct vs incorrect unforced answers (``by="correctness"``)."""

    towards: str
    away: str
    by: str  # "format" | "correctness"

    @property
    def name(self) -> str:
        return f"{self.towards}_vs_{self.away}"


def parse_contrast(text: str) -> Contrast:
    """``TOWARDS:AWAY`` or ``format:TOWARDS:AWAY`` (two formats), or ``correct`` (correct - incorrect answers)."""
    if text.strip() == CORRECT:
        return Contrast(CORRECT, INCORRECT, "correctness")
    body = text[len("format:"):] if text.startswith("format:") else text
    towards, sep, away = body.partition(":")
    if not sep or not towards or not away or ":" in away or towards == away:
        raise InputError(f"--contrast: {text!r} must name two different formats as TOWARDS:AWAY (e.g. steps:terse, "
                         "or format:steps:terse), or be 'correct' (the base's correct minus incorrect answers)")
    return Contrast(towards, away, "format")


@dataclass(frozen=True)
class SteeringSettings:
    contrast: Contrast | None  # None: the vector comes from ``vector`` (a file written by ``rl-lab steer vector``)
    strengths: tuple[float, ...]
    layer: int | None  # None: the middle decoder layer
    problems: ForcingSettings  # which problems, how they are decoded
    vector: Path | None = None


@dataclass(frozen=True)
class BuiltVector:
    vector: SteeringVector
    name: str  # the file stem under <run>/analysis/
    layers: int  # the base's decoder layers
    problems: int  # problems whose answers built it


def _answers_for_vector(cfg: Config, base, build, contrast: Contrast, tax, s: ForcingSettings
                        ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    if contrast.by == "format":
        sides = {label: answers(cfg, base, build, s, tax.forcing_for(label))
                 for label in (contrast.towards, contrast.away)}
        return ([(r["prompt"], r["completion"]) for r in sides[contrast.towards]],
                [(r["prompt"], r["completion"]) for r in sides[contrast.away]])
    rows = answers(cfg, base, build, s)
    good = [(r["prompt"], r["completion"]) for r in rows if solved(r["reward"])]
    bad = [(r["prompt"], r["completion"]) for r in rows if not solved(r["reward"])]
    if not good or not bad:
        raise InputError(f"--contrast correct: the base answered {len(good)} of {len(rows)} problems correctly; a "
                         "correctness vector needs both correct and incorrect answers (change --problems-per-level, "
                         "or contrast two formats)")
    return good, bad


def build_vector(run: RunDir, base, contrast: Contrast, layer: int | None, s: ForcingSettings) -> BuiltVector:
    """The mean-difference vector of ``contrast`` at ``layer`` (None: the middle one) from the base's own
    answers on the even-indexed half of the problems (the odd half stays unseen, for measuring).
    ConfigError for a layer the base lacks or a format it cannot force, before anything is sampled."""
    from rl_lab.core.steering import check_layer, compute_steering_vector, decoder_layers

    cfg = run.config
    tax = taxonomy(run_section(run, "formats", FormatsConfig))
    if contrast.by == "format":
        missing = [label for label in (contrast.towards, contrast.away) if label not in tax.forcing]
        if missing:
            raise ConfigError(f"--contrast: {missing} cannot be forced in the run's taxonomy {tax.name!r}; "
                              f"pick two of {list(tax.forcing)}")
    layers = len(decoder_layers(base.model))
    layer = layers // 2 if layer is None else layer
    check_layer(layer, layers, str(base_path(base.spec)))  # before anything is sampled
    problems = problems_for(cfg, s)
    pick, _ = forcing.halves(len(problems))
    positive, negative = _answers_for_vector(cfg, base, problems.select(pick), contrast, tax, s)
    vector = compute_steering_vector(
        base.model, base.tokenizer, positive, negative, layer,
        metadata={"towards": contrast.towards, "away_from": contrast.away, "contrast": contrast.by,
                  "base": str(base_path(base.spec)), "run_dir": str(run.path), "taxonomy": tax.name,
                  "problems": f"even-indexed half ({len(pick)}) of analysis.forcing_run.problems_for, seed {s.seed}",
                  "decoding": "greedy" if s.temperature == 0 else f"temperature {s.temperature}"})
    return BuiltVector(vector, f"steering_{contrast.name}_L{layer}", layers, len(pick))


def vector_for_run(run: RunDir, contrast: Contrast, layer: int | None, s: ForcingSettings,
                   out: Path | None = None) -> tuple[BuiltVector, Path]:
    """``rl-lab steer vector``: build the vector on the run's base and save it (default
    ``<run>/analysis/steering_<towards>_vs_<away>_L<layer>.safetensors``)."""
    from rl_lab.core.sampler import load_sampler
    from rl_lab.core.steering import save_steering_vector

    ckpts = checkpoints_with_base(run, "build a steering vector on")
    built = build_vector(run, load_sampler(ckpts[0], run.config.model.dtype), contrast, layer, s)
    return built, save_steering_vector(built.vector, out or rundir.steering_vector_file(run.path, built.name))


def _given_vector(path: Path, base, layer: int | None) -> tuple[SteeringVector, int]:
    from rl_lab.core.steering import check_layer, decoder_layers, load_steering_vector

    vector = load_steering_vector(path)
    layers = len(decoder_layers(base.model))
    if layer is not None and layer != vector.layer:
        raise InputError(f"--layer {layer}: the vector {str(path)!r} was computed at layer {vector.layer}; "
                         "drop --layer, or build a vector at that layer (rl-lab steer vector --layer)")
    check_layer(vector.layer, layers, str(base_path(base.spec)))
    hidden = base.model.config.hidden_size
    if vector.vector.shape[0] != hidden:
        raise ConfigError(f"--vector {str(path)!r} has size {vector.vector.shape[0]}, the base's hidden size is {hidden}")
    return vector, layers


def steering_for_run(run: RunDir, s: SteeringSettings) -> dict[str, Any]:
    from rl_lab.core.sampler import load_sampler
    from rl_lab.core.steering import save_steering_vector, steering

    cfg = run.config
    ckpts = checkpoints_with_base(run, "steer")
    tax = taxonomy(run_section(run, "formats", FormatsConfig))
    base = load_sampler(ckpts[0], cfg.model.dtype)
    if s.vector is not None:
        vector, layers = _given_vector(s.vector, base, s.layer)
        vector_path = s.vector
        towards, away = vector.metadata.get("towards", "?"), vector.metadata.get("away_from", "?")
    else:
        assert s.contrast is not None
        built = build_vector(run, base, s.contrast, s.layer, s.problems)
        vector, layers = built.vector, built.layers
        vector_path = save_steering_vector(vector, rundir.steering_vector_file(run.path, built.name))
        towards, away = s.contrast.towards, s.contrast.away
    layer = vector.layer
    problems = problems_for(cfg, s.problems)
    pick, measure = forcing.halves(len(problems))
    held_out = problems.select(measure)
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
                   "taxonomy": tax.name, "vector_given": s.vector is not None},
        "contrast": {"towards": towards, "away_from": away, "by": vector.metadata.get("contrast", "format")},
        "layer": layer, "layers": layers,
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
