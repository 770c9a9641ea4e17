"""``rl-lab pretrain CONFIG [overrides...]``: the controlled base model (see rl_lab.pretrain)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_config_arguments, load_command_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--force", action="store_true", help="overwrite an existing base model")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted pretraining run")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation of the finished model")


def run(args: argparse.Namespace) -> int:
    from rl_lab.core.errors import InputError

    cfg = load_command_config(args)
    out = cfg.base_dir
    if (out / "model").exists() and not (args.force or args.resume):
        raise InputError(f"{out / 'model'} already exists; pass --force to overwrite it or --resume to continue")
    from rl_lab.pretrain import pretrain

    result = pretrain(cfg, resume=args.resume, force=args.force)
    print(f"base model: {result['model_dir']}  ({result['parameters']:,} parameters, {result['seconds']:.0f} s)")
    if not args.no_eval:
        from rl_lab.evaluate import evaluate_model, format_table

        report = evaluate_model(cfg, Path(result["model_dir"]), out)
        print(format_table(report))
    return 0
