"""Which checkpoint of a run directory a resume starts from, and whether the config may resume it.

A checkpoint is resumable only when every part a resume reads is there and parses: weights
(headers, config.json, tokenizer files), trainer state, optimizer and scheduler state, RNG
state and the curriculum's state. The newest such checkpoint wins; newer broken ones are
reported (``ResumePoint.skipped``) and the resume says so, instead of crashing on them, or
silently continuing with a fresh optimizer, on every later ``--resume``.

These checks read headers and JSON only: a full read of an optimizer's tensors would double
the cost of every resume, and truncation (the damage a crash leaves) shows in the header.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.core.errors import ConfigError, InputError
from rl_lab.core.io import read_json
from rl_lab.core.rundir import CURRICULUM_STATE, TRAINER_STATE, RunDir
from rl_lab.train import state_io

# Keys a resumed run may change: how long it runs, what it records and where, not what it learns.
# train.steps extends (or shortens) a run; the LR schedule and an easy_to_hard schedule are
# recomputed for the new total from the step reached.
SAFE_TO_CHANGE_ON_RESUME = (
    "train.steps", "train.save_steps", "train.save_every", "train.save_bf16_copy", "train.rollouts_per_step",
    "train.logging_steps", "train.report_to", "name", "output_dir", "eval", "analysis", "report", "sweep", "ray",
    "debug", "determinism",  # determinism: how this host computes (kernels, threads), recorded in environment.json
)


@dataclass(frozen=True)
class ResumePoint:
    step: int  # 0: start fresh
    path: Path | None  # the checkpoint dir (None when starting fresh)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # newer checkpoints that cannot be resumed, and why


def find_resume_point(run: RunDir, curriculum: Any = None) -> ResumePoint:
    """The newest checkpoint past step 0 whose every part loads, or a fresh start (step 0).

    step_0 is the base model with no trainer state: resuming from it is a fresh start.
    ``curriculum``: also check that each state loads into (a copy of) this curriculum.
    """
    skipped: list[tuple[int, str]] = []
    for step, path in sorted(run.checkpoints().items(), reverse=True):
        if step == 0:
            break
        problem = checkpoint_problem(path, curriculum)
        if problem is None:
            return ResumePoint(step, path, skipped)
        skipped.append((step, problem))
    return ResumePoint(0, None, skipped)


def last_resumable(run: RunDir) -> ResumePoint | None:
    """The newest resumable checkpoint past step 0, None if there is none."""
    point = find_resume_point(run)
    return point if point.step > 0 else None


def checkpoint_problem(path: Path, curriculum: Any = None) -> str | None:
    """Why checkpoint dir ``path`` cannot be resumed from; None when every part loads."""
    from rl_lab.core.checkpoints import validate_checkpoint

    checks = (
        ("trainer state", lambda: _trainer_state(path)),
        ("weights", lambda: validate_checkpoint(path)),
        ("optimizer state", lambda: _optimizer(path)),
        ("scheduler state", lambda: _scheduler(path)),
        ("RNG state", lambda: _rng(path)),
        ("curriculum state", lambda: _curriculum(path, curriculum)),
    )
    for what, check in checks:
        try:
            check()
        except ConfigError:
            raise  # a config that does not fit the run (curriculum kind) is not a broken checkpoint
        except (InputError, OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            return f"{what}: {exc}"
    return None


def _need(path: Path) -> Path:
    if not path.is_file():
        raise InputError(f"{path.name} is missing")
    return path


def _object(path: Path) -> dict[str, Any]:
    data = read_json(_need(path))
    if not isinstance(data, dict):
        raise InputError(f"{path.name} does not hold a JSON object")
    return data


def _trainer_state(path: Path) -> None:
    state = _object(path / TRAINER_STATE)
    if not isinstance(state.get("global_step"), int):
        raise InputError(f"{TRAINER_STATE} has no integer global_step")


def _tensor_names(file: Path) -> dict[str, dict[str, Any]]:
    from rl_lab.core.checkpoints import read_safetensors_header

    return read_safetensors_header(_need(file))


def _optimizer(path: Path) -> None:
    if (path / "optimizer.pt").is_file() and not (path / state_io.OPTIMIZER_TENSORS).is_file():
        _need_nonempty(path / "optimizer.pt")  # a distributed run's own format (see trainer.py)
        return
    names = _tensor_names(path / state_io.OPTIMIZER_TENSORS)
    meta = _object(path / state_io.OPTIMIZER_META)
    groups = meta.get("param_groups")
    if not isinstance(groups, list) or not groups or not all(isinstance(g, dict) and "params" in g for g in groups):
        raise InputError(f"{state_io.OPTIMIZER_META} has no param_groups")
    if not isinstance(meta.get("scalars", {}), dict):
        raise InputError(f"{state_io.OPTIMIZER_META}: 'scalars' is not an object")
    params = {p for g in groups for p in g["params"]}
    for name in names:
        pid, _, _slot = name.partition("/")
        if not pid.isdigit() or int(pid) not in params:
            raise InputError(f"{state_io.OPTIMIZER_TENSORS} holds {name!r}, which names no parameter of the optimizer")


def _scheduler(path: Path) -> None:
    if (path / "scheduler.pt").is_file() and not (path / state_io.SCHEDULER_JSON).is_file():
        _need_nonempty(path / "scheduler.pt")
        return
    _object(path / state_io.SCHEDULER_JSON)


def _rng(path: Path) -> None:
    import numpy as np

    if list(path.glob("rng_state*.pth")) and not (path / state_io.RNG_TENSORS).is_file():
        for file in path.glob("rng_state*.pth"):
            _need_nonempty(file)
        return
    tensors = _tensor_names(path / state_io.RNG_TENSORS)
    cpu = tensors.get("cpu")
    if cpu is None or cpu["dtype"] != "U8":
        raise InputError(f"{state_io.RNG_TENSORS} has no torch CPU generator state")
    meta = _object(path / state_io.RNG_JSON)
    version, internal, gauss = meta["python"]
    random.Random().setstate((version, tuple(internal), gauss))  # raises on a malformed state
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.RandomState().set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def _curriculum(path: Path, curriculum: Any) -> None:
    state = _object(path / CURRICULUM_STATE)
    if curriculum is not None:
        copy.deepcopy(curriculum).load_state_dict(state)


def _need_nonempty(file: Path) -> None:
    if _need(file).stat().st_size == 0:
        raise InputError(f"{file.name} is empty")


# --------------------------------------------------------------------------- config changes
def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists are leaves)."""
    if not isinstance(data, dict) or not data:
        return {prefix: data} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def changed_keys(old: dict[str, Any], new: dict[str, Any], may_change: tuple[str, ...]) -> list[str]:
    """Dotted keys whose values differ between two resolved configs, except those under ``may_change``."""
    a, b = flatten(old), flatten(new)

    def allowed(key: str) -> bool:
        return any(key == p or key.startswith(p + ".") for p in may_change)

    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k) and not allowed(k))


def check_resume_config(run: RunDir, new: dict[str, Any]) -> None:
    """ConfigError naming every key in which ``new`` differs from the run's config.yaml, beyond the safe ones."""
    from rl_lab.core.config import excerpt, validate_schema

    if run.config_raw is None:
        return  # interrupted before its config was written: nothing to compare
    old = validate_schema(run.config_raw).to_dict()  # the schema's defaults filled in, as for ``new``
    changed = changed_keys(old, new, SAFE_TO_CHANGE_ON_RESUME)
    if changed:
        a, b = flatten(old), flatten(new)
        shown = "; ".join(f"{k}: {excerpt(a.get(k), limit=60)} -> {excerpt(b.get(k), limit=60)}" for k in changed[:8])
        more = f" (and {len(changed) - 8} more)" if len(changed) > 8 else ""
        raise ConfigError(
            f"--resume: the config differs from the run in {str(run.path)!r} in {shown}{more}. A resume continues "
            f"the same experiment; only {', '.join(SAFE_TO_CHANGE_ON_RESUME)} may change. Resume with the run's "
            f"config ({str(run.config_file)!r}) or train into a new run dir"
        )

