"""metrics.jsonl and TensorBoard event files with the same scalar names: one writer for both.

Pretraining and RL both log through ``MetricsLog``, so a tag in TensorBoard is always a key of
metrics.jsonl (the HF ``TensorBoardCallback`` would prefix ``train/``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rl_lab.core.io import append_jsonl


def scalars(logs: dict[str, Any]) -> dict[str, float]:
    """The finite numeric scalars of a Trainer log row (booleans and None dropped)."""
    out = {}
    for key, value in logs.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float) and math.isfinite(value):
            out[key] = float(value)
    return out


class MetricsLog:
    """Appends rows ``{"step": N, name: value, ...}`` to metrics.jsonl and the same scalars to TensorBoard.

    ``purge_step``: TensorBoard drops events of an interrupted attempt from this step on (resume).
    """

    def __init__(self, metrics_file: Path, tensorboard_dir: Path, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        self.metrics_file = Path(metrics_file)
        self.writer = SummaryWriter(log_dir=str(tensorboard_dir), purge_step=purge_step)

    def write(self, row: dict[str, Any]) -> None:
        append_jsonl(self.metrics_file, [row])
        if self.writer is not None:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(key, value, global_step=row["step"])
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
