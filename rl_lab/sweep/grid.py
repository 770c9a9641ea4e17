"""Sweep grid -> trial configs: expansion, readable names, validation. Pure; imports no Ray.

Ray Tune does the cross product at run time (``tune.grid_search`` per key); this module
expands the same product up front only to validate every point as a full ``Config``
before Ray starts or anything is written, and to name each trial from its point.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.config import validate_config
from rl_lab.core.config import Config, set_dotted
from rl_lab.core.errors import ConfigError

# Sections a trial cannot vary: they configure the sweep itself, not a training run.
FORBIDDEN_GRID_PREFIXES = ("sweep", "ray")
# Config fields holding filesystem paths: made absolute in the driver, because Tune
# runs a trial in a worker process whose working directory is not the driver's.
PATH_FIELDS = ("output_dir", "model.path", "train.base_model", "sweep.bases_dir")
MAX_TRIALS = 10_000  # each point is validated up front; a larger product is a typo, not a study


def expand_grid(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The cross product of the grid (the first key varies slowest). Tune schedules the same
    set in its own order; the summary lists trials in this one."""
    if not grid:
        return [{}]
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*grid.values())]


def _slug(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "_"


def point_name(point: dict[str, Any], keys: list[str] | None = None) -> str:
    """A readable, filesystem-safe trial name, e.g. ``seed=0,curriculum.kind=fixed`` ->
    ``seed-0_curriculum.kind-fixed``. Long names are cut and suffixed with a hash."""
    keys = keys if keys is not None else list(point)
    if not keys:
        return "trial"
    name = "_".join(f"{k}-{_slug(point[k])}" for k in keys)
    if len(name) > 80:
        digest = hashlib.sha1(json.dumps([[k, point[k]] for k in keys], default=str).encode()).hexdigest()[:8]
        name = f"{name[:70]}~{digest}"
    return name


def trial_names(points: list[dict[str, Any]], keys: list[str]) -> list[str]:
    names = [point_name(p, keys) for p in points]
    if len(set(names)) != len(names):  # values that differ only in characters the slug drops
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"sweep.grid: points {dupes} get the same trial name; make the values distinguishable")
    return names


def absolutize_paths(raw: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Copy of ``raw`` with the path fields made absolute against ``cwd``."""
    data = copy.deepcopy(raw)
    for dotted in PATH_FIELDS:
        node: Any = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str) and node[leaf]:
            path = Path(node[leaf]).expanduser()
            node[leaf] = str(path if path.is_absolute() else (cwd / path).resolve())
    return data


ARM = "arm"  # the grid key of sweep.arms: its value names an arm, whose dotted keys are set together


def full_grid(cfg: Config) -> dict[str, list[Any]]:
    """The grid Tune runs: ``arm`` (the names of sweep.arms, varying slowest) then sweep.grid."""
    return {ARM: list(cfg.sweep.arms), **cfg.sweep.grid} if cfg.sweep.arms else dict(cfg.sweep.grid)


def point_settings(base_raw: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """A grid point as the dotted keys it sets: an ``arm`` expands to its overrides (grid keys win)."""
    out: dict[str, Any] = {}
    for key, value in point.items():
        if key == ARM:
            arms = ((base_raw.get("sweep") or {}).get("arms") or {})
            out.update(arms[value])
        else:
            out[key] = value
    return out


def trial_raw(base_raw: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """The raw config of one trial: the base with the point's keys set and the grid and arms cleared
    (a trial is a single training run; its config.yaml reproduces it with ``rl-lab train``)."""
    data = copy.deepcopy(base_raw)
    for key, value in point_settings(base_raw, point).items():
        set_dotted(data, key, copy.deepcopy(value))
    if isinstance(data.get("sweep"), dict):
        data["sweep"]["grid"] = {}
        data["sweep"].pop("arms", None)
    return data


def validate_grid(base_raw: dict[str, Any]) -> tuple[Config, list[dict[str, Any]], list[str], list[Config]]:
    """Validate the sweep config and every grid point; raise ConfigError naming the key.

    Returns the base config, the points, their trial names and each point's config.
    """
    base = validate_config(base_raw)
    grid = full_grid(base)
    varied = [f"sweep.grid.{k}" for k in base.sweep.grid] + [
        f"sweep.arms.{arm}.{k}" for arm, keys in base.sweep.arms.items() for k in keys]
    for where in varied:
        key = where.split(".", 3)[-1] if where.startswith("sweep.arms.") else where[len("sweep.grid."):]
        if key.split(".")[0] in FORBIDDEN_GRID_PREFIXES or key == ARM:
            raise ConfigError(
                f"{where}: a trial cannot vary the {key.split('.')[0]!r} section; "
                f"grid keys are training-run settings such as seed or curriculum.kind"
            )
    count = math.prod(len(v) for v in grid.values())
    if count > MAX_TRIALS:
        sizes = " x ".join(f"{k}:{len(v)}" for k, v in grid.items())
        raise ConfigError(f"sweep.grid: {sizes} makes {count:,} trials; at most {MAX_TRIALS:,}")
    points = expand_grid(grid)
    names = trial_names(points, list(grid))
    configs = []
    for point, name in zip(points, names, strict=True):
        try:
            configs.append(validate_config(trial_raw(base_raw, point)))
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in point.items())
            raise ConfigError(f"sweep.grid point {shown} (trial {name!r}): {exc}") from None
    return base, points, names, configs


# =========================================================================== two-stage sweeps: base variants
# How RL loads the weights, not what pretraining makes: varying these never needs another base.
MODEL_RUNTIME_KEYS = ("model.dtype", "model.path")
# What decides a base model (the sections ``rl_lab.pretrain.pretraining_differences`` compares).
PRETRAINING_SECTIONS = ("seed", "environments", "model", "pretrain")


def is_base_key(key: str) -> bool:
    """A grid key that changes the base model: ``pretrain.*`` and ``model.*`` but for dtype/path."""
    head = key.split(".")[0]
    return head == "pretrain" or (head == "model" and key not in MODEL_RUNTIME_KEYS)


@dataclass(frozen=True)
class BaseVariant:
    """One base model of a two-stage sweep: trained once into ``<bases_dir>/base-<fingerprint>``, shared by
    every trial (of any sweep using that bases_dir) that needs the same base."""

    name: str
    point: dict[str, Any]  # the grid's base keys -> values ({} for the sweep's single base)
    raw: dict[str, Any]  # the config that pretrains it: the sweep's config, its base keys set, grid cleared
    fingerprint: str


def base_fingerprint(cfg: Config) -> str:
    """A short hash of everything that decides the base (two configs with the same one make the same model)."""
    data = cfg.to_dict()
    blob = json.dumps({k: data.get(k) for k in PRETRAINING_SECTIONS}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:10]


def two_stage(cfg: Config) -> bool:
    """True when the sweep pretrains its bases first (``sweep.pretrain``, or a grid key that varies the base)."""
    arm_keys = [k for overrides in cfg.sweep.arms.values() for k in overrides]
    return cfg.sweep.pretrain or any(is_base_key(k) for k in [*cfg.sweep.grid, *arm_keys])


def split_bases(base_raw: dict[str, Any], base: Config, points: list[dict[str, Any]]) -> tuple[list[BaseVariant], list[str]]:
    """The base variants of a two-stage sweep and, per grid point, the name of the variant it starts from.

    A variant's config is the sweep's own (its top-level ``seed`` included: the grid's ``seed`` is the RL
    seed) with only the point's base keys set. Raises ConfigError for a sweep that cannot pretrain.
    """
    if base.model.path:
        raise ConfigError("sweep.pretrain: model.path names a real checkpoint, which is not pretrained here; "
                          "drop sweep.pretrain and the grid's pretrain.*/model.* keys, or remove model.path")
    if base.train.base_model:
        raise ConfigError("train.base_model: this sweep pretrains its bases (sweep.pretrain or a pretrain.*/model.* "
                          "grid key) and starts each trial from its own; remove train.base_model")
    variants: dict[str, BaseVariant] = {}
    of_point: list[str] = []
    for point in points:
        bpoint = {k: v for k, v in point_settings(base_raw, point).items() if is_base_key(k)}
        raw = trial_raw(base_raw, bpoint)
        try:
            cfg = validate_config(raw)
        except ConfigError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in bpoint.items())
            raise ConfigError(f"sweep.grid base variant {shown}: {exc}") from None
        fingerprint = base_fingerprint(cfg)
        # Named by the fingerprint alone: two points (or two sweeps) that make the same base share it,
        # whichever keys they set (model.preset: tiny in one sweep, the default in another).
        name = f"base-{fingerprint}"
        variants.setdefault(name, BaseVariant(name, bpoint, raw, fingerprint))
        of_point.append(name)
    return list(variants.values()), of_point
