"""What every run-dir analysis shares: applying it to each run of "a run or a sweep", and the
record it returns. A run that lacks what the analysis needs is an error for a lone run and a
skipped trial (named in ``skipped``) for a sweep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.core.errors import RunDirError
from rl_lab.core.rundir import Resolved, RunDir, analysis_file


def stamp() -> dict[str, Any]:
    """The ``created`` field of every analysis JSON."""
    return {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


@dataclass
class AnalysisOutput:
    """What a run-dir analysis wrote: one payload per analysed run, the sweep's own payload."""

    name: str  # analysis/<name>.json
    resolved: Resolved
    per_run: list[tuple[RunDir, dict[str, Any]]]
    sweep: dict[str, Any] | None = None  # the sweep dir's payload (None for a lone run)
    skipped: list[str] = field(default_factory=list)  # why trials of a sweep were skipped

    @property
    def written(self) -> Path:
        return analysis_file(self.resolved.root, self.name)


def checkpoints_with_base(run: RunDir, what: str) -> dict[int, Path]:
    """``{step: dir}`` of the run's checkpoints; RunDirError when checkpoints/step_0, the base that
    ``what`` is measured against, is missing."""
    ckpts = run.checkpoints()
    if 0 not in ckpts:
        raise RunDirError(f"run {str(run.path)!r} has no checkpoints/step_0 (the base) to {what}")
    return ckpts


def each_run(resolved: Resolved, analyse: Callable[[RunDir], dict[str, Any]],
             nothing: str) -> tuple[list[tuple[RunDir, dict[str, Any]]], list[str]]:
    """``analyse`` every run; a RunDirError stops a lone run and skips a sweep's trial.
    ``nothing``: the error when no run could be analysed."""
    done, skipped = [], []
    for run in resolved.runs:
        try:
            done.append((run, analyse(run)))
        except RunDirError as exc:
            if resolved.kind == "run":
                raise
            skipped.append(str(exc))
    if not done:
        raise RunDirError(f"{nothing} ({'; '.join(skipped)})" if skipped else nothing)
    return done, skipped
