"""The SFT arm (``train.method: sft``): TRL's SFTTrainer on the problems GRPO trains on, each with its
correct solution, into a run directory with the same contract as a GRPO run.

Matched to GRPO by default: the same pool (``build_pool``), the same curriculum draws step by step
(``CurriculumSFTTrainer``), the same number of optimizer steps and learning rate. What differs is the
target: one correct completion per problem, written by the family's own renderer in
``train.sft_format`` (default ``steps``: the worked solution), instead of sampled completions weighted
by their advantage. Loss on completion tokens only (SFTTrainer's default for prompt/completion rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError
from rl_lab.train.trl_args import shared_trainer_kwargs


def prompts_per_step(cfg: Config) -> int:
    """Problems an optimizer step trains on: GRPO's prompts per step (batch x accumulation / group size)."""
    t = cfg.train
    return t.batch_size * t.gradient_accumulation_steps // t.num_generations


def sft_rows(pool, fmt: str):
    """``datasets.Dataset`` with ``prompt`` / ``completion`` columns, row i = pool row i (the curriculum
    addresses rows by index). Chat prompts (lists of messages) get the solution as an assistant message."""
    from datasets import Dataset

    from rl_lab.environments.problem_sets import render_solution

    prompts, completions = [], []
    for i, row in enumerate(pool):
        try:
            text = render_solution(row, fmt)
        except ValueError as exc:
            raise ConfigError(f"invalid config:\n  train.sft_format: problem {i} ({row['family']!r}) has no "
                              f"solution in format {fmt!r}: {exc}") from None
        prompt = row["prompt"]
        prompts.append(prompt)
        completions.append([{"role": "assistant", "content": text}] if isinstance(prompt, list) else text)
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def sft_config_kwargs(cfg: Config, run_dir: str | Path) -> dict[str, Any]:
    """Everything rl_lab sets on ``trl.SFTConfig``; pure. One micro-batch per optimizer step holding the
    step's problems (the mean loss over them equals what accumulation over GRPO's micro-batches would give)."""
    t = cfg.train
    kwargs: dict[str, Any] = dict(
        **shared_trainer_kwargs(cfg, run_dir),
        per_device_train_batch_size=prompts_per_step(cfg),
        gradient_accumulation_steps=1,
        logging_steps=t.logging_steps,
        max_length=None,  # rows are whole problems; truncation would silently drop their solutions
        bf16=False,
        fp16=False,
        activation_checkpointing=False,
        save_strategy="no",
        save_only_model=False,
        ignore_data_skip=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        disable_tqdm=False,
        report_to=list(t.report_to) or "none",
        run_name=f"{cfg.name}/{Path(run_dir).name}",
    )
    return {**kwargs, **t.trl}
