"""Arguments several commands share, and turning them into a validated config."""

from __future__ import annotations

import argparse

from rl_lab.core.config import Config


def add_config_arguments(parser: argparse.ArgumentParser, help_config: str = "experiment YAML, e.g. configs/quickstart.yaml") -> None:
    parser.add_argument("config", help=help_config)
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides, e.g. train.steps=20 seed=3")


def load_command_config(args: argparse.Namespace) -> Config:
    """The command's config with its overrides applied; ConfigError (exit 2) before anything is written."""
    from rl_lab.config import load_config

    return load_config(args.config, args.overrides)
