"""The training run directory: paths, status, and what resume finds and rewinds."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path
from typing import Any

from rl_lab.io import atomic_write_json, atomic_write_jsonl, read_json, read_jsonl

CHECKPOINTS = "checkpoints"
SCRATCH = "trainer"  # the HF Trainer's checkpoint-<N> folders before they are moved
CURRICULUM_STATE = "curriculum_state.json"
TRAINER_STATE = "trainer_state.json"
_STEP_DIR = re.compile(r"^step_(\d+)$")


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step_{step}"


def list_checkpoints(run_dir: Path) -> dict[int, Path]:
    folder = Path(run_dir) / CHECKPOINTS
    out = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _STEP_DIR.match(p.name)
            if m and p.is_dir():
                out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def last_resumable(run_dir: Path) -> tuple[int, Path] | None:
    """The latest checkpoint with trainer state (step_0, the base, has none: resuming from it is a fresh start)."""
    points = [(s, p) for s, p in list_checkpoints(run_dir).items() if s > 0 and (p / TRAINER_STATE).is_file()]
    return points[-1] if points else None


def has_run(run_dir: Path) -> bool:
    run_dir = Path(run_dir)
    return any((run_dir / name).exists() for name in ("metrics.jsonl", "status.json", CHECKPOINTS))


def write_status(run_dir: Path, state: str, step: int, total: int, **extra: Any) -> None:
    atomic_write_json(Path(run_dir) / "status.json", {
        "state": state, "step": step, "total_steps": total, "updated": time.time(), **extra,
    })


def read_status(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / "status.json"
    return read_json(path) if path.is_file() else None


def rewind(run_dir: Path, step: int) -> None:
    """Forget everything logged after ``step`` (the checkpoint a resume starts from).

    metrics.jsonl is rewritten without rows past ``step`` (so no step is ever logged
    twice), rollouts and checkpoints past it are deleted, and the Trainer's scratch
    folder (possibly a half-written checkpoint) is cleared.
    """
    run_dir = Path(run_dir)
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        atomic_write_jsonl(metrics, [row for row in read_jsonl(metrics) if row.get("step", 0) <= step])
    rollouts = run_dir / "rollouts"
    if rollouts.is_dir():
        for f in rollouts.glob("step_*.jsonl"):
            if int(f.stem.split("_")[1]) > step:
                f.unlink()
    for s, p in list_checkpoints(run_dir).items():
        if s > step:
            shutil.rmtree(p)
    shutil.rmtree(run_dir / SCRATCH, ignore_errors=True)
    for tmp in (run_dir / CHECKPOINTS).glob(".step_*"):
        shutil.rmtree(tmp, ignore_errors=True)
