"""One sweep trial: the Ray Tune function trainable that runs ``run_training`` on a run dir.

The run dir is the trial's checkpoint store: TRL writes HF checkpoints with trainer state
into ``checkpoints/step_<N>/``, and a retried or restored trial calls
``run_training(resume=True)`` on the same dir, so it continues from its last checkpoint
instead of step 0. Tune gets a small pointer checkpoint (run dir + step) each time a new
step dir appears, so ``Result.checkpoint`` names the real one without copying weights.

Each invocation appends to ``<run_dir>/sweep_attempts.json``: the summary counts attempts
from this file, so the count survives a killed driver.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rl_lab.core import determinism
from rl_lab.core.errors import InputError
from rl_lab.core.io import atomic_write_json, atomic_write_yaml, read_json
from rl_lab.core.rundir import RunDir


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def read_attempts(run: RunDir) -> list[dict[str, Any]]:
    if not run.attempts_file.is_file():
        return []
    try:
        entries = read_json(run.attempts_file)
    except InputError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def count_attempts(entries: list[dict[str, Any]]) -> int:
    """Invocations that trained (a trial found already finished is not an attempt)."""
    return sum(1 for e in entries if e.get("action") in ("start", "resume"))


def _record(run: RunDir, entry: dict[str, Any]) -> list[dict[str, Any]]:
    entries = read_attempts(run)
    entries.append(entry)
    atomic_write_json(run.attempts_file, entries)
    return entries


def _update_last(run: RunDir, **fields: Any) -> None:
    entries = read_attempts(run)
    if entries:
        entries[-1].update(fields)
        atomic_write_json(run.attempts_file, entries)


def numeric_metrics(row: dict[str, Any]) -> dict[str, float | int]:
    return {k: v for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def accelerate_command(num_processes: int, config_file: Path, run_dir: Path, resume: bool, port: int) -> list[str]:
    """The per-trial multi-GPU launch: one process per GPU Ray gave this trial."""
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--num_processes", str(num_processes), "--num_machines", "1",
        "--main_process_port", str(port),
    ]
    if num_processes > 1:
        cmd.append("--multi_gpu")
    cmd += ["-m", "rl_lab.sweep.worker", str(config_file), str(run_dir)]
    return [*cmd, "--resume"] if resume else cmd


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _TuneReporter:
    """Forwards metrics rows to ``tune.report``; attaches a pointer checkpoint on new step dirs.

    The HF Trainer logs a step before it saves it, so the last checkpoint appears after the
    last row: ``finish`` reports it, so that ``Result.checkpoint`` names the final step.
    """

    def __init__(self, run: RunDir, reported: int = -1) -> None:
        self.run = run
        self.last_checkpoint = reported

    def __call__(self, row: dict[str, Any]) -> None:
        from ray import tune

        metrics = numeric_metrics(row)
        steps = list(self.run.checkpoints())
        if not steps or steps[-1] <= self.last_checkpoint:
            tune.report(metrics)
            return
        self.last_checkpoint = steps[-1]
        tmp = Path(tempfile.mkdtemp(prefix="rl_lab_ckpt_ptr_"))
        try:
            pointer = {"run_dir": str(self.run.path), "step": steps[-1],
                       "path": str(self.run.checkpoint_dir(steps[-1]))}
            (tmp / "pointer.json").write_text(json.dumps(pointer))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def finish(self) -> None:
        """Report the last metrics row again with the final checkpoint, if it was not reported yet."""
        steps = list(self.run.checkpoints())
        row = self.run.last_metrics()
        if steps and steps[-1] > self.last_checkpoint and row:
            self(row)


def make_trainable(
    base_raw: dict[str, Any], grid_keys: list[str], trials_dir: str, driver_cwd: str, gpus_per_trial: float,
    base_models: dict[str, str] | None = None,
) -> Callable[[dict[str, Any]], None]:
    """Build the function trainable; everything it captures is plain data (pickled by Ray).

    ``base_models`` (two-stage sweeps): trial name -> the base variant checkpoint it starts from.
    """

    def rl_lab_trial(config: dict[str, Any]) -> None:
        from ray import tune

        from rl_lab.config import validate_config
        from rl_lab.core.config import set_dotted
        from rl_lab.sweep.grid import point_name, trial_raw

        # Tune starts a trial in its own trial dir; relative paths in the config (family
        # data files, for one) mean what they meant to the driver, where that dir exists.
        if os.path.isdir(driver_cwd):
            os.chdir(driver_cwd)
        point = dict(config.get("point") or {})
        raw = trial_raw(base_raw, point)
        if base_models:
            set_dotted(raw, "train.base_model", base_models[point_name(point, grid_keys)])
        cfg = validate_config(raw)
        # kernels and threads pinned before the trial computes anything (fresh worker process)
        determinism.apply(cfg, threads=cfg.determinism.threads or max(1, int(cfg.sweep.cpus_per_trial)))
        run_dir = Path(trials_dir) / point_name(point, grid_keys)
        run_dir.mkdir(parents=True, exist_ok=True)
        run = RunDir(run_dir)
        context = tune.get_context()
        entry = {"trial_id": context.get_trial_id(), "started": _now(), "host": socket.gethostname(),
                 "pid": os.getpid()}
        if run.finished():
            # Finished before the driver recorded it (e.g. the driver was killed): no rerun.
            _record(run, {**entry, "action": "already_done"})
            reported = pointer_step(tune.get_checkpoint())
            _TuneReporter(run, -1 if reported is None else reported).finish()
            return
        from rl_lab.train.resume import last_resumable

        # Any earlier attempt (or files of one) means continue: run_training resumes from the
        # last checkpoint with trainer state, or starts fresh when there is none yet.
        resume = bool(read_attempts(run)) or run.has_run()
        point_from = last_resumable(run) if resume else None
        _record(run, {**entry, "action": "resume" if resume else "start",
                          "from_step": point_from.step if point_from else 0,
                          "tune_checkpoint": pointer_step(tune.get_checkpoint())})
        try:
            if gpus_per_trial > 1:
                _run_accelerate(raw, run_dir, resume, int(gpus_per_trial))
            else:
                from rl_lab.train import run_training

                reporter = _TuneReporter(run, max(run.checkpoints(), default=-1))
                run_training(cfg, run_dir=run_dir, resume=resume, reporter=reporter)
                reporter.finish()
        except BaseException as exc:
            _update_last(run, ended=_now(), error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        _update_last(run, ended=_now(), error=None)

    return rl_lab_trial


def pointer_step(checkpoint: Any) -> int | None:
    """The run-dir step a pointer checkpoint names (None: no checkpoint, or not ours)."""
    if checkpoint is None:
        return None
    try:
        with checkpoint.as_directory() as path:
            return int(json.loads((Path(path) / "pointer.json").read_text())["step"])
    except (OSError, KeyError, ValueError):
        return None


def _run_accelerate(raw: dict[str, Any], run_dir: Path, resume: bool, num_gpus: int) -> None:
    """Multi-GPU trial: ``accelerate launch`` one process per GPU (Ray set CUDA_VISIBLE_DEVICES),
    then tail metrics.jsonl into Tune while it runs. A non-zero exit fails the attempt."""
    from ray import tune

    config_file = Path(tune.get_context().get_trial_dir()) / "trial_config.yaml"
    atomic_write_yaml(config_file, raw)
    cmd = accelerate_command(num_gpus, config_file, run_dir, resume, _free_port())
    run = RunDir(run_dir)
    reporter = _TuneReporter(run, max(run.checkpoints(), default=-1))
    seen = max((r.get("step", -1) for r in run.metrics()), default=-1)
    proc = subprocess.Popen(cmd)
    while True:
        code = proc.poll()
        for row in run.metrics():
            if isinstance(row.get("step"), int) and row["step"] > seen:
                seen = row["step"]
                reporter(row)
        if code is not None:
            break
        time.sleep(2.0)
    if code != 0:
        raise RuntimeError(f"accelerate launch exited with status {code}: {' '.join(cmd)}")
    reporter.finish()
