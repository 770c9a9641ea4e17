"""rl_lab config -> TRL ``GRPOConfig`` keyword arguments, and the check of ``train.trl`` pass-through options.

rl_lab sets the GRPOConfig fields its own keys mean (``OWNED``: the learning rate is
``train.learning_rate``, saving and logging are rl_lab's callbacks). Every other GRPOConfig field
passes through ``train.trl`` unchanged, checked against TRL's own dataclass before anything is
written: ``GRPOConfig`` itself validates little at construction (a wrong ``loss_type`` fails only
at the first step, after generation) and constructing one resets accelerate's global state, so
the check reads ``dataclasses.fields`` and the field types instead of building one.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import os
import types
import typing
from pathlib import Path
from typing import Any

from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError
from rl_lab.train.rewards import reward_weights


def shared_trainer_kwargs(cfg: Config, run_dir: str | Path) -> dict[str, Any]:
    """What every arm (``GRPOConfig``, ``SFTConfig``) sets alike: where the HF Trainer's temporary
    checkpoints go, the seeds, the step count and the learning rate."""
    return dict(output_dir=str(Path(run_dir) / "trainer"), seed=cfg.seed, data_seed=cfg.seed,
                max_steps=cfg.train.steps, learning_rate=cfg.train.learning_rate)


def grpo_config_kwargs(cfg: Config, run_dir: str | Path) -> dict[str, Any]:
    """Everything rl_lab sets on ``trl.GRPOConfig``; pure (no imports of torch/vllm, no I/O).

    Saving is decided by rl_lab's checkpoint callback (``save_strategy="no"``), logging
    goes to rl_lab's recorder (``report_to="none"``), and the HF Trainer's temporary
    checkpoint folders live in ``<run_dir>/trainer`` until they are moved to
    ``checkpoints/step_<N>``.
    """
    t, r = cfg.train, cfg.rollout
    kwargs: dict[str, Any] = dict(
        **shared_trainer_kwargs(cfg, run_dir),
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        num_generations=t.num_generations,
        max_completion_length=t.max_completion_length,
        temperature=t.temperature,
        top_p=t.top_p,
        loss_type=t.loss_type,
        beta=t.beta,
        epsilon=t.epsilon,
        epsilon_high=t.epsilon_high,
        scale_rewards=t.scale_rewards,
        mask_truncated_completions=t.mask_truncated_completions,
        num_iterations=t.num_iterations,
        reward_weights=reward_weights(t.format_reward),
        logging_steps=t.logging_steps,
        # weights keep cfg.model.dtype; no autocast on top (TRL defaults bf16=True)
        bf16=False,
        fp16=False,
        activation_checkpointing=False,  # tiny models: recomputation costs more than it saves (TRL default: on)
        remove_unused_columns=False,  # reward functions need answer/family/difficulty/...
        save_strategy="no",
        save_only_model=False,
        ignore_data_skip=False,  # the curriculum sampler relies on the replayed skip to align blocks
        dataloader_num_workers=0,
        dataloader_pin_memory=False,  # CPU runs: pinning only warns
        log_completions=False,
        disable_tqdm=False,
        # rollout backend
        # trackers: rl_lab's metrics.jsonl + tensorboard/ always; TRL's own when train.report_to names them
        report_to=list(t.report_to) or "none",
        run_name=f"{cfg.name}/{Path(run_dir).name}",
        use_vllm=r.backend == "vllm",
        vllm_mode=r.vllm_mode,
        vllm_server_host=r.vllm_server_host,
        vllm_server_port=r.vllm_server_port,
        vllm_gpu_memory_utilization=r.vllm_gpu_memory_utilization,
        vllm_tensor_parallel_size=r.vllm_tensor_parallel_size,
    )
    return {**kwargs, **t.trl}  # check_trl_options refused every key of kwargs in train.trl


# GRPOConfig fields rl_lab sets itself -> the rl_lab key that means it (None: rl_lab's machinery owns it).
OWNED: dict[str, str | None] = {
    "output_dir": None, "seed": "seed", "data_seed": "seed", "max_steps": "train.steps",
    "learning_rate": "train.learning_rate", "per_device_train_batch_size": "train.batch_size",
    "gradient_accumulation_steps": "train.gradient_accumulation_steps", "num_generations": "train.num_generations",
    "max_completion_length": "train.max_completion_length", "temperature": "train.temperature",
    "top_p": "train.top_p", "loss_type": "train.loss_type", "beta": "train.beta", "epsilon": "train.epsilon",
    "epsilon_high": "train.epsilon_high", "scale_rewards": "train.scale_rewards",
    "mask_truncated_completions": "train.mask_truncated_completions", "num_iterations": "train.num_iterations",
    "reward_weights": "train.format_reward", "logging_steps": "train.logging_steps", "report_to": "train.report_to",
    "run_name": None, "bf16": "model.dtype", "fp16": "model.dtype", "remove_unused_columns": None,
    "save_strategy": "train.save_steps / train.save_every", "save_steps": "train.save_steps / train.save_every",
    "save_only_model": None, "save_total_limit": None, "ignore_data_skip": None, "dataloader_num_workers": None,
    "use_vllm": "rollout.backend", "vllm_mode": "rollout.vllm_mode", "vllm_server_host": "rollout.vllm_server_host",
    "vllm_server_port": "rollout.vllm_server_port",
    "vllm_gpu_memory_utilization": "rollout.vllm_gpu_memory_utilization",
    "vllm_tensor_parallel_size": "rollout.vllm_tensor_parallel_size",
    "resume_from_checkpoint": "rl-lab train --resume", "push_to_hub": None, "shuffle_dataset": "curriculum",
}

# SFTConfig fields rl_lab sets for the SFT arm (check_trl_options refuses them in train.trl).
SFT_OWNED = ("max_length", "completion_only_loss", "packing", "dataset_text_field", "eos_token")

# String fields TRL checks only at the first training step (TrainingArguments' enums fail at construction).
CHOICES: dict[str, tuple[Any, ...]] = {
    "importance_sampling_level": ("token", "sequence"),
    "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
    "vllm_model_impl": ("vllm", "transformers"),
    "vllm_importance_sampling_mode": ("token_truncate", "token_mask", "sequence_truncate", "sequence_mask"),
}
TRACKER_PACKAGES = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}


def _accepts(value: Any, tp: Any) -> bool:
    """Whether ``value`` fits the annotated type of a GRPOConfig field (YAML values: no coercion)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(value, a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return value in typing.get_args(tp)
    if tp is type(None):
        return value is None
    if origin in (list, dict, tuple):
        return isinstance(value, list if origin is tuple else origin)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp) or (issubclass(tp, str) and isinstance(value, str))  # str enums
    return True


def check_trl_options(cfg: Config) -> None:
    """Refuse ``train.trl`` keys that GRPOConfig lacks, that rl_lab sets itself, or whose values do not fit
    the field's type; and trackers in ``train.report_to`` that are not installed. Imports trl only when needed."""
    errors = []
    for tracker in cfg.train.report_to:
        if importlib.util.find_spec(TRACKER_PACKAGES[tracker]) is None:
            errors.append(f"train.report_to: {tracker!r} needs the {TRACKER_PACKAGES[tracker]} package, which is "
                          f"not installed (pip install {TRACKER_PACKAGES[tracker]})")
    if cfg.train.peft is not None and importlib.util.find_spec("peft") is None:
        errors.append("train.peft: LoRA needs the peft package, which is not installed "
                      "(pip install 'rl-lab[peft]'); or set train.peft=null for full fine-tuning")
    if cfg.train.trl:
        from trl import GRPOConfig, SFTConfig

        # train.method picks the trainer, so the config class its pass-through keys are checked against
        trl_config = SFTConfig if cfg.train.method == "sft" else GRPOConfig
        owned = {**OWNED, **dict.fromkeys(SFT_OWNED)} if cfg.train.method == "sft" else OWNED
        name = trl_config.__name__
        fields = {f.name for f in dataclasses.fields(trl_config) if f.init}
        hints = typing.get_type_hints(trl_config)
        for key, value in cfg.train.trl.items():
            if key in owned:
                instead = f"set {owned[key]} instead" if owned[key] else "rl_lab sets it itself"
                errors.append(f"train.trl.{key}: rl_lab owns this {name} field; {instead}")
            elif key not in fields:
                close = difflib.get_close_matches(key, sorted(fields), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                errors.append(f"train.trl.{key}: not a field of trl.{name}{hint}")
            elif not _accepts(value, hints.get(key, Any)):
                errors.append(f"train.trl.{key}: {value!r} does not fit the field's type {hints.get(key)}")
            elif key in CHOICES and value not in CHOICES[key]:
                errors.append(f"train.trl.{key}: {value!r} is not one of {list(CHOICES[key])}")
    if errors:
        raise ConfigError("invalid config:\n" + "\n".join(f"  {e}" for e in errors))


def tracker_environment(cfg: Config, run_dir: str | Path) -> dict[str, str]:
    """Environment variables the trackers in ``train.report_to`` need: TRL's TensorBoard events go to
    ``<run>/trackers/tensorboard`` (rl_lab's own stay in ``<run>/tensorboard``), wandb runs offline
    unless the user set WANDB_MODE, trackio keeps its project under the run dir."""
    env: dict[str, str] = {}
    trackers = Path(run_dir) / "trackers"
    if "tensorboard" in cfg.train.report_to:
        env["TENSORBOARD_LOGGING_DIR"] = str(trackers / "tensorboard")
    if "wandb" in cfg.train.report_to:
        env.setdefault("WANDB_MODE", os.environ.get("WANDB_MODE", "offline"))
        env["WANDB_DIR"] = os.environ.get("WANDB_DIR", str(trackers))
    if "trackio" in cfg.train.report_to:
        env["TRACKIO_DIR"] = os.environ.get("TRACKIO_DIR", str(trackers / "trackio"))
    return env


def check_rollout_backend(cfg: Config) -> None:
    """Refuse ``rollout.backend: vllm`` without vllm installed, before anything is written."""
    if cfg.rollout.backend == "vllm" and cfg.train.method == "sft":
        raise ConfigError("invalid config:\n  rollout.backend: train.method=sft samples nothing; "
                          "set rollout.backend=transformers (the default)")
    if cfg.rollout.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "invalid config:\n  rollout.backend: 'vllm' needs the vllm package, which is not installed; "
            "install it (pip install 'rl-lab[vllm]', GPU only) or set rollout.backend=transformers"
        )
