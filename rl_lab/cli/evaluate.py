"""``rl-lab eval CONFIG --model SPEC``: accuracy per family x difficulty and format shares (see rl_lab.evaluate).

``SPEC`` is a checkpoint directory or a model spec (``proxy:base=..,tuned=..,untuned=..``,
``steer:base=..,vector=..``; docs/elicitation.md), validated before anything is loaded or written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.cli.common import add_config_arguments, add_threads_argument, apply_threads, load_command_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "experiment YAML (its environments and eval sections are used)")
    parser.add_argument("--model", required=True,
                        help="checkpoint directory, or a model spec: proxy:base=P,tuned=P,untuned=P[,alpha=A] | "
                             "steer:base=P,vector=FILE[,strength=S][,layer=L]")
    parser.add_argument("--out", help="directory for eval.json / eval.txt (default: the checkpoint's directory; "
                                      "required for a proxy:/steer: spec)")
    add_threads_argument(parser)


def run(args: argparse.Namespace) -> int:
    from rl_lab.core.errors import InputError
    from rl_lab.core.model_spec import PlainSpec, parse_model_spec
    from rl_lab.evaluate import evaluate_model, format_table

    cfg = load_command_config(args)
    spec = parse_model_spec(args.model)
    if args.out is None and not isinstance(spec, PlainSpec):
        # the default would overwrite the base checkpoint's own eval.json with another model's numbers
        raise InputError("--out is required for a proxy:/steer: spec (the default, the base checkpoint's "
                         "directory, holds that checkpoint's own eval.json)")
    apply_threads(args.threads)
    out = Path(args.out) if args.out else spec.path
    report = evaluate_model(cfg, spec, out)
    print(format_table(report))
    return 0
