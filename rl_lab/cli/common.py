"""Arguments several commands share, and turning them into a validated config."""

from __future__ import annotations

import argparse
import sys

from rl_lab.cli.numbers import positive_int
from rl_lab.core.config import Config
from rl_lab.core.rundir import RunDir


def add_config_arguments(parser: argparse.ArgumentParser, help_config: str = "experiment YAML, e.g. configs/quickstart.yaml") -> None:
    parser.add_argument("config", help=help_config)
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides, e.g. train.steps=20 seed=3")


def load_command_config(args: argparse.Namespace) -> Config:
    """The command's config with its overrides applied; ConfigError (exit 2) before anything is written.
    Its ``determinism`` pins (kernels, threads) take effect here, before any tensor is computed."""
    from rl_lab.config import load_config
    from rl_lab.core import determinism

    cfg = load_config(args.config, args.overrides)
    determinism.apply(cfg)
    return cfg


def apply_run_determinism(run: RunDir) -> None:
    """The ``determinism`` pins of the run being analysed (a sweep's trials share them)."""
    from rl_lab.core import determinism
    from rl_lab.core.errors import RunDirError

    try:
        determinism.apply(run.config)
    except RunDirError:
        pass  # no readable config.yaml: the runner reports that itself


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=positive_int, default=None,
                        help="torch CPU threads (default: torch's); on a machine shared with other jobs "
                             "--threads 1 is often much faster for tiny models")


def apply_threads(threads: int | None) -> None:
    """``--threads N`` for the model-running commands (None or 0: torch's default)."""
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def add_run_or_sweep_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("path", metavar="RUN_OR_SWEEP", help=f"a run dir ({what}) or a sweep dir (sweep_summary.json)")


def print_skipped(skipped: list[str]) -> None:
    for reason in skipped:
        print(f"warning: {reason}; skipped", file=sys.stderr)
