"""The sweep driver: validate every grid point, then hand the grid to Ray Tune.

Ray Tune does all the scheduling: ``tune.grid_search`` per grid key, trial resources with
``tune.with_resources``, retries with ``FailureConfig`` and continuation of a killed
driver with ``Tuner.restore(resume_errored=True)``. Layout under ``cfg.sweep_dir``::

    sweep_config.yaml      the resolved sweep config (a resume must match it)
    sweep_summary.json     one row per trial (see summary.py)
    tune/                  Tune's experiment state and per-trial result files
    trials/<name>/         each trial's run dir (the run-dir contract of training)
    bases/<variant>/       two-stage sweeps: each base variant, pretrained first (rl_lab.sweep.bases)
    tune_bases/            Tune's state of that first stage
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path
from typing import Any

from rl_lab.core.errors import ConfigError
from rl_lab.core.io import atomic_write_yaml
from rl_lab.core.rundir import BASE_MODEL, bases_dir
from rl_lab.sweep.grid import absolutize_paths, full_grid, split_bases, two_stage, validate_grid
from rl_lab.sweep.summary import build_summary, write_summary

TUNE_NAME = "tune"
CONFIG_FILE = "sweep_config.yaml"
# Sections a resumed sweep may change: where Ray runs, not what the trials do.
RESUME_MAY_CHANGE = ("ray",)


def prepare(raw: dict[str, Any], *, resume: bool = False, address: str | None = None,
            cwd: Path | None = None, trial_output: bool = False) -> dict[str, Any]:
    """Validate everything a sweep needs before Ray starts; raise ConfigError, write nothing.

    Returns a plan: the absolutized raw config, the base Config, points, names, dirs.
    """
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.errors import CheckpointError
    from rl_lab.core.models import check_loadable

    cwd = (cwd or Path.cwd()).resolve()
    raw = absolutize_paths(raw, cwd)
    if address:
        raw.setdefault("ray", {})
        raw["ray"] = {**(raw["ray"] or {}), "address": address}
    base, points, names, configs = validate_grid(raw)
    if not raw.get("output_dir"):  # pin runs/<name> to the driver's cwd for every trial
        raw["output_dir"] = str((cwd / base.root).resolve())
        base, points, names, configs = validate_grid(raw)
    gpus = base.sweep.gpus_per_trial
    if gpus > 1 and gpus != int(gpus):
        raise ConfigError(f"sweep.gpus_per_trial: {gpus} is more than one GPU but not a whole number; "
                          "use a fraction below 1 or a whole number of GPUs")
    if not base.ray.address:
        check_local_resources(base)
    staged = two_stage(base)
    variants, trial_bases = [], {}
    if staged:
        from rl_lab.sweep.bases import variant_state

        variants, of_point = split_bases(raw, base, points)
        where = bases_dir(base)
        trial_bases = {name: {"variant": v, "model": str(where / v / BASE_MODEL)}
                       for name, v in zip(names, of_point, strict=True)}
        for variant in variants:
            variant_state(variant, where / variant.name)  # ConfigError: the folder holds another base
    for path, dtype in sorted({(str(c.base_model_path), c.model.dtype) for c in configs} if not staged else ()):
        try:
            validate_checkpoint(path)
            check_loadable(path, dtype)  # what the weights hold, once here rather than failing in every trial
        except CheckpointError as exc:
            raise ConfigError(f"train.base_model: {exc} (pretrain a base model first, or set train.base_model)") from None
    sweep_dir = base.sweep_dir
    tune_dir = sweep_dir / TUNE_NAME
    resume_tune = resume
    if resume:
        resume_tune = _check_resumable(sweep_dir, tune_dir, raw, staged)
    elif tune_dir.exists() and _can_restore(tune_dir):
        raise ConfigError(f"output_dir: {str(sweep_dir)!r} already holds a sweep; continue it with --resume, "
                          "or choose another output_dir/name")
    return {"raw": raw, "cfg": base, "points": points, "names": names, "sweep_dir": sweep_dir,
            "tune_dir": tune_dir, "cwd": cwd, "resume": resume, "resume_tune": resume_tune,
            "trial_output": trial_output, "variants": variants, "bases_dir": bases_dir(base) if staged else None,
            "trial_bases": trial_bases}


def local_resources(cfg) -> tuple[float, float]:
    """(CPUs, GPUs) a local Ray started by ``init_ray`` will have: what ``ray.init`` detects, unless set."""
    import torch

    cpus = cfg.ray.num_cpus or os.cpu_count() or 1
    return float(cpus), float(torch.cuda.device_count())


def check_local_resources(cfg) -> None:
    """Refuse per-trial resources the local Ray can never grant: Tune would wait for them forever."""
    cpus, gpus = local_resources(cfg)
    where = f"ray.num_cpus={cfg.ray.num_cpus}" if cfg.ray.num_cpus else f"this machine has {cpus:g} CPUs"
    if cfg.sweep.cpus_per_trial > cpus:
        raise ConfigError(f"sweep.cpus_per_trial: {cfg.sweep.cpus_per_trial:g} CPUs per trial, but the local Ray "
                          f"has {cpus:g} ({where}); no trial could ever start. Lower it, or join a cluster "
                          "with --address / ray.address")
    if cfg.sweep.gpus_per_trial > gpus:
        raise ConfigError(f"sweep.gpus_per_trial: {cfg.sweep.gpus_per_trial:g} GPUs per trial, but the local Ray "
                          f"has {gpus:g} visible GPUs; no trial could ever start. Lower it, or join a cluster "
                          "with --address / ray.address")


def warn_unsatisfiable_on_cluster(cfg) -> None:
    """On a joined cluster, say so when no node holds one trial's resources now (an autoscaler may add one)."""
    import ray

    need = {"CPU": cfg.sweep.cpus_per_trial, "GPU": cfg.sweep.gpus_per_trial}
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    if not any(all(n.get(k, 0.0) >= v for k, v in need.items() if v > 0) for n in nodes):
        largest = max(((n.get("CPU", 0.0), n.get("GPU", 0.0)) for n in nodes), default=(0.0, 0.0))
        print(f"warning: no node of the cluster has {need['CPU']:g} CPUs and {need['GPU']:g} GPUs for one trial "
              f"(largest: {largest[0]:g} CPUs, {largest[1]:g} GPUs); trials wait until an autoscaler adds such a "
              "node. Without one, stop with Ctrl-C and lower sweep.cpus_per_trial / sweep.gpus_per_trial",
              file=sys.stderr)


def _can_restore(tune_dir: Path) -> bool:
    from ray.tune import Tuner

    return Tuner.can_restore(str(tune_dir))


def _check_resumable(sweep_dir: Path, tune_dir: Path, raw: dict[str, Any], staged: bool = False) -> bool:
    """Refuse a resume that cannot be one; True when Tune's state of the RL stage exists to restore
    (False: a two-stage sweep stopped in its first stage, so the RL stage starts now)."""
    from rl_lab.config import validate_config
    from rl_lab.core.config import read_yaml_mapping
    from rl_lab.train.resume import changed_keys

    restorable = _can_restore(tune_dir)
    if not restorable and not (staged and (sweep_dir / CONFIG_FILE).is_file()):
        raise ConfigError(f"--resume: {str(sweep_dir)!r} holds no sweep to resume; run without --resume to start it")
    saved_file = sweep_dir / CONFIG_FILE
    if saved_file.is_file():
        saved = validate_config(read_yaml_mapping(saved_file)).to_dict()
        new = validate_config(raw).to_dict()
        changed = changed_keys(saved, new, RESUME_MAY_CHANGE)
        if changed:
            raise ConfigError(f"--resume: the config differs from the sweep being resumed in {changed}; "
                              f"resume with the same config (saved in {str(saved_file)!r}) or start a new sweep")
    return restorable


def init_ray(cfg, trial_output: bool = False) -> bool:
    """Join ``ray.address`` or start a local Ray; return True if this call connected.

    Trial stdout/stderr (TRL's per-step logs, progress bars) stay in Ray's session logs
    unless ``trial_output``: the driver's terminal is for the sweep's progress table.
    """
    import ray

    if ray.is_initialized():
        return False
    if cfg.ray.address:
        ray.init(address=cfg.ray.address, log_to_driver=trial_output)
    else:
        ray.init(num_cpus=cfg.ray.num_cpus, include_dashboard=False, log_to_driver=trial_output)
    return True


def run_sweep(plan: dict[str, Any]) -> dict[str, Any]:
    """Run (or resume) the sweep of a ``prepare``d plan; write and return the summary."""
    import ray
    from ray import tune

    from rl_lab.sweep.progress import SweepProgress
    from rl_lab.sweep.ray_cleanup import end_dead_driver_ray, forget_local_ray, record_local_ray

    cfg, sweep_dir = plan["cfg"], plan["sweep_dir"]
    grid = full_grid(cfg)
    keys = list(grid)
    if not plan["resume"]:
        atomic_write_yaml(sweep_dir / CONFIG_FILE, cfg.to_dict())
    trainable = build_trainable(plan)
    ended = end_dead_driver_ray(sweep_dir)  # a killed driver's Ray agents linger ~60 s
    if ended:
        print(f"note: ended {len(ended)} Ray processes a killed driver of this sweep left running "
              f"(pids {', '.join(map(str, ended))})", file=sys.stderr)
    started = init_ray(cfg, plan.get("trial_output", False))
    if started and not cfg.ray.address:
        record_local_ray(sweep_dir)
    if cfg.ray.address:
        warn_unsatisfiable_on_cluster(cfg)
    results, base_rows = None, None
    try:
        if plan["variants"]:
            from rl_lab.sweep.bases import BaseStageFailed, pretrain_variants

            try:
                base_rows = pretrain_variants(plan)
            except BaseStageFailed as exc:
                base_rows = exc.rows
                raise
        if plan["resume_tune"]:
            tuner = tune.Tuner.restore(str(plan["tune_dir"]), trainable=trainable, resume_errored=True)
        else:
            tuner = tune.Tuner(
                trainable,
                param_space={"point": {k: tune.grid_search(v) for k, v in grid.items()}},
                tune_config=tune.TuneConfig(
                    max_concurrent_trials=cfg.sweep.max_concurrent_trials,
                    trial_name_creator=_TrialName(keys),
                    trial_dirname_creator=_TrialName(keys),
                    reuse_actors=False,
                ),
                run_config=tune.RunConfig(
                    name=TUNE_NAME,
                    storage_path=str(sweep_dir),
                    failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures),
                    callbacks=[SweepProgress(keys)],
                    verbose=0,
                ),
            )
        results = tuner.fit()
    finally:
        summary = build_summary(sweep_dir, grid, plan["points"], plan["names"], _tune_infos(results, keys),
                                max_failures=cfg.sweep.max_failures, trial_bases=plan["trial_bases"],
                                bases=base_rows)
        write_summary(summary)
        if started:
            ray.shutdown()
            forget_local_ray(sweep_dir)
    return summary


def build_trainable(plan: dict[str, Any]):
    """The trial function with the sweep's per-trial resources attached (``tune.with_resources``)."""
    from ray import tune

    from rl_lab.sweep.trial import make_trainable

    cfg = plan["cfg"]
    trainable = make_trainable(
        copy.deepcopy(plan["raw"]), list(full_grid(cfg)), str(plan["sweep_dir"] / "trials"), str(plan["cwd"]),
        cfg.sweep.gpus_per_trial, {name: b["model"] for name, b in plan["trial_bases"].items()},
    )
    return tune.with_resources(trainable, {"cpu": cfg.sweep.cpus_per_trial, "gpu": cfg.sweep.gpus_per_trial})


class _TrialName:
    """Tune trial name / dir name = the readable name of the trial's grid point (picklable)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def __call__(self, trial: Any) -> str:
        from rl_lab.sweep.grid import point_name

        return point_name(dict(trial.config.get("point") or {}), self.keys)


def _tune_infos(results: Any, keys: list[str]) -> dict[str, dict[str, Any]]:
    from rl_lab.sweep.grid import point_name
    from rl_lab.sweep.trial import pointer_step

    infos: dict[str, dict[str, Any]] = {}
    if results is None:
        return infos
    for result in results:
        name = point_name(dict((result.config or {}).get("point") or {}), keys)
        error = result.error
        infos[name] = {
            "trial_id": (result.metrics or {}).get("trial_id"),
            "status": "ERROR" if error is not None else "TERMINATED",
            "error": _short_error(error) if error is not None else None,
            "checkpoint_step": pointer_step(result.checkpoint),
        }
    return infos


def _short_error(error: BaseException) -> str:
    cause = error
    while getattr(cause, "cause", None) is not None:  # RayTaskError wraps the trainable's exception
        cause = cause.cause
    text = f"{type(cause).__name__}: {cause}"
    return text.strip().splitlines()[-1][:500] if text.strip() else type(cause).__name__

