"""``rl-lab analyze formats|contamination|drift RUN_OR_SWEEP``: behaviour analyses of run dirs.

Each command resolves RUN_OR_SWEEP, builds the analysis' typed settings from each run's config
plus the flags given here (``rl_lab.analysis.settings``), calls its runner, and prints a summary.
Every JSON goes to ``<root>/analysis/<name>.json`` (root: the run dir, or the sweep dir, whose
trials also get their own) with PNGs in ``<root>/plots/`` (docs/analysis.md).
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from rl_lab.cli.common import (
    add_run_or_sweep_argument,
    add_threads_argument,
    apply_run_determinism,
    apply_threads,
    print_skipped,
)
from rl_lab.cli.numbers import finite_float, fraction, positive_int


# =========================================================================== formats
def add_arguments_formats(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "rollouts/")
    parser.add_argument("--threshold", type=fraction, default=None,
                        help="collapse threshold on one format's share (default: the run's analysis.collapse_threshold)")


def run_formats(args: argparse.Namespace) -> int:
    from rl_lab.analysis.formats_run import analyze_formats
    from rl_lab.analysis.settings import formats_settings, run_section
    from rl_lab.core.config import AnalysisConfig, FormatsConfig
    from rl_lab.core.rundir import resolve

    resolved = resolve(args.path)
    first = resolved.runs[0]  # a sweep's trials share the config's threshold and taxonomy
    settings = formats_settings(run_section(first, "analysis", AnalysisConfig), run_section(first, "formats", FormatsConfig),
                                args.threshold)
    out = analyze_formats(resolved, settings)
    print_skipped(out.skipped)
    for run, summary in out.per_run:
        where = f"at step {summary['collapse_step']} ({summary['winner']})" if summary["collapsed"] else "none"
        final = summary["final_shares"] or {}
        print(f"{run.name}: collapse {where}; final shares " + ", ".join(f"{f} {v:.2f}" for f, v in final.items()))
    for name, agg in ((out.sweep or {}).get("groups") or {}).items():
        cs = agg["collapse_step"]
        print(f"[{name}] {agg['collapsed_runs']}/{agg['runs']} runs collapsed; collapse step mean "
              f"{cs['mean']} (min {cs['min']}, max {cs['max']}); winners {agg['winner_counts']}")
    print(f"wrote {out.written}")
    return 0


# =========================================================================== contamination
def add_arguments_contamination(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "checkpoints/step_<N>")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="probe problems per family x level (default: analysis.probe_problems_per_level)")
    parser.add_argument("--temperature", type=finite_float(0.0), default=None,
                        help="probe decoding: 0 = greedy (deterministic), > 0 samples with a fixed seed "
                             "(default: analysis.probe_temperature, 0)")
    parser.add_argument("--length-fraction", type=fraction, default=None,
                        help="length collapse: shorter than this fraction of the base's median length per level "
                             "(default: analysis.length_fraction, 0.5)")
    parser.add_argument("--batch-size", type=positive_int, default=None, help="default: eval.batch_size")
    add_threads_argument(parser)


def run_contamination(args: argparse.Namespace) -> int:
    from rl_lab.analysis.contamination_run import analyze_contamination, last_rates
    from rl_lab.analysis.intervals import Estimate, describe
    from rl_lab.analysis.settings import contamination_settings
    from rl_lab.analysis.shortcuts import SHORTCUTS
    from rl_lab.core.rundir import resolve

    settings_for = partial(contamination_settings, problems_per_level=args.problems_per_level,
                           temperature=args.temperature, length_fraction=args.length_fraction,
                           batch_size=args.batch_size)
    resolved = resolve(args.path)
    apply_run_determinism(resolved.runs[0])
    apply_threads(args.threads)
    out = analyze_contamination(resolved, settings_for)
    print_skipped(out.skipped)
    for run, p in out.per_run:
        last = last_rates(p["rollout_shortcuts"]["by_step"])
        change = describe(Estimate(**p["prior_skill_accuracy_change_interval"]), 100, " pp", 1, of="probes", signed=True)
        print(f"{run.name}: prior-skill accuracy {p['prior_skill_accuracy_base']:.3f} (base) -> "
              f"{p['prior_skill_accuracy_final']:.3f} (step {p['final_step']}), change {change}; "
              "rollout shortcuts at the last step: "
              + ", ".join(f"{k} {v:.2f}" for k, v in last.items() if k in SHORTCUTS and v is not None))
    if out.sweep is not None:
        _print_comparison(out.sweep["curriculum_comparison"])
    print(f"wrote {out.written}")
    return 0


def _print_comparison(table: dict) -> None:
    print(f"{'group':<28}{'seeds':>6}{'prior Δacc':>12}{'reward':>9}{'repeat':>8}{'skipped':>9}{'short':>7}{'contain':>9}")
    for name, row in table.items():
        def m(key: str, row: dict = row) -> str:
            v = row[key]["mean"]
            return "-" if v is None else f"{v:+.3f}" if key.startswith("prior") else f"{v:.3f}"
        print(f"{name:<28}{len(row['seeds']):>6}{m('prior_skill_accuracy_change'):>12}{m('final_reward'):>9}"
              f"{m('rollouts/repeat_prompt_number'):>8}{m('rollouts/skipped_work'):>9}"
              f"{m('rollouts/length_collapse'):>7}{m('rollouts/oracle_containment'):>9}")


# =========================================================================== drift
def add_arguments_drift(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "checkpoints/step_<N>")
    parser.add_argument("--prompts", type=positive_int, default=None, help="held-out prompts (default: analysis.drift_prompts)")
    parser.add_argument("--samples-per-prompt", type=positive_int, default=None,
                        help="sequences sampled per prompt and model (default: analysis.drift_samples_per_prompt)")
    parser.add_argument("--batch-size", type=positive_int, default=None,
                        help="sequences per forward pass when scoring (default: analysis.drift_batch_size)")
    parser.add_argument("--no-contamination", action="store_true",
                        help="sweep: do not compute missing contamination results for the drift-vs-prior plot")
    add_threads_argument(parser)


def run_drift(args: argparse.Namespace) -> int:
    from rl_lab.analysis.drift import FORWARD, REVERSE
    from rl_lab.analysis.drift_run import analyze_drift
    from rl_lab.analysis.settings import drift_settings
    from rl_lab.core.rundir import resolve

    settings_for = partial(drift_settings, prompts=args.prompts, samples_per_prompt=args.samples_per_prompt,
                           batch_size=args.batch_size)
    resolved = resolve(args.path)
    apply_run_determinism(resolved.runs[0])
    apply_threads(args.threads)
    out = analyze_drift(resolved, settings_for, compute_prior=not args.no_contamination)
    print_skipped(out.skipped)
    for run, p in out.per_run:
        fin = p["final"]
        print(f"{run.name}: step {p['final_step']} KL(base||tuned) {fin[FORWARD]['per_token']:.4f}/token, "
              f"KL(tuned||base) {fin[REVERSE]['per_token']:.4f}/token")
    print(f"wrote {out.written}")
    return 0


# =========================================================================== forcing
def add_arguments_forcing(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "checkpoints/step_0 and a trained checkpoint")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="problems per trained family x level (default: eval.problems_per_level)")
    parser.add_argument("--temperature", type=finite_float(0.0), default=None,
                        help="decoding: 0 = greedy (default: eval.temperature)")
    add_threads_argument(parser)


def run_forcing(args: argparse.Namespace) -> int:
    from rl_lab.analysis.forcing_run import analyze_forcing
    from rl_lab.analysis.settings import forcing_settings
    from rl_lab.core.rundir import resolve

    settings_for = partial(forcing_settings, problems_per_level=args.problems_per_level, temperature=args.temperature)
    resolved = resolve(args.path)
    apply_run_determinism(resolved.runs[0])
    apply_threads(args.threads)
    out = analyze_forcing(resolved, settings_for)
    print_skipped(out.skipped)
    for run, p in out.per_run:
        acc = p["accuracy"]
        print(f"{run.name}: accuracy " + ", ".join(f"{k} {v['value']:.3f}" for k, v in acc.items()))
        head = p["share_of_rl_gain"]
        if head["share"] is None:
            print(f"  share of RL's gain recovered by forcing {p['best_format']}: undefined ({head['why_no_share']})")
        else:
            si = head["share_interval"]
            print(f"  share of RL's gain recovered by forcing {p['best_format']}: {head['share']:.2f} "
                  f"[{si['low']:.2f}, {si['high']:.2f}] on {head['problems']} held-out problems")
    print(f"wrote {out.written}")
    return 0


# =========================================================================== steering
def add_arguments_steering(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "checkpoints/step_0")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--contrast", metavar="TOWARDS:AWAY|correct",
                       help="two formats of the run's taxonomy, e.g. steps:terse (controlled) or boxed:bare_number: "
                            "the vector points from the base's answers forced into AWAY to those forced into TOWARDS; "
                            "'correct': from its incorrect answers to its correct ones")
    which.add_argument("--vector", default=None,
                       help="a vector file written by rl-lab steer vector (instead of building one)")
    parser.add_argument("--strengths", default="-1,0,0.5,1,2",
                        help="comma-separated multiples of the vector to add (0 = the base); default -1,0,0.5,1,2")
    parser.add_argument("--layer", type=int, default=None, help="decoder layer (0-based; default: the middle one)")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="problems per trained family x level, half build the vector, half measure "
                             "(default: eval.problems_per_level)")
    parser.add_argument("--temperature", type=finite_float(0.0), default=None,
                        help="decoding: 0 = greedy (default: eval.temperature)")
    add_threads_argument(parser)


def _strengths(text: str) -> tuple[float, ...]:
    import math

    from rl_lab.core.errors import InputError

    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"--strengths: {text!r} is not a comma-separated list of numbers (e.g. -1,0,1,2)") from None
    if not values or not all(math.isfinite(v) for v in values):
        raise InputError(f"--strengths: {text!r} needs at least one finite number")
    return values


def run_steering(args: argparse.Namespace) -> int:
    from rl_lab.analysis.settings import forcing_settings
    from rl_lab.analysis.steering_run import SteeringSettings, analyze_steering, parse_contrast
    from rl_lab.core.errors import InputError
    from rl_lab.core.rundir import resolve

    contrast = parse_contrast(args.contrast) if args.contrast else None
    if args.layer is not None and args.layer < 0:
        raise InputError(f"--layer: must be >= 0, got {args.layer}")
    strengths = _strengths(args.strengths)

    def settings_for(cfg):
        return SteeringSettings(contrast, strengths, args.layer,
                                forcing_settings(cfg, args.problems_per_level, args.temperature),
                                Path(args.vector) if args.vector else None)

    resolved = resolve(args.path)
    apply_run_determinism(resolved.runs[0])
    apply_threads(args.threads)
    out = analyze_steering(resolved, settings_for)
    print_skipped(out.skipped)
    for run, p in out.per_run:
        print(f"{run.name}: layer {p['layer']}, vector {p['vector']}")
        for k, v in p["by_strength"].items():
            a = v["accuracy"]
            shares = ", ".join(f"{f} {x:.2f}" for f, x in v["format_shares"].items() if x)
            print(f"  strength {k:>5}: accuracy {a['value']:.3f} [{a['low']:.3f}, {a['high']:.3f}]; {shares}")
    print(f"wrote {out.written}")
    return 0


# =========================================================================== proxy-tuning
def add_arguments_proxy(parser: argparse.ArgumentParser) -> None:
    add_run_or_sweep_argument(parser, "checkpoints/step_0 and a trained checkpoint")
    parser.add_argument("--onto", default=None,
                        help="the other base to proxy-tune: a checkpoint dir, or a run dir (its checkpoints/step_0); "
                             "it must share the run's tokenizer. Default for a sweep: the next trial's base with a "
                             "different seed; required for a lone run")
    parser.add_argument("--alpha", type=finite_float(), default=1.0,
                        help="logits = other base + alpha (tuned - untuned); default 1")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="problems per trained family x level (default: eval.problems_per_level)")
    parser.add_argument("--temperature", type=finite_float(0.0), default=None,
                        help="decoding: 0 = greedy (default: eval.temperature)")
    add_threads_argument(parser)


def run_proxy(args: argparse.Namespace) -> int:
    from rl_lab.analysis.proxy_run import ProxySettings, analyze_proxy
    from rl_lab.analysis.settings import forcing_settings
    from rl_lab.core.rundir import resolve

    def settings_for(cfg):
        return ProxySettings(Path(args.onto) if args.onto else None, args.alpha,
                             forcing_settings(cfg, args.problems_per_level, args.temperature))

    resolved = resolve(args.path)
    apply_run_determinism(resolved.runs[0])
    apply_threads(args.threads)
    out = analyze_proxy(resolved, settings_for)
    print_skipped(out.skipped)
    for run, p in out.per_run:
        print(f"{run.name} onto {p['inputs']['onto']}: accuracy "
              + ", ".join(f"{k} {v['value']:.3f}" for k, v in p["accuracy"].items()))
        head = p["share_of_rl_gain"]
        if head["share"] is None:
            print(f"  share of RL's gain proxy-tuning reaches: undefined ({head['why_no_share']})")
        else:
            si = head["share_interval"]
            print(f"  share of RL's gain proxy-tuning reaches: {head['share']:.2f} [{si['low']:.2f}, {si['high']:.2f}] "
                  f"on {head['problems']} problems")
    print(f"wrote {out.written}")
    return 0
