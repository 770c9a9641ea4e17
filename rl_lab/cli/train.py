"""``rl-lab train CONFIG [--resume] [overrides...]``: GRPO (or SFT: train.method; LoRA: train.peft) on TRL into a run directory (see rl_lab.train)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_config_arguments, load_command_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in <output_dir>/train from its last checkpoint (after any interruption)")
    parser.add_argument("--run-dir", default=None, help="train into this directory instead of <output_dir>/train")


def run(args: argparse.Namespace) -> int:
    from rl_lab.core.errors import CheckpointError
    from rl_lab.train import run_training

    cfg = load_command_config(args)
    run_dir = Path(args.run_dir) if args.run_dir else cfg.train_dir
    try:
        metrics = run_training(cfg, run_dir, resume=args.resume)
    except CheckpointError as exc:
        raise CheckpointError(f"base model: {exc}; set train.base_model (or run `rl-lab pretrain` first)") from None
    keys = ("step", "reward", "accuracy", "entropy", "completions/mean_length", "steps_per_second")
    summary = "  ".join(f"{k}={metrics[k]:.4g}" for k in keys if isinstance(metrics.get(k), int | float))
    print(f"done: {run_dir}  {summary}")
    return 0
