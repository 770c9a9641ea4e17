"""Optimizer, scheduler and RNG state as safetensors + JSON instead of pickles.

The HF Trainer stores resume state with ``torch.save`` (optimizer.pt, scheduler.pt,
rng_state.pth) and reads it back with ``torch.load``.  rl_lab does not unpickle, so
the trainer subclass routes these through here: tensors go to safetensors, the
rest (param groups, scheduler counters, Python/NumPy RNG) to JSON.  Written
atomically (rl_lab.core.io), like every file of a run directory.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from rl_lab.core.io import atomic_write_bytes, atomic_write_json, read_json

OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_META = "optimizer.json"
SCHEDULER_JSON = "scheduler.json"
RNG_TENSORS = "rng_state.safetensors"
RNG_JSON = "rng_state.json"


def _save_tensors(path: Path, tensors: dict[str, Any]) -> None:
    from safetensors.torch import save

    atomic_write_bytes(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}))


def _load_tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path), device="cpu")


# --------------------------------------------------------------------------- optimizer
def optimizer_state_split(state_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(tensors, json_meta)`` for a torch optimizer ``state_dict``."""
    import torch

    tensors: dict[str, Any] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, per_param in state_dict["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}/{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    meta = {"param_groups": state_dict["param_groups"], "scalars": scalars}
    json.dumps(meta)  # fail here (and fall back) rather than write a half-usable file
    return tensors, meta


def optimizer_state_join(tensors: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        pid, name = key.split("/", 1)
        state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    groups = []
    for group in meta["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def save_optimizer(folder: Path, optimizer, scheduler) -> bool:
    """Write optimizer + scheduler state; False (nothing written) if they are not JSON/tensor shaped."""
    try:
        tensors, meta = optimizer_state_split(optimizer.state_dict())
        sched = scheduler.state_dict() if scheduler is not None else None
        json.dumps(sched)
    except (TypeError, ValueError, KeyError):
        return False
    _save_tensors(folder / OPTIMIZER_TENSORS, tensors)
    atomic_write_json(folder / OPTIMIZER_META, meta)
    if sched is not None:
        atomic_write_json(folder / SCHEDULER_JSON, sched)
    return True


def load_optimizer(folder: Path, optimizer, scheduler) -> bool:
    if not (folder / OPTIMIZER_TENSORS).is_file():
        return False
    state = optimizer_state_join(_load_tensors(folder / OPTIMIZER_TENSORS), read_json(folder / OPTIMIZER_META))
    optimizer.load_state_dict(state)
    if scheduler is not None and (folder / SCHEDULER_JSON).is_file():
        scheduler.load_state_dict(read_json(folder / SCHEDULER_JSON))
    return True


# --------------------------------------------------------------------------- RNG
def save_rng(folder: Path) -> None:
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available():
        tensors["cuda"] = torch.cuda.get_rng_state()
    _save_tensors(folder / RNG_TENSORS, tensors)
    atomic_write_json(folder / RNG_JSON, {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    })


def load_rng(folder: Path) -> bool:
    import numpy as np
    import torch

    if not (folder / RNG_TENSORS).is_file():
        return False
    meta = read_json(folder / RNG_JSON)
    version, internal, gauss = meta["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = meta["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    tensors = _load_tensors(folder / RNG_TENSORS)
    torch.random.set_rng_state(tensors["cpu"])
    if "cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["cuda"])
    return True
