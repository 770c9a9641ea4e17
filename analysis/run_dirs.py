"""Resolve RUN_OR_SWEEP into run dirs, and read what the run-directory contract promises.

A *run dir* holds ``config.yaml``, ``metrics.jsonl``, ``rollouts/step_<N>.jsonl`` and
``checkpoints/step_<N>/``; a *sweep dir* holds ``sweep_summary.json`` whose trials each
name a run dir and the config point (dotted key -> value) that made it.  Analyses take
either and write ``<root>/analysis/<name>.json`` and ``<root>/plots/*.png`` where root is
the run dir or the sweep dir.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.io import atomic_write_json, read_json, read_jsonl

SWEEP_SUMMARY = "sweep_summary.json"
_STEP = re.compile(r"^step_(\d+)$")
_STEP_FILE = re.compile(r"^step_(\d+)\.jsonl$")


class RunDirError(ValueError):
    """A path that is neither a run dir nor a sweep dir, or lacks what an analysis needs."""


@dataclass
class RunInfo:
    run_dir: Path
    config_point: dict[str, Any] = field(default_factory=dict)
    trial_id: str | None = None
    status: str | None = None
    final_reward: float | None = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    def config(self):
        """The run's validated ``Config`` (from ``config.yaml``)."""
        return load_run_config(self.run_dir)

    def config_raw(self) -> dict[str, Any] | None:
        import yaml

        path = self.run_dir / "config.yaml"
        return yaml.safe_load(path.read_text()) if path.is_file() else None

    def seed(self) -> int | None:
        if "seed" in self.config_point:
            return int(self.config_point["seed"])
        raw = self.config_raw() or {}
        return int(raw["seed"]) if "seed" in raw else None

    def lookup(self, dotted: str) -> Any:
        """A config value: the config point's if the sweep varied it, else config.yaml's."""
        if dotted in self.config_point:
            return self.config_point[dotted]
        node: Any = self.config_raw() or {}
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


@dataclass
class Resolved:
    kind: str  # "run" or "sweep"
    root: Path  # where analysis/ and plots/ go
    runs: list[RunInfo]

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "root": str(self.root),
            "runs": [{"run_dir": str(r.run_dir), "config_point": r.config_point, "trial_id": r.trial_id,
                      "seed": r.seed()} for r in self.runs],
        }


def is_run_dir(path: Path) -> bool:
    return any((path / name).exists() for name in ("config.yaml", "rollouts", "checkpoints", "metrics.jsonl"))


def resolve(path: str | Path) -> Resolved:
    """A run dir -> itself; a sweep dir -> its trials' run dirs (relative paths resolved against it)."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{str(path)!r} does not exist or is not a directory; pass a run dir or a sweep dir")
    summary_file = path / SWEEP_SUMMARY
    if summary_file.is_file():
        summary = read_json(summary_file)
        runs = []
        for trial in summary.get("trials", []):
            run_dir = Path(trial["run_dir"])
            if not run_dir.is_absolute() and not run_dir.exists():
                run_dir = path / run_dir
            if not run_dir.is_dir():
                continue  # a pending trial that never made its dir
            runs.append(RunInfo(run_dir, flatten_point(trial.get("config_point") or {}), trial.get("trial_id"),
                                trial.get("status"), trial.get("final_reward")))
        if not runs:
            raise RunDirError(f"sweep {str(path)!r}: {SWEEP_SUMMARY} lists no trial whose run dir exists")
        return Resolved("sweep", path, runs)
    if is_run_dir(path):
        return Resolved("run", path, [RunInfo(path)])
    raise RunDirError(
        f"{str(path)!r} is neither a run dir (config.yaml, rollouts/, checkpoints/) nor a sweep dir "
        f"({SWEEP_SUMMARY}); pass e.g. runs/<name>/train or runs/<name>/sweep"
    )


def load_run_config(run_dir: Path):
    from rl_lab.config import load_config

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise RunDirError(f"run dir {str(run_dir)!r} has no config.yaml (the resolved config the run wrote)")
    return load_config(path)


def rollout_files(run_dir: Path) -> dict[int, Path]:
    folder = Path(run_dir) / "rollouts"
    out = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _STEP_FILE.match(p.name)
            if m:
                out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def read_rollouts(run_dir: Path) -> dict[int, list[dict[str, Any]]]:
    """``{step: rows}`` of every rollouts/step_<N>.jsonl, steps ascending."""
    return {step: read_jsonl(p) for step, p in rollout_files(run_dir).items()}


def checkpoints(run_dir: Path) -> dict[int, Path]:
    """``{step: dir}`` of finished checkpoints (temp dirs start with '.' and never match)."""
    folder = Path(run_dir) / "checkpoints"
    out = {}
    if folder.is_dir():
        for p in folder.iterdir():
            m = _STEP.match(p.name)
            if m and p.is_dir():
                out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def final_reward(run: RunInfo) -> float | None:
    """The sweep summary's final reward, else the last ``reward`` of metrics.jsonl."""
    if run.final_reward is not None:
        return float(run.final_reward)
    path = run.run_dir / "metrics.jsonl"
    if not path.is_file():
        return None
    rewards = [r["reward"] for r in read_jsonl(path) if isinstance(r.get("reward"), int | float)]
    return float(rewards[-1]) if rewards else None


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


def write_analysis(root: Path, name: str, payload: dict[str, Any]) -> Path:
    return atomic_write_json(Path(root) / "analysis" / f"{name}.json", payload)


def plots_dir(root: Path) -> Path:
    path = Path(root) / "plots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def spread(values: list[float]) -> dict[str, float | int | None]:
    """Mean, sample std (ddof=1; 0 for one value), min and max across seeds; None entries are skipped."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
    return {"n": len(vals), "mean": mean, "std": var**0.5, "min": min(vals), "max": max(vals)}
