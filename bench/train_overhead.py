"""Overhead of rl_lab's training layer over a bare TRL ``GRPOTrainer``.

Same tiny random model, same problem pool, same GRPOConfig, same number of steps:

* bare: ``trl.GRPOTrainer`` with its own RepeatSampler and a plain verifier reward function;
* rl_lab: ``CurriculumGRPOTrainer`` (curriculum sampler, adaptive curriculum) with the
  recording verifier reward (per-level accuracy, format shares, curriculum feedback,
  rollout buffer) and the callbacks (metrics.jsonl, TensorBoard, rollouts, status,
  checkpoints at step 0 and the last step).

Only ``trainer.train()`` is timed.  The two alternate ``repeats`` times; the result is the
median of the per-pair time ratios (rl_lab / bare).  Goal: <= 1.10.  A random model
rarely emits EOS, so completions run to ``max_completion_length`` in both arms and the
generated token count does not depend on which prompts were drawn.

    python -m bench train_overhead
    python -m bench.train_overhead --steps 6 --repeats 3

30 steps by default: the two checkpoint writes (step 0 and the last) are a fixed cost per
run, and a 6-step run would charge them to far fewer steps than any real run has.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "train_overhead.json"


def _config(base: Path, out: Path, steps: int):
    from rl_lab.config import validate_config

    return validate_config({
        "name": "bench", "seed": 0, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "levels": [1, 2, 3, 4]}]},
        "train": {"base_model": str(base), "steps": steps, "batch_size": 32, "num_generations": 8,
                  "max_completion_length": 16, "problems": 256, "rollouts_per_step": 16, "logging_steps": 1},
        "curriculum": {"kind": "adaptive"},
    })


def _bare_reward(prompts, completions, **columns):
    from rl_lab.environments.problem_sets import verify_completion

    return [verify_completion({"family": f, "answer": a, "metadata": m}, c)
            for c, f, a, m in zip(completions, columns["family"], columns["answer"], columns["metadata"], strict=True)]


def _one(cfg, arm: str, run_dir: Path) -> tuple[float, int]:
    from trl import GRPOConfig, GRPOTrainer

    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.core.rundir import RunDir
    from rl_lab.train.callbacks import CheckpointCallback, FailAtStep, RunRecorder
    from rl_lab.train.curriculum import build_curriculum
    from rl_lab.train.rewards import RolloutBuffer, VerifierReward
    from rl_lab.train.runner import build_pool
    from rl_lab.train.trainer import CurriculumGRPOTrainer
    from rl_lab.train.trl_args import grpo_config_kwargs

    pool = build_pool(cfg)
    model, tokenizer = load_model_and_tokenizer(cfg.base_model_path)
    kwargs = grpo_config_kwargs(cfg, run_dir)
    kwargs["disable_tqdm"] = True
    args = GRPOConfig(**kwargs)
    if arm == "bare":
        trainer = GRPOTrainer(model=model, reward_funcs=[_bare_reward], args=args, train_dataset=pool,
                              processing_class=tokenizer)
    else:
        steps = cfg.train.steps
        curriculum = build_curriculum(cfg.curriculum, pool["difficulty"], steps)
        buffer = RolloutBuffer()
        reward = VerifierReward(curriculum=curriculum, buffer=buffer)
        run = RunDir(run_dir)
        callbacks = [
            FailAtStep(run, None),
            RunRecorder(run, steps, buffer, cfg.train.rollouts_per_step, cfg.seed),
            CheckpointCallback(run, steps, [], 0, curriculum, tokenizer),
        ]
        trainer = CurriculumGRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=pool,
                                        processing_class=tokenizer, callbacks=callbacks, curriculum=curriculum,
                                        verifier=reward)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start, trainer.state.global_step


def main(steps: int = 30, repeats: int = 5) -> dict[str, Any]:
    import torch

    from rl_lab.core.io import atomic_write_json
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    times: dict[str, list[float]] = {"bare": [], "rl_lab": []}
    with tempfile.TemporaryDirectory(prefix="rl_lab_bench_") as tmp:
        tmp = Path(tmp)
        tok = build_char_tokenizer()
        base = save_checkpoint(build_model("tiny", tok, seed=0), tok, tmp / "base")
        _one(_config(base, tmp / "warm", 1), "bare", tmp / "warm")  # imports, allocator, thread pools
        for r in range(repeats):
            for arm in ("bare", "rl_lab") if r % 2 == 0 else ("rl_lab", "bare"):
                out = tmp / f"{arm}_{r}"
                seconds, done = _one(_config(base, out, steps), arm, out / "train")
                assert done == steps
                times[arm].append(seconds)
                print(f"  {arm:>6} repeat {r}: {seconds:.2f} s ({steps / seconds:.2f} steps/s)", flush=True)
    ratios = [a / b for a, b in zip(times["rl_lab"], times["bare"], strict=True)]
    result = {
        "steps": steps, "repeats": repeats, "model": "tiny preset (random init)",
        "batch_size": 32, "num_generations": 8, "max_completion_length": 16, "torch_threads": torch.get_num_threads(),
        "seconds": times,
        "steps_per_second": {arm: steps / statistics.median(v) for arm, v in times.items()},
        "ratios": ratios,
        "median_ratio": statistics.median(ratios),
        "goal": "median_ratio <= 1.10",
        "meets_goal": statistics.median(ratios) <= 1.10,
    }
    atomic_write_json(RESULTS, result)
    print(f"train overhead: median ratio rl_lab/bare = {result['median_ratio']:.3f} (goal <= 1.10); "
          f"steps/s bare {result['steps_per_second']['bare']:.2f}, rl_lab {result['steps_per_second']['rl_lab']:.2f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    a = parser.parse_args()
    main(a.steps, a.repeats)
