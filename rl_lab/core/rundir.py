"""The run directory: the one contract between training (which writes it) and analysis (which reads it).

A *run dir* (``rl-lab train``, or one sweep trial)::

    config.yaml                 the resolved config, as run
    status.json                 state (running / done / failed / interrupted), step, totals
    environment.json            what the run computed with: versions, CPU, vector kernels, threads
    .lock                       held (flock) by the one process writing the run
    metrics.jsonl               one JSON object per logged step (a torn last line is ignored)
    tensorboard/                event files with the same scalar names
    rollouts/step_<N>.jsonl     sampled completions of step N
    checkpoints/step_<N>/       HF checkpoint + resume state; step_0 is the base
    analysis/<name>.json        one file per analysis, recording the inputs it read
    plots/*.png

A *sweep dir* holds ``sweep_summary.json``, whose trials each name a run dir and the config
point (dotted key -> value) that made it. A two-stage sweep (one that pretrains its bases) also
has ``bases/base-<fingerprint>/`` (a pretraining output dir: config.yaml, model/, eval.json)
and ``tune_bases/`` (Ray Tune's state of that first stage); ``sweep.bases_dir`` may move ``bases/``
elsewhere so that several sweeps share identical bases. ``resolve`` turns "a run or a sweep" into run dirs
for every command. Every path, file name and step pattern of the contract is defined here
and nowhere else; every file is written atomically (``rl_lab.core.io``).
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rl_lab.core.errors import InputError, RunDirError
from rl_lab.core.io import (
    atomic_write_json,
    atomic_write_jsonl,
    read_json,
    read_jsonl,
    remove_stale_temp_files,
)

if TYPE_CHECKING:
    from rl_lab.core.config import Config

CONFIG = "config.yaml"
STATUS = "status.json"
ENVIRONMENT = "environment.json"
METRICS = "metrics.jsonl"
TENSORBOARD = "tensorboard"
ROLLOUTS = "rollouts"
CHECKPOINTS = "checkpoints"
ANALYSIS = "analysis"
PLOTS = "plots"
SCRATCH = "trainer"  # the HF Trainer's checkpoint-<N> folders before they are moved into checkpoints/
CURRICULUM_STATE = "curriculum_state.json"
TRAINER_STATE = "trainer_state.json"
SWEEP_SUMMARY = "sweep_summary.json"
SWEEP_CONFIG = "sweep_config.yaml"
ATTEMPTS = "sweep_attempts.json"  # one entry per invocation of a sweep trial on this run dir
BASES = "bases"  # a two-stage sweep's base variants (default place; sweep.bases_dir moves it)
TUNE_BASES = "tune_bases"  # Ray Tune's experiment dir of the first (pretraining) stage
BASE_MODEL = "model"  # the checkpoint inside a pretraining output dir (<root>/base/model, bases/<v>/model)
BASE_EVAL = "eval.json"  # the base model's evaluation table inside a pretraining output dir
LOCK = ".lock"  # flock'ed by the one process writing the run (rl_lab.core.lock); records who holds it

STEP_DIR = re.compile(r"^step_(\d+)$")
STEP_FILE = re.compile(r"^step_(\d+)\.jsonl$")
DONE_STATES = ("done", "finished", "completed", "complete")


def step_of(path: Path) -> int | None:
    """N for a ``checkpoints/step_<N>`` directory (or any ``step_<N>`` name), else None."""
    m = STEP_DIR.match(Path(path).name)
    return int(m.group(1)) if m else None


def checkpoint_step_dir(path: Path) -> bool:
    """True for ``<run>/checkpoints/step_<N>``."""
    path = Path(path)
    return path.parent.name == CHECKPOINTS and step_of(path) is not None


def _steps(folder: Path, pattern: re.Pattern[str], dirs: bool) -> dict[int, Path]:
    out = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = pattern.match(p.name)
            if m and (p.is_dir() if dirs else p.is_file()):
                out[int(m.group(1))] = p
    return dict(sorted(out.items()))


# =========================================================================== analysis results of any root
def analysis_file(root: Path, name: str) -> Path:
    return Path(root) / ANALYSIS / f"{name}.json"


def steering_vector_file(root: Path, name: str) -> Path:
    """``<root>/analysis/<name>.safetensors``: a steering vector an analysis computed (rl_lab.core.steering)."""
    return Path(root) / ANALYSIS / f"{name}.safetensors"


def write_analysis(root: Path, name: str, payload: dict[str, Any]) -> Path:
    """``<root>/analysis/<name>.json``, atomically (root: a run dir or a sweep dir)."""
    return atomic_write_json(analysis_file(root, name), payload)


def read_analysis(root: Path, name: str) -> dict[str, Any] | None:
    """The payload of ``<root>/analysis/<name>.json``; None if absent; InputError if unreadable."""
    path = analysis_file(root, name)
    if not path.is_file():
        return None
    payload = read_json(path)
    if not isinstance(payload, dict):
        raise InputError(f"could not read {path}: it does not hold a JSON object")
    return payload


def plots_dir(root: Path) -> Path:
    path = Path(root) / PLOTS
    path.mkdir(parents=True, exist_ok=True)
    return path


# =========================================================================== one run
class RunDir:
    """One run directory: its paths, checkpoints, rollouts, metrics, status, config and analyses.

    ``config_point``, ``trial_id``, ``summary_status`` and ``summary_reward`` come from a sweep's
    summary when the run was found through one (empty for a lone run).
    """

    def __init__(self, path: str | Path, config_point: dict[str, Any] | None = None, trial_id: str | None = None,
                 summary_status: str | None = None, summary_reward: float | None = None):
        self.path = Path(path)
        self.config_point = dict(config_point or {})
        self.trial_id = trial_id
        self.summary_status = summary_status
        self.summary_reward = summary_reward

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.name

    # ---- paths
    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def status_file(self) -> Path:
        return self.path / STATUS

    @property
    def environment_file(self) -> Path:
        return self.path / ENVIRONMENT

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def rollouts_dir(self) -> Path:
        return self.path / ROLLOUTS

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / CHECKPOINTS

    @property
    def scratch_dir(self) -> Path:
        return self.path / SCRATCH

    @property
    def attempts_file(self) -> Path:
        return self.path / ATTEMPTS

    @property
    def lock_file(self) -> Path:
        return self.path / LOCK

    def checkpoint_dir(self, step: int) -> Path:
        return self.checkpoints_dir / f"step_{step}"

    def rollout_file(self, step: int) -> Path:
        return self.rollouts_dir / f"step_{step}.jsonl"

    # ---- what is there
    def has_run(self) -> bool:
        """Training has written here (a fresh ``train`` refuses such a dir without --resume)."""
        return any(p.exists() for p in (self.metrics_file, self.status_file, self.checkpoints_dir))

    def looks_like_run(self) -> bool:
        """Anything of the contract is present (what ``resolve`` accepts as a run dir)."""
        return any(p.exists() for p in (self.config_file, self.rollouts_dir, self.checkpoints_dir, self.metrics_file))

    def checkpoints(self) -> dict[int, Path]:
        """``{step: dir}`` of finished checkpoints, steps ascending (temp dirs start with '.' and never match)."""
        return _steps(self.checkpoints_dir, STEP_DIR, dirs=True)

    def rollout_files(self) -> dict[int, Path]:
        return _steps(self.rollouts_dir, STEP_FILE, dirs=False)

    def read_rollouts(self) -> dict[int, list[dict[str, Any]]]:
        """``{step: rows}`` of every rollouts/step_<N>.jsonl, steps ascending (InputError names a bad line)."""
        return {step: read_jsonl(p) for step, p in self.rollout_files().items()}

    # ---- metrics and status
    def metrics(self) -> list[dict[str, Any]]:
        """Every logged row of metrics.jsonl ([] when absent; InputError names a damaged line)."""
        return read_jsonl(self.metrics_file) if self.metrics_file.is_file() else []

    def last_metrics(self) -> dict[str, Any] | None:
        rows = self.metrics()
        return rows[-1] if rows else None

    def final_reward(self) -> float | None:
        """The sweep summary's final reward, else the last ``reward`` of metrics.jsonl."""
        if self.summary_reward is not None:
            return float(self.summary_reward)
        rewards = [r["reward"] for r in self.metrics() if isinstance(r.get("reward"), int | float)]
        return float(rewards[-1]) if rewards else None

    def status(self) -> dict[str, Any] | None:
        """status.json, or None when absent or unreadable (a status file is advisory)."""
        if not self.status_file.is_file():
            return None
        try:
            status = read_json(self.status_file)
        except InputError:
            return None
        return status if isinstance(status, dict) else None

    def state(self) -> str | None:
        """The run's state, normalised: ``done`` for any finished spelling, else as written (None if unknown)."""
        status = self.status() or {}
        for key in ("state", "status"):
            if isinstance(status.get(key), str):
                value = status[key].lower()
                return "done" if value in DONE_STATES else value
        return None

    def finished(self) -> bool:
        return self.state() == "done"

    def write_status(self, state: str, step: int, total: int, **extra: Any) -> None:
        atomic_write_json(self.status_file, {
            "state": state, "step": step, "total_steps": total, "updated": time.time(), **extra,
        })

    # ---- config (parsed once)
    @cached_property
    def config_raw(self) -> dict[str, Any] | None:
        """config.yaml as a mapping (None when absent); RunDirError when it is not readable YAML."""
        if not self.config_file.is_file():
            return None
        from rl_lab.core.config import read_yaml_mapping

        return read_yaml_mapping(self.config_file, RunDirError)

    @cached_property
    def config(self) -> Config:
        """The run's validated ``Config`` (from config.yaml); RunDirError when missing or invalid."""
        from rl_lab.core.config import ConfigError, validate_schema

        raw = self.config_raw
        if raw is None:
            raise RunDirError(f"run dir {str(self.path)!r} has no {CONFIG} (the resolved config the run wrote)")
        try:
            return validate_schema(raw)
        except ConfigError as exc:
            raise RunDirError(f"{self.config_file}: {exc}") from None

    def lookup(self, dotted: str) -> Any:
        """A config value: the sweep point's if the sweep varied it, else config.yaml's (None if unset)."""
        if dotted in self.config_point:
            return self.config_point[dotted]
        node: Any = self.config_raw or {}
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def seed(self) -> int | None:
        value = self.lookup("seed")
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    # ---- analyses
    def analysis_file(self, name: str) -> Path:
        return analysis_file(self.path, name)

    def write_analysis(self, name: str, payload: dict[str, Any]) -> Path:
        return write_analysis(self.path, name, payload)

    def read_analysis(self, name: str) -> dict[str, Any] | None:
        return read_analysis(self.path, name)

    def plots_dir(self) -> Path:
        return plots_dir(self.path)

    # ---- resume
    def rewind(self, step: int) -> None:
        """Forget everything logged after ``step`` (the checkpoint a resume starts from).

        metrics.jsonl is rewritten without rows past ``step`` (so no step is ever logged
        twice), rollouts and checkpoints past it are deleted, and the Trainer's scratch
        folder (possibly a half-written checkpoint) and temp files of interrupted atomic
        writes are cleared.
        """
        if self.metrics_file.is_file():
            atomic_write_jsonl(self.metrics_file, [row for row in self.metrics() if row.get("step", 0) <= step])
        for s, f in self.rollout_files().items():
            if s > step:
                f.unlink()
        for s, p in self.checkpoints().items():
            if s > step:
                shutil.rmtree(p)
        self.clear_scratch()

    def clear_scratch(self) -> None:
        """Remove the Trainer's scratch folder, half-written checkpoint dirs and stale temp files
        (at the top of the run, rollouts/ and analysis/, and anywhere under checkpoints/).

        Only the run's writer calls this (it holds the lock): a temp file here is never in use.
        """
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
        if self.checkpoints_dir.is_dir():
            # .step_<N>.tmp / .old of save_checkpoint, and .<name>.<random>.tmp of atomic writes, at any depth
            for tmp in sorted(self.checkpoints_dir.rglob(".*"), key=lambda p: len(p.parts), reverse=True):
                if tmp.name.startswith(".step_") or tmp.name.endswith((".tmp", ".old")):
                    if tmp.is_dir() and not tmp.is_symlink():
                        shutil.rmtree(tmp, ignore_errors=True)
                    else:
                        tmp.unlink(missing_ok=True)
        for folder in (self.path, self.rollouts_dir, self.path / ANALYSIS):
            remove_stale_temp_files(folder)


# =========================================================================== a run or a sweep
@dataclass
class Resolved:
    kind: str  # "run" or "sweep"
    root: Path  # where analysis/ and plots/ of the whole go
    runs: list[RunDir]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "root": str(self.root),
            "runs": [{"run_dir": str(r.path), "config_point": r.config_point, "trial_id": r.trial_id,
                      "seed": r.seed()} for r in self.runs],
        }


def bases_dir(cfg: Config) -> Path:
    """Where a two-stage sweep's base variants live."""
    return Path(cfg.sweep.bases_dir) if cfg.sweep.bases_dir else cfg.sweep_dir / BASES


def read_sweep_summary(sweep_dir: Path) -> dict[str, Any] | None:
    path = Path(sweep_dir) / SWEEP_SUMMARY
    if not path.is_file():
        return None
    summary = read_json(path)
    if not isinstance(summary, dict) or not isinstance(summary.get("trials", []), list):
        raise RunDirError(f"{path}: not a sweep summary (expected an object with a 'trials' list)")
    return summary


def resolve(path: str | Path) -> Resolved:
    """A run dir -> itself; a sweep dir -> its trials' run dirs (relative paths resolved against it)."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{str(path)!r} does not exist or is not a directory; pass a run dir or a sweep dir")
    summary = read_sweep_summary(path)
    if summary is not None:
        runs = []
        for trial in summary.get("trials", []):
            if not isinstance(trial, dict) or not trial.get("run_dir"):
                continue
            run_dir = Path(trial["run_dir"])
            if not run_dir.is_absolute() and not run_dir.exists():
                run_dir = path / run_dir
            if not run_dir.is_dir():
                continue  # a pending trial that never made its dir
            runs.append(RunDir(run_dir, flatten_point(trial.get("config_point") or {}), trial.get("trial_id"),
                               trial.get("status"), trial.get("final_reward")))
        if not runs:
            raise RunDirError(f"sweep {str(path)!r}: {SWEEP_SUMMARY} lists no trial whose run dir exists")
        return Resolved("sweep", path, runs)
    run = RunDir(path)
    if run.looks_like_run():
        return Resolved("run", path, [run])
    raise RunDirError(
        f"{str(path)!r} is neither a run dir ({CONFIG}, {ROLLOUTS}/, {CHECKPOINTS}/) nor a sweep dir "
        f"({SWEEP_SUMMARY}); pass e.g. runs/<name>/train or runs/<name>/sweep"
    )


def flatten_point(point: dict[str, Any]) -> dict[str, Any]:
    """A grid point with dict values (``curriculum: {kind: fixed, levels: [1, 2]}``, which pairs
    keys that must vary together) as dotted leaves: ``curriculum.kind``, ``curriculum.levels``."""
    out: dict[str, Any] = {}
    for key, value in point.items():
        if isinstance(value, dict) and value:
            out.update(flatten_point({f"{key}.{k}": v for k, v in value.items()}))
        else:
            out[key] = value
    return out


def group_key(point: dict[str, Any], drop: tuple[str, ...] = ("seed",)) -> str:
    """A label for a config point without its seed: trials that differ only by seed share it."""
    items = [f"{k}={v}" for k, v in sorted(point.items()) if k not in drop]
    return ",".join(items) or "all"


def group_label(run: RunDir) -> str:
    """The curriculum kind, plus any other non-seed key the sweep varied: how reports group seeds."""
    kind = run.lookup("curriculum.kind") or "fixed"
    rest = group_key(run.config_point, drop=("seed", "curriculum.kind"))
    return kind if rest == "all" else f"{kind} | {rest}"


def run_of_checkpoint(path: Path) -> RunDir | None:
    """The run dir a checkpoint (``RUN/checkpoints/step_<N>``, or a file inside one) belongs to."""
    path = Path(path)
    if path.is_file():
        path = path.parent
    if checkpoint_step_dir(path):
        return RunDir(path.parent.parent)
    return None
