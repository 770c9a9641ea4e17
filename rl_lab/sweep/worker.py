"""Entry point of one process of a multi-GPU trial (``accelerate launch -m rl_lab.sweep.worker``).

Usage: ``python -m rl_lab.sweep.worker TRIAL_CONFIG.yaml RUN_DIR [--resume]``. The trial
config is the resolved config the sweep wrote for this trial; every process calls
``run_training`` and TRL/accelerate split the work across them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_lab.sweep.worker")
    parser.add_argument("config", help="the trial's resolved config (YAML)")
    parser.add_argument("run_dir", help="the trial's run dir")
    parser.add_argument("--resume", action="store_true", help="continue from the run dir's last checkpoint")
    args = parser.parse_args(argv)

    from rl_lab.config import load_config
    from rl_lab.train import run_training

    run_training(load_config(args.config), run_dir=Path(args.run_dir), resume=args.resume)
    return 0


if __name__ == "__main__":
    sys.exit(main())
