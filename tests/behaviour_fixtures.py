"""Synthetic run and sweep dirs for the behaviour-analysis tests (written as the contract says)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from rl_lab.core.io import atomic_write_json, atomic_write_jsonl, atomic_write_yaml
from rl_lab.environments.formats import render
from rl_lab.environments.registry import get_family

FORMAT_ORDER = ("terse", "steps", "tagged", "other")


def rollout_rows(step: int, counts: dict[str, int], level: int = 2, seed: int = 0,
                 family: str = "addition", label: bool = True) -> list[dict[str, Any]]:
    """Rollout rows with exactly ``counts[fmt]`` completions in each format (correct answers)."""
    fam = get_family(family)
    rng = random.Random(f"{seed}-{step}-{level}")
    rows = []
    for fmt, count in counts.items():
        for _ in range(count):
            p = fam.generate(level, rng)
            completion = "??? " + p.answer if fmt == "other" else render(fmt, p.answer, p.work)
            row = {"step": step, "prompt": p.prompt, "completion": completion, "reward": 1.0,
                   "difficulty": level, "family": family, "role": "trained", "answer": p.answer}
            if label:
                row["format"] = fmt
            rows.append(row)
    return rows


def config_dict(out: Path, **sections: Any) -> dict[str, Any]:
    cfg = {
        "name": "synthetic", "seed": 0, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "role": "trained", "levels": [1, 2, 3]}]},
        "train": {"steps": 4, "batch_size": 4, "num_generations": 2, "max_completion_length": 8},
        "eval": {"max_new_tokens": 8, "batch_size": 64},
        "analysis": {"probe_problems_per_level": 3, "drift_prompts": 3, "drift_samples_per_prompt": 2,
                     "passk_n": 4, "passk_problems_per_level": 2},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_run(run_dir: Path, rollouts: dict[int, list[dict[str, Any]]], config: dict[str, Any] | None = None,
              metrics: list[dict[str, Any]] | None = None) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_yaml(run_dir / "config.yaml", config or config_dict(run_dir))
    for step, rows in rollouts.items():
        atomic_write_jsonl(run_dir / "rollouts" / f"step_{step}.jsonl", rows)
    atomic_write_jsonl(run_dir / "metrics.jsonl", metrics or [{"step": s, "reward": 0.5} for s in rollouts])
    return run_dir


def write_checkpoints(run_dir: Path, steps: tuple[int, ...] = (0, 4)) -> None:
    """Tiny random models (a different init per step) as HF checkpoints."""
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    for i, step in enumerate(steps):
        model = build_model("tiny", tok, seed=i)
        save_checkpoint(model, tok, run_dir / "checkpoints" / f"step_{step}")


def tiny_trained_run(run: Path) -> Path:
    """A run dir with random tiny checkpoints at steps 0 and 4 on addition levels 1-2, greedy eval of
    4 problems per level: what the forcing and steering runners need."""
    cfg = config_dict(run, environments={"families": [{"name": "addition", "role": "trained", "levels": [1, 2]}]},
                      eval={"problems_per_level": 4, "max_new_tokens": 6, "batch_size": 64, "temperature": 0.0})
    write_run(run, {}, cfg, metrics=[{"step": 4, "reward": 0.0}])
    write_checkpoints(run, (0, 4))
    return run


def write_sweep(sweep_dir: Path, trials: list[tuple[dict[str, Any], Path]]) -> Path:
    atomic_write_json(sweep_dir / "sweep_summary.json", {
        "sweep_dir": str(sweep_dir),
        "trials": [{"trial_id": f"t{i}", "name": run.name, "config_point": point, "status": "done", "attempts": 1,
                    "final_reward": None, "final_accuracy": {}, "run_dir": str(run)}
                   for i, (point, run) in enumerate(trials)],
    })
    return sweep_dir


@pytest.fixture(autouse=True, scope="module")
def single_thread():
    """One torch thread: tiny models gain nothing from two, and on a loaded 2-core machine
    OpenMP threads spin against each other (measured 20x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
