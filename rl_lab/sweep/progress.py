"""Live sweep progress in the terminal: a Ray Tune ``Callback`` that draws a rich table.

Why a callback and not ``CLIReporter``: Tune's default output engine (Ray >= 2.5) ignores
``progress_reporter``; a callback sees every trial event in either engine. On a terminal
the table redraws in place; elsewhere (CI logs, pipes) one line per trial event is printed.
The callback is pickled into Tune's experiment state, so it holds only plain data until
``setup`` (which also runs after ``Tuner.restore``).
"""

from __future__ import annotations

import time
from typing import Any

from ray.tune import Callback

_STATUS = {"PENDING": "pending", "RUNNING": "running", "PAUSED": "paused", "TERMINATED": "done", "ERROR": "failed"}


class SweepProgress(Callback):
    def __init__(self, grid_keys: list[str], refresh_s: float = 0.5) -> None:
        self.grid_keys = grid_keys
        self.refresh_s = refresh_s
        self._live: Any = None
        self._console: Any = None
        self._last_draw = 0.0
        self._retries: dict[str, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"grid_keys": self.grid_keys, "refresh_s": self.refresh_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)

    def setup(self, **info: Any) -> None:
        from rich.console import Console

        self._console = Console()
        if self._console.is_terminal:
            from rich.live import Live

            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.start()

    # ---- naming
    def _name(self, trial: Any) -> str:
        from rl_lab.sweep.grid import point_name

        return point_name(dict(trial.config.get("point") or {}), self.grid_keys)

    # ---- events
    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if self._live is not None and time.monotonic() - self._last_draw >= self.refresh_s:
            self._last_draw = time.monotonic()
            self._live.update(self.table(trials))

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, trial, "started", "running")

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._retries[trial.trial_id] = self._retries.get(trial.trial_id, 0) + 1
        self._line(trials, trial, f"died; retry {self._retries[trial.trial_id]} from its last checkpoint", "running")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, trial, "failed for good", "failed")

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, trial, "done", "done")

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        if self._live is not None:
            self._live.update(self.table(trials))
            self._live.stop()
            self._live = None

    def _line(self, trials: list[Any], trial: Any, event: str, new_status: str) -> None:
        if self._console is None or self._live is not None:
            if self._live is not None:
                self._live.update(self.table(trials))
            return
        result = trial.last_result or {}
        # Tune calls these hooks before it updates trial.status: count this trial as it will be
        counts = self.counts([t for t in trials if t is not trial])
        counts[new_status] += 1
        self._console.print(
            f"[sweep] {self._name(trial)}: {event} (step {result.get('step', '-')}, reward "
            f"{_fmt(result.get('reward'))}) | running {counts['running']}, done {counts['done']}, "
            f"failed {counts['failed']}, pending {counts['pending']}",
            markup=False, highlight=False,
        )

    # ---- rendering
    @staticmethod
    def counts(trials: list[Any]) -> dict[str, int]:
        counts = {"running": 0, "done": 0, "failed": 0, "pending": 0, "paused": 0}
        for trial in trials:
            counts[_STATUS.get(trial.status, "pending")] += 1
        return counts

    def table(self, trials: list[Any]):
        from rich.table import Table

        counts = self.counts(trials)
        table = Table(
            title=f"sweep: {counts['running']} running, {counts['done']} done, "
            f"{counts['failed']} failed, {counts['pending']} pending"
        )
        for column in ("trial", "status", "retries", "step", "reward"):
            table.add_column(column, justify="left" if column in ("trial", "status") else "right")
        for trial in trials:
            result = trial.last_result or {}
            table.add_row(
                self._name(trial), _STATUS.get(trial.status, trial.status.lower()),
                str(trial.num_failures), str(result.get("step", "-")), _fmt(result.get("reward")),
            )
        return table


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"
