"""The first stage of a two-stage sweep: each base-model variant pretrained once, as a Ray Tune trial.

A sweep whose grid varies pretraining (``pretrain.*``, ``model.preset``...) or that sets
``sweep.pretrain`` first trains every base variant it needs (``rl_lab.sweep.grid.split_bases``)
into ``<bases_dir>/base-<fingerprint>/``, then runs the RL grid with each trial's
``train.base_model`` pointing at its variant. The RL trials wait for the whole first stage: Tune
has no dependencies between trials, and a stage boundary keeps both stages plain Tune runs with
their own retries.

A variant counts as done when its checkpoint passes ``validate_checkpoint``, its ``eval.json``
exists and its saved config agrees with the variant's in everything that decides the base; a
resumed or repeated sweep skips it. An unfinished variant continues from its last pretraining
checkpoint. The fingerprint in the folder name makes sharing a ``bases_dir`` between sweeps safe.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl_lab.core.errors import ConfigError, RlLabError
from rl_lab.core.rundir import BASE_EVAL, BASE_MODEL, TUNE_BASES
from rl_lab.sweep.grid import BaseVariant


class BaseStageFailed(RlLabError):
    """A base variant could not be pretrained: the RL trials that need it cannot start."""

    exit_code = 1

    def __init__(self, message: str, rows: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.rows = rows


def variant_state(variant: BaseVariant, folder: Path) -> str:
    """``done``, ``partial`` (started, unfinished) or ``absent``; ConfigError when the folder holds another base."""
    from rl_lab.config import validate_config
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.errors import CheckpointError
    from rl_lab.pretrain import pretraining_differences

    if not (folder / "config.yaml").is_file():
        return "absent" if not folder.exists() or not any(folder.iterdir()) else "partial"
    differ = pretraining_differences(validate_config(variant.raw), folder)
    if differ:
        raise ConfigError(f"sweep.bases_dir: {str(folder)!r} holds a base pretrained with another config "
                          f"({', '.join(differ[:6])} differ); delete that folder or choose another sweep.bases_dir")
    try:
        validate_checkpoint(folder / BASE_MODEL)
    except CheckpointError:
        return "partial"
    return "done" if (folder / BASE_EVAL).is_file() else "partial"


def make_base_trainable(variants: dict[str, dict[str, Any]], bases: str, driver_cwd: str,
                        ) -> Callable[[dict[str, Any]], None]:
    """The function trainable of the first stage; it captures plain data only (pickled by Ray)."""

    def rl_lab_base(config: dict[str, Any]) -> None:
        from ray import tune

        from rl_lab.config import validate_config
        from rl_lab.core import determinism
        from rl_lab.core.checkpoints import validate_checkpoint
        from rl_lab.core.errors import CheckpointError
        from rl_lab.evaluate import evaluate_model
        from rl_lab.pretrain import pretrain

        if os.path.isdir(driver_cwd):
            os.chdir(driver_cwd)
        name = config["point"]["variant"]
        cfg = validate_config(variants[name])
        determinism.apply(cfg, threads=cfg.determinism.threads or max(1, int(cfg.sweep.cpus_per_trial)))
        out = Path(bases) / name
        start = time.time()
        try:
            validate_checkpoint(out / BASE_MODEL)
        except CheckpointError:
            resumable = any((out / "trainer_checkpoints").glob("checkpoint-*"))
            # each logged row as a Tune result: the sweep's progress shows the base's step and loss
            pretrain(cfg, resume=resumable, force=not resumable, out=out, on_log=tune.report)
        if not (out / BASE_EVAL).is_file():
            evaluate_model(cfg, out / BASE_MODEL, out, progress=False)
        tune.report({"step": cfg.pretrain.steps, "seconds": time.time() - start, "done": 1})

    return rl_lab_base


def pretrain_variants(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the first stage for the variants not yet done; return one row per variant (all of them).

    Raises BaseStageFailed naming each variant that Tune gave up on (after sweep.max_failures retries).
    """
    from ray import tune

    from rl_lab.sweep.progress import SweepProgress

    cfg, bases = plan["cfg"], Path(plan["bases_dir"])
    variants: list[BaseVariant] = plan["variants"]
    todo = [v for v in variants if variant_state(v, bases / v.name) != "done"]
    seconds: dict[str, float] = {}
    if todo:
        tune_dir = plan["sweep_dir"] / TUNE_BASES
        shutil.rmtree(tune_dir, ignore_errors=True)  # progress lives in the variant folders, not in Tune's state
        trainable = make_base_trainable({v.name: v.raw for v in todo}, str(bases), str(plan["cwd"]))
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cfg.sweep.cpus_per_trial, "gpu": cfg.sweep.gpus_per_trial}),
            param_space={"point": {"variant": tune.grid_search([v.name for v in todo])}},
            tune_config=tune.TuneConfig(max_concurrent_trials=cfg.sweep.max_concurrent_trials,
                                        trial_name_creator=_VariantName(), trial_dirname_creator=_VariantName(),
                                        reuse_actors=False),
            run_config=tune.RunConfig(name=TUNE_BASES, storage_path=str(plan["sweep_dir"]),
                                      failure_config=tune.FailureConfig(max_failures=cfg.sweep.max_failures),
                                      callbacks=[SweepProgress(["variant"])], verbose=0),
        )
        results = tuner.fit()
        for result in results:
            if result.metrics and "seconds" in result.metrics:
                seconds[result.config["point"]["variant"]] = float(result.metrics["seconds"])
    rows = [{"name": v.name, "point": v.point, "fingerprint": v.fingerprint, "dir": str(bases / v.name),
             "model": str(bases / v.name / BASE_MODEL), "status": variant_state(v, bases / v.name),
             "trained_now": v in todo, "seconds": seconds.get(v.name)} for v in variants]
    failed = [r["name"] for r in rows if r["status"] != "done"]
    if failed:
        raise BaseStageFailed(f"sweep: base variants {failed} did not finish pretraining (see Ray's logs and "
                              f"{bases}/<variant>/); their RL trials were not started. Continue with --resume", rows)
    return rows


class _VariantName:
    """Tune trial name / dir name = the variant's folder name (picklable)."""

    def __call__(self, trial: Any) -> str:
        return str((trial.config.get("point") or {}).get("variant"))
