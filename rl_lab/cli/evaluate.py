"""``rl-lab eval CONFIG --model PATH``: accuracy per family x difficulty and format shares (see rl_lab.evaluate)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_config_arguments, load_command_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "experiment YAML (its environments and eval sections are used)")
    parser.add_argument("--model", required=True, help="HF checkpoint directory to evaluate")
    parser.add_argument("--out", help="directory for eval.json / eval.txt (default: the model's directory)")


def run(args: argparse.Namespace) -> int:
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.evaluate import evaluate_model, format_table

    cfg = load_command_config(args)
    validate_checkpoint(args.model)
    report = evaluate_model(cfg, Path(args.model), Path(args.out) if args.out else Path(args.model))
    print(format_table(report))
    return 0
