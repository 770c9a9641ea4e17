"""GRPO/RLVR training on TRL's GRPOTrainer with difficulty curricula (see docs/training.md).

Light on purpose: heavy modules (torch, transformers, trl) load when ``run_training`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from rl_lab.core.config import Config

__all__ = ["run_training"]


def run_training(
    cfg: Config,
    run_dir: Path | None = None,
    resume: bool = False,
    reporter: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` with GRPO; see ``rl_lab.train.runner.run_training``."""
    from rl_lab.train.runner import run_training as _run

    return _run(cfg, run_dir=run_dir, resume=resume, reporter=reporter)
