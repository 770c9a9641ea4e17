"""Which checkpoint of a run directory a resume starts from."""

from __future__ import annotations

from pathlib import Path

from rl_lab.core.rundir import TRAINER_STATE, RunDir


def last_resumable(run: RunDir) -> tuple[int, Path] | None:
    """The latest checkpoint with trainer state (step_0, the base, has none: resuming from it is a fresh start)."""
    points = [(s, p) for s, p in run.checkpoints().items() if s > 0 and (p / TRAINER_STATE).is_file()]
    return points[-1] if points else None
