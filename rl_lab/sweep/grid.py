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
from pathlib import Path
from typing import Any

from rl_lab.config import validate_config
from rl_lab.core.config import Config, set_dotted
from rl_lab.core.errors import ConfigError

# Sections a trial cannot vary: they configure the sweep itself, not a training run.
FORBIDDEN_GRID_PREFIXES = ("sweep", "ray")
# Config fields holding filesystem paths: made absolute in the driver, because Tune
# runs a trial in a worker process whose working directory is not the driver's.
PATH_FIELDS = ("output_dir", "model.path", "train.base_model")
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


def trial_raw(base_raw: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """The raw config of one trial: the base with the point's keys set and the grid cleared
    (a trial is a single training run; its config.yaml reproduces it with ``rl-lab train``)."""
    data = copy.deepcopy(base_raw)
    for key, value in point.items():
        set_dotted(data, key, copy.deepcopy(value))
    if isinstance(data.get("sweep"), dict):
        data["sweep"]["grid"] = {}
    return data


def validate_grid(base_raw: dict[str, Any]) -> tuple[Config, list[dict[str, Any]], list[str], list[Config]]:
    """Validate the sweep config and every grid point; raise ConfigError naming the key.

    Returns the base config, the points, their trial names and each point's config.
    """
    base = validate_config(base_raw)
    grid = base.sweep.grid
    for key in grid:
        if key.split(".")[0] in FORBIDDEN_GRID_PREFIXES:
            raise ConfigError(
                f"sweep.grid.{key}: a trial cannot vary the {key.split('.')[0]!r} section; "
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
