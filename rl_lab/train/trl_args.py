"""rl_lab config -> TRL ``GRPOConfig`` keyword arguments, in one pure function."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError
from rl_lab.train.rewards import reward_weights


def grpo_config_kwargs(cfg: Config, run_dir: str | Path) -> dict[str, Any]:
    """Everything rl_lab sets on ``trl.GRPOConfig``; pure (no imports of torch/vllm, no I/O).

    Saving is decided by rl_lab's checkpoint callback (``save_strategy="no"``), logging
    goes to rl_lab's recorder (``report_to="none"``), and the HF Trainer's temporary
    checkpoint folders live in ``<run_dir>/trainer`` until they are moved to
    ``checkpoints/step_<N>``.
    """
    t, r = cfg.train, cfg.rollout
    kwargs: dict[str, Any] = dict(
        output_dir=str(Path(run_dir) / "trainer"),
        seed=cfg.seed,
        data_seed=cfg.seed,
        max_steps=t.steps,
        learning_rate=t.learning_rate,
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
        report_to="none",
        save_strategy="no",
        save_only_model=False,
        ignore_data_skip=False,  # the curriculum sampler relies on the replayed skip to align blocks
        dataloader_num_workers=0,
        dataloader_pin_memory=False,  # CPU runs: pinning only warns
        log_completions=False,
        disable_tqdm=False,
        # rollout backend
        use_vllm=r.backend == "vllm",
        vllm_mode=r.vllm_mode,
        vllm_server_host=r.vllm_server_host,
        vllm_server_port=r.vllm_server_port,
        vllm_gpu_memory_utilization=r.vllm_gpu_memory_utilization,
        vllm_tensor_parallel_size=r.vllm_tensor_parallel_size,
    )
    return kwargs


def check_rollout_backend(cfg: Config) -> None:
    """Refuse ``rollout.backend: vllm`` without vllm installed, before anything is written."""
    if cfg.rollout.backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ConfigError(
            "invalid config:\n  rollout.backend: 'vllm' needs the vllm package, which is not installed; "
            "install it (pip install 'rl-lab[vllm]', GPU only) or set rollout.backend=transformers"
        )
