"""``rl-lab steer vector RUN --contrast ...``: a steering vector from the base's own activations, saved
as safetensors with its provenance in the metadata (``rl_lab.analysis.steering_run.vector_for_run``).

Use it with any sampling command through a model spec
(``steer:base=RUN/checkpoints/step_0,vector=FILE,strength=S``) or measure it against strength with
``rl-lab analyze steering RUN --vector FILE``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_threads_argument, apply_run_determinism, apply_threads
from rl_lab.cli.numbers import finite_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN", help="a run dir with checkpoints/step_0 (the base)")
    parser.add_argument("--contrast", required=True, metavar="TOWARDS:AWAY|correct",
                        help="two formats of the run's taxonomy (steps:terse, or format:steps:terse): the vector "
                             "points from the base's answers forced into AWAY to those forced into TOWARDS; or "
                             "'correct': from the base's incorrect unforced answers to its correct ones")
    parser.add_argument("--layer", type=int, default=None, help="decoder layer (0-based; default: the middle one)")
    parser.add_argument("--problems-per-level", type=positive_int, default=None,
                        help="problems per trained family x level; the even-indexed half builds the vector "
                             "(default: eval.problems_per_level)")
    parser.add_argument("--temperature", type=finite_float(0.0), default=None,
                        help="decoding of the base's answers: 0 = greedy (default: eval.temperature)")
    parser.add_argument("--out", default=None,
                        help="safetensors file to write (default: RUN/analysis/steering_<towards>_vs_<away>_L<layer>"
                             ".safetensors)")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rl_lab.analysis.settings import forcing_settings
    from rl_lab.analysis.steering_run import parse_contrast, vector_for_run
    from rl_lab.core.errors import InputError, RunDirError
    from rl_lab.core.rundir import resolve

    contrast = parse_contrast(args.contrast)
    if args.layer is not None and args.layer < 0:
        raise InputError(f"--layer: must be >= 0, got {args.layer}")
    resolved = resolve(args.path)
    if resolved.kind != "run":
        raise RunDirError(f"{args.path!r} is a sweep dir; pass one of its run dirs (a vector is built on one base)")
    run_dir = resolved.runs[0]
    settings = forcing_settings(run_dir.config, args.problems_per_level, args.temperature)
    apply_run_determinism(run_dir)
    apply_threads(args.threads)
    built, path = vector_for_run(run_dir, contrast, args.layer, settings, Path(args.out) if args.out else None)
    meta = built.vector.metadata
    print(f"{run_dir.name}: {contrast.towards} - {contrast.away} at layer {built.vector.layer} of {built.layers}, "
          f"norm {float(built.vector.vector.norm()):.4g}, from {meta['n_positive']} + {meta['n_negative']} answers "
          f"on {built.problems} problems")
    print(f"wrote {path}")
    print(f"use it: steer:base={run_dir.checkpoint_dir(0)},vector={path},strength=1  "
          f"or  rl-lab analyze steering {run_dir.path} --vector {path}")
    return 0
