"""SIGINT / SIGTERM end a run cleanly: finish the current step, checkpoint it, stop.

A scheduler's SIGTERM (SLURM, Kubernetes, a preempted cloud node) otherwise kills Python
where it stands: status.json says "running" forever and the last checkpoint may be many
steps back. A TrainerCallback, not a forked loop: on the next ``on_step_end`` it asks the
HF Trainer to save and stop, which its loop does at the step boundary. A second signal
gets the default behaviour (Ctrl-C twice: KeyboardInterrupt now).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transformers import TrainerCallback

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignal(TrainerCallback):
    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def _handle(self, signum: int, frame: Any) -> None:
        self.signum = signum
        for sig, previous in self._previous.items():  # a second signal acts at once
            signal.signal(sig, previous)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT / SIGTERM inside the block (main thread only: a Ray trial's thread cannot)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        try:
            yield
        finally:
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._previous = {}

    def on_step_end(self, args, state, control, **kwargs):
        if self.signum is not None:
            control.should_save = True
            control.should_training_stop = True
