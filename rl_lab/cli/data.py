"""``rl-lab data build CONFIG``: a config's problem sets on disk, for inspection (see rl_lab.problem_data)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_config_arguments, load_command_config
from rl_lab.cli.numbers import positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--per-level", type=positive_int, default=None,
                        help="problems per family x level (default: eval.problems_per_level)")
    parser.add_argument("--out", default=None, help="output directory (default: <output_dir>/data)")


def run(args: argparse.Namespace) -> int:
    from rl_lab.problem_data import write_problem_sets

    cfg = load_command_config(args)
    per_level = args.per_level if args.per_level is not None else cfg.eval.problems_per_level
    out = Path(args.out) if args.out else cfg.root / "data"
    for split, count in write_problem_sets(cfg, per_level, out).items():
        print(f"{split:>7}: {count:>6} problems -> {out / split}")
    return 0
