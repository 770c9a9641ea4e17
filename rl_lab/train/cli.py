"""``rl-lab train CONFIG [--resume] [overrides...]``."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML, e.g. configs/quickstart.yaml")
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides, e.g. train.steps=20 curriculum.kind=adaptive")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in <output_dir>/train from its last checkpoint (after any interruption)")
    parser.add_argument("--run-dir", default=None, help="train into this directory instead of <output_dir>/train")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rl_lab.config import load_config
    from rl_lab.models import CheckpointError

    cfg = load_config(args.config, args.overrides)  # ConfigError -> exit 2 in rl_lab.cli, nothing written
    from rl_lab.train import run_training

    try:
        metrics = run_training(cfg, Path(args.run_dir) if args.run_dir else None, resume=args.resume)
    except CheckpointError as exc:
        print(f"error: base model: {exc}; set train.base_model (or run `rl-lab pretrain` first)", file=sys.stderr)
        return 2
    keys = ("step", "reward", "accuracy", "entropy", "completions/mean_length", "steps_per_second")
    summary = "  ".join(f"{k}={metrics[k]:.4g}" for k in keys if isinstance(metrics.get(k), int | float))
    print(f"done: {Path(args.run_dir) if args.run_dir else cfg.train_dir}  {summary}")
    return 0
