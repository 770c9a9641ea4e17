"""``run_training``: one GRPO (or SFT, ``train.method``) run from a base checkpoint into a run directory, resumable.

Order of work, so that bad input never leaves a half-written run dir and a run dir never
has two writers: (1) check every input (config against the run's, base checkpoint loaded
and checked, resume point); (2) take the run dir's lock; (3) write. SIGINT / SIGTERM stop
the run at the end of the current step with a checkpoint and status "interrupted".
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rl_lab.core import determinism
from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError, RunDirError, RunInterrupted
from rl_lab.core.io import atomic_write_json, atomic_write_yaml, read_json
from rl_lab.core.lock import hold_lock
from rl_lab.core.rundir import CURRICULUM_STATE, RunDir
from rl_lab.train.resume import ResumePoint, check_resume_config, find_resume_point, last_resumable
from rl_lab.train.signals import StopOnSignal


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


def _main_process() -> bool:
    """Rank 0 of a multi-process (accelerate) run, or a single process: the one that holds the lock."""
    return os.environ.get("RANK", "0") == "0"


def check_run_dir(run: RunDir, cfg: Config, resume: bool) -> None:
    """The run dir can take this run: a directory (or nothing yet), empty unless resuming, same config."""
    if run.path.exists() and not run.path.is_dir():
        raise RunDirError(f"run directory {str(run.path)!r} exists and is not a directory; choose another --run-dir")
    if not resume and run.has_run():
        raise ConfigError(
            f"run directory {str(run.path)!r} already holds a training run; pass --resume to continue it, "
            "or choose another output_dir / remove it"
        )
    if resume:
        check_resume_config(run, cfg.to_dict())


def _say_skipped(point: ResumePoint) -> None:
    """A resume says which checkpoints it could not use, and where it starts instead."""
    for step, why in point.skipped:
        print(f"warning: checkpoints/step_{step} cannot be resumed from ({why})", file=sys.stderr)
    if point.skipped:
        start = f"step_{point.step}" if point.step else "step 0 (no checkpoint can be resumed from)"
        print(f"warning: resuming from {start}; later checkpoints are replaced as the run reaches them",
              file=sys.stderr)


def _finish_done_run(run: RunDir, point: ResumePoint, total: int) -> dict[str, Any]:
    """``--resume`` of a run whose last good checkpoint is already at ``total``: nothing to train."""
    status = run.status() or {}
    if not (run.finished() and status.get("step") == point.step):  # keep a finished run's status (train_seconds)
        run.write_status("done", point.step, total, last_checkpoint=point.step)
    run.clear_scratch()
    return _final_metrics(run, {"resumed_from": point.step})


def run_training(
    cfg: Config,
    run_dir: Path | None = None,
    resume: bool = False,
    reporter: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` with GRPO into ``run_dir`` (default ``cfg.train_dir``); return the final metrics.

    ``resume``: continue from the last resumable checkpoint of ``run_dir`` (a fresh start if
    there is none); refused when the config differs from the run's beyond the keys a resume may
    change. ``reporter`` is called with every metrics row as it is logged (Ray Tune hooks in
    here). Raises ConfigError / CheckpointError / RunDirError (another writer) before writing
    anything on bad input; RunInterrupted after SIGINT / SIGTERM (status "interrupted").
    """
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.prompting import check_prompt_support
    from rl_lab.train import lora
    from rl_lab.train.curriculum import build_curriculum
    from rl_lab.train.trl_args import check_rollout_backend

    run = RunDir(Path(run_dir or cfg.train_dir))
    total = cfg.train.steps
    # ---- everything that can fail on bad input, before the first write
    check_rollout_backend(cfg)
    validate_checkpoint(cfg.base_model_path)
    check_run_dir(run, cfg, resume)
    if resume and find_resume_point(run).step >= total:  # cheap: no model load to finish a finished run
        with _writer(run):
            point = find_resume_point(run)
            if point.step >= total:
                return _finish_done_run(run, point, total)
    pool = build_pool(cfg)
    curriculum = build_curriculum(cfg.curriculum, pool["difficulty"], total)
    model, tokenizer = load_model_and_tokenizer(cfg.base_model_path, cfg.model.dtype)
    check_prompt_support(cfg.prompt, tokenizer, str(cfg.base_model_path))
    lora.check_targets(model, cfg.train.peft)
    peft_config = lora.lora_config(cfg.train.peft)  # built before the first write: it can refuse
    data = pool
    if cfg.train.method == "sft":
        from rl_lab.train.sft import sft_rows

        data = sft_rows(pool, cfg.train.sft_format)
    args = _trainer_args(cfg, run.path)

    # ---- writes start here, under the run dir's lock
    with _writer(run):
        check_run_dir(run, cfg, resume)  # again, under the lock: another writer may have finished meanwhile
        point = find_resume_point(run, curriculum) if resume else ResumePoint(0, None)
        _say_skipped(point)
        if point.step >= total:
            return _finish_done_run(run, point, total)
        if point.path is not None:
            curriculum.load_state_dict(read_json(point.path / CURRICULUM_STATE))
        if resume:
            run.rewind(point.step)
        atomic_write_yaml(run.config_file, cfg.to_dict())
        atomic_write_json(run.environment_file, determinism.describe())
        return _train(cfg, run, point, resume, (data, curriculum, model, tokenizer, args, peft_config), reporter)


def _trainer_args(cfg: Config, run_path: Path):
    """``trl.GRPOConfig`` or ``trl.SFTConfig`` for ``train.method``."""
    if cfg.train.method == "sft":
        from trl import SFTConfig

        from rl_lab.train.sft import sft_config_kwargs

        return SFTConfig(**sft_config_kwargs(cfg, run_path))
    from trl import GRPOConfig

    from rl_lab.train.trl_args import grpo_config_kwargs

    return GRPOConfig(**grpo_config_kwargs(cfg, run_path))


def _writer(run: RunDir):
    """The run dir's lock (rank 0 only: the other processes of a multi-GPU run share its run)."""
    from contextlib import nullcontext

    if not _main_process():
        return nullcontext()
    run.path.mkdir(parents=True, exist_ok=True)
    return hold_lock(run.lock_file, f"run directory {str(run.path)!r}")


def _train(cfg: Config, run: RunDir, point: ResumePoint, resume: bool, built: tuple,
           reporter: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    """Train from ``point`` with the objects checked before the lock was taken (``built``)."""
    from rl_lab.train.callbacks import CheckpointCallback, FailAtStep, RunRecorder
    from rl_lab.train.rewards import RolloutBuffer
    from rl_lab.train.trl_args import tracker_environment

    os.environ.update(tracker_environment(cfg, run.path))  # read by the trackers when the trainer starts them
    _data, curriculum, _model, tokenizer, _args, _peft = built
    total, start = cfg.train.steps, point.step
    buffer = RolloutBuffer()
    rollouts = cfg.train.rollouts_per_step if cfg.train.method == "grpo" else 0  # SFT samples nothing
    recorder = RunRecorder(run, total, buffer, rollouts, cfg.seed, reporter, start_step=start, resumed=resume)
    stop = StopOnSignal()
    callbacks = [
        FailAtStep(run, cfg.debug.fail_at_step),
        recorder,
        CheckpointCallback(run, total, cfg.train.save_steps, cfg.train.save_every, curriculum, tokenizer,
                           cfg.train.save_bf16_copy),
        stop,  # last: a stop request adds a save to the step's end
    ]
    trainer = _build_trainer(cfg, built, buffer, callbacks)
    t0 = time.time()
    try:
        with stop.installed():
            trainer.train(resume_from_checkpoint=str(point.path) if point.path else None)
    except BaseException as exc:
        last = last_resumable(run)
        state = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        run.write_status(state, recorder.last_logged, total, last_checkpoint=last.step if last else 0)
        raise
    seconds = time.time() - t0
    run.clear_scratch()  # the Trainer's scratch folder (only TRL's model card is left there) and temp files
    step = trainer.state.global_step
    extra = {
        "train_seconds": seconds,
        "steps_per_second": (step - start) / seconds if seconds > 0 else 0.0,
        "resumed_from": start,
    }
    if stop.signum is not None and step < total:
        last = last_resumable(run)
        run.write_status("interrupted", step, total, last_checkpoint=last.step if last else 0,
                         signal=stop.signal_name, **extra)
        raise RunInterrupted(f"{stop.signal_name} at step {step} of {total}: stopped after checkpoint "
                             f"step_{last.step if last else 0}; continue with --resume", stop.signum)
    run.write_status("done", step, total, last_checkpoint=step, **extra)
    return _final_metrics(run, extra)


def _build_trainer(cfg: Config, built: tuple, buffer, callbacks: list):
    """TRL's trainer for ``train.method``, with LoRA (``train.peft``) through its ``peft_config``."""
    data, curriculum, model, tokenizer, args, peft_config = built
    if cfg.train.method == "sft":
        from rl_lab.train.sft import prompts_per_step
        from rl_lab.train.trainer import CurriculumSFTTrainer

        return CurriculumSFTTrainer(
            model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=callbacks,
            peft_config=peft_config, curriculum=curriculum, prompts_per_step=prompts_per_step(cfg),
        )
    from rl_lab.environments.config_checks import taxonomy_of
    from rl_lab.train.rewards import VerifierReward, reward_functions
    from rl_lab.train.trainer import CurriculumGRPOTrainer

    verifier = VerifierReward(curriculum=curriculum, buffer=buffer, format_weight=cfg.train.format_reward,
                              taxonomy=taxonomy_of(cfg))
    funcs, _weights = reward_functions(verifier, cfg.train.format_reward)
    return CurriculumGRPOTrainer(
        model=model, reward_funcs=funcs, args=args, train_dataset=data, processing_class=tokenizer,
        callbacks=callbacks, peft_config=peft_config, curriculum=curriculum, verifier=verifier,
    )
