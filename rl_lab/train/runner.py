"""``run_training``: one GRPO run from a base checkpoint into a run directory, resumable."""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl_lab.core import determinism
from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError
from rl_lab.core.io import atomic_write_json, atomic_write_yaml, read_json
from rl_lab.core.rundir import CURRICULUM_STATE, RunDir
from rl_lab.train.resume import last_resumable


def build_pool(cfg: Config):
    """``cfg.train.problems`` problems (about) spread evenly over the trained families' levels."""
    from rl_lab.environments.config_checks import spec_levels
    from rl_lab.environments.problem_sets import build_problem_set

    specs = cfg.environments.by_role("trained")
    cells = sum(len(spec_levels(s)) for s in specs)
    per_level = max(1, math.ceil(cfg.train.problems / cells))
    pool = build_problem_set(specs, per_level, cfg.seed)
    if cfg.prompt.style != "raw":  # what the policy is shown: text, or messages TRL renders with the chat template
        from rl_lab.prompting import trl_prompt

        pool = pool.map(lambda row: {"prompt": trl_prompt(row, cfg.prompt)}, desc="prompts")
    # the curriculum identifies problems by row; the reward function gets it back as a column
    return pool.add_column("pool_index", list(range(len(pool))))


def _final_metrics(run: RunDir, extra: dict[str, Any]) -> dict[str, Any]:
    return {**(run.last_metrics() or {}), **extra}


def run_training(
    cfg: Config,
    run_dir: Path | None = None,
    resume: bool = False,
    reporter: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` with GRPO into ``run_dir`` (default ``cfg.train_dir``); return the final metrics.

    ``resume``: continue from the last checkpoint of ``run_dir`` (a fresh start if there is
    none).  ``reporter`` is called with every metrics row as it is logged (Ray Tune hooks in
    here).  Raises ConfigError / CheckpointError before writing anything on bad input.
    """
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.environments.config_checks import taxonomy_of
    from rl_lab.prompting import check_prompt_support
    from rl_lab.train.curriculum import build_curriculum
    from rl_lab.train.trl_args import check_rollout_backend, grpo_config_kwargs, tracker_environment

    run_dir = Path(run_dir or cfg.train_dir)
    run = RunDir(run_dir)
    total = cfg.train.steps
    # ---- everything that can fail on bad input, before the first write
    check_rollout_backend(cfg)
    validate_checkpoint(cfg.base_model_path)
    if not resume and run.has_run():
        raise ConfigError(
            f"run directory {str(run_dir)!r} already holds a training run; pass --resume to continue it, "
            "or choose another output_dir / remove it"
        )
    point = last_resumable(run) if resume else None
    if point is not None and point[0] >= total:
        run.write_status("done", point[0], total, last_checkpoint=point[0])
        return _final_metrics(run, {"resumed_from": point[0]})

    pool = build_pool(cfg)
    curriculum = build_curriculum(cfg.curriculum, pool["difficulty"], total)
    model, tokenizer = load_model_and_tokenizer(cfg.base_model_path, cfg.model.dtype)
    check_prompt_support(cfg.prompt, tokenizer, str(cfg.base_model_path))

    from trl import GRPOConfig

    from rl_lab.train.callbacks import CheckpointCallback, FailAtStep, RunRecorder
    from rl_lab.train.rewards import RolloutBuffer, VerifierReward, reward_functions
    from rl_lab.train.trainer import CurriculumGRPOTrainer

    os.environ.update(tracker_environment(cfg, run_dir))  # read by the trackers when the trainer starts them
    args = GRPOConfig(**grpo_config_kwargs(cfg, run_dir))

    # ---- writes start here
    run_dir.mkdir(parents=True, exist_ok=True)
    start = 0
    if point is not None:
        start = point[0]
        curriculum.load_state_dict(read_json(point[1] / CURRICULUM_STATE))
    if resume:
        run.rewind(start)
    atomic_write_yaml(run.config_file, cfg.to_dict())
    atomic_write_json(run.environment_file, determinism.describe())

    buffer = RolloutBuffer()
    verifier = VerifierReward(curriculum=curriculum, buffer=buffer, format_weight=cfg.train.format_reward,
                              taxonomy=taxonomy_of(cfg))
    funcs, _weights = reward_functions(verifier, cfg.train.format_reward)
    recorder = RunRecorder(run, total, buffer, cfg.train.rollouts_per_step, cfg.seed, reporter,
                           start_step=start, resumed=resume)
    callbacks = [
        FailAtStep(run, cfg.debug.fail_at_step),
        recorder,
        CheckpointCallback(run, total, cfg.train.save_steps, cfg.train.save_every, curriculum, tokenizer,
                           cfg.train.save_bf16_copy),
    ]
    trainer = CurriculumGRPOTrainer(
        model=model, reward_funcs=funcs, args=args, train_dataset=pool, processing_class=tokenizer,
        callbacks=callbacks, curriculum=curriculum, verifier=verifier,
    )
    t0 = time.time()
    try:
        trainer.train(resume_from_checkpoint=str(point[1]) if point else None)
    except BaseException:
        last = last_resumable(run)
        run.write_status("failed", recorder.last_logged, total, last_checkpoint=last[0] if last else 0)
        raise
    seconds = time.time() - t0
    shutil.rmtree(run.scratch_dir, ignore_errors=True)  # only TRL's model card is left there
    steps_done = trainer.state.global_step - start
    extra = {
        "train_seconds": seconds,
        "steps_per_second": steps_done / seconds if seconds > 0 else 0.0,
        "resumed_from": start,
    }
    run.write_status("done", trainer.state.global_step, total, last_checkpoint=trainer.state.global_step, **extra)
    return _final_metrics(run, extra)
