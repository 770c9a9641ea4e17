"""``rl-lab sweep CONFIG [--resume] [--address ADDR] [overrides...]``: a Ray Tune sweep (see rl_lab.sweep).

Exit status: 0 when every trial is done, 1 when some trial failed for good or did not
finish, 2 for a bad config (nothing is written and Ray is not started).
"""

from __future__ import annotations

import argparse

from rl_lab.cli.common import add_config_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser, "experiment YAML; its sweep.grid maps dotted config keys to lists of values")
    parser.add_argument(
        "--resume", action="store_true",
        help="continue the sweep in the config's sweep dir (after a killed driver or failed trials): "
        "finished trials are kept, unfinished and failed ones continue from their last checkpoint",
    )
    parser.add_argument(
        "--address", default=None,
        help="join this Ray cluster (e.g. 'auto' or 'HEAD_IP:6379'); overrides ray.address; default: start a local Ray",
    )
    parser.add_argument(
        "--trial-output", action="store_true",
        help="also stream every trial's stdout/stderr (TRL logs) to this terminal; default: only the progress table",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rl_lab.core.config import load_raw
    from rl_lab.core.rundir import SWEEP_SUMMARY
    from rl_lab.sweep.runner import prepare, run_sweep
    from rl_lab.sweep.summary import summary_table

    plan = prepare(load_raw(args.config, args.overrides), resume=args.resume, address=args.address,
                   trial_output=args.trial_output)
    summary = run_sweep(plan)
    console = Console()
    console.print(summary_table(summary))
    console.print(f"summary: {plan['sweep_dir'] / SWEEP_SUMMARY}", highlight=False)
    return 0 if all(t["status"] == "done" for t in summary["trials"]) else 1
