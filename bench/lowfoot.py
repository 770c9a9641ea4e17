"""Low-footprint arms beside full GRPO, on one base, seed and step count: what each trains and changes.

Arms: full GRPO, LoRA-GRPO at r=4 and r=16 (``train.peft``), SFT (``train.method=sft``, full weights,
worked solutions). Per arm:

* ``trained_parameters``: parameters with ``requires_grad`` in the model the trainer optimises (for LoRA:
  the PEFT-wrapped model, adapters only);
* ``changed_share``: share of the model's parameters whose value differs between step 0 and the last step,
  from the update analysis (``analysis.updates``; criteria ``exact`` and ``tol`` = |delta| > 1e-5);
* ``seconds_per_step``: ``trainer.train()`` wall time / steps (the run's own ``train_seconds``), and
  ``step_time_ratio``: that over the full-GRPO arm's, measured in the same process; for the GRPO arms
  also ``median_step_time`` (TRL's ``step_time`` metric) and its ratio. GRPO steps include generation,
  whose cost follows the completion lengths each arm's policy produces (``mean_length``); on a shared
  machine one run per arm is noisy: read the ratios with the load in mind.

    python -m bench lowfoot                                    # base: runs/quickstart/base/model
    python -m bench.lowfoot --base PATH --steps 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "lowfoot.json"
ARMS: dict[str, dict[str, Any]] = {
    "full": {},
    "lora_r4": {"peft": {"method": "lora", "r": 4, "alpha": 8}},
    "lora_r16": {"peft": {"method": "lora", "r": 16, "alpha": 32}},
    "sft": {"method": "sft"},
}


def _config(base: Path, out: Path, steps: int, seed: int, train: dict[str, Any]):
    from rl_lab.config import load_config

    overrides = [f"output_dir={out}", f"train.base_model={base}", f"train.steps={steps}", f"seed={seed}",
                 "train.save_every=0", "train.rollouts_per_step=0"]
    raw_train = {f"train.{k}={_yaml(v)}" for k, v in train.items()}
    return load_config(ROOT / "configs" / "quickstart.yaml", overrides + sorted(raw_train))


def _yaml(value: Any) -> str:
    import json

    return json.dumps(value) if isinstance(value, dict) else str(value)


def trained_parameters(base: Path, cfg) -> tuple[int, int]:
    """(trainable, total) parameters of the model the trainer optimises."""
    from rl_lab.core.models import count_parameters, load_model
    from rl_lab.train import lora

    model = load_model(base)
    total = count_parameters(model)
    if cfg.train.peft is None:
        return total, total
    from peft import get_peft_model

    return lora.trainable_parameters(get_peft_model(model, lora.lora_config(cfg.train.peft))), total


def main(base: str | None = None, steps: int = 20, seed: int = 0) -> dict[str, Any]:
    from rl_lab.analysis.settings import UpdatesSettings
    from rl_lab.analysis.updates_run import run_updates
    from rl_lab.core.io import atomic_write_json
    from rl_lab.core.rundir import RunDir
    from rl_lab.train import run_training

    base_path = Path(base) if base else ROOT / "runs" / "quickstart" / "base" / "model"
    arms: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="rl_lab_lowfoot_") as tmp:
        for name, train in ARMS.items():
            cfg = _config(base_path, Path(tmp) / name, steps, seed, train)
            final = run_training(cfg)
            run = RunDir(cfg.train_dir)
            upd = run_updates(run.checkpoint_dir(0), [run.checkpoint_dir(steps)], UpdatesSettings(rank=True),
                              progress=False).result["tuned"][0]
            trainable, total = trained_parameters(base_path, cfg)
            rows = run.metrics()
            arms[name] = {
                "train": train, "trained_parameters": trainable, "parameters": total,
                "trained_share": trainable / total,
                "changed_share": {c: upd["share"][c] for c in ("exact", "tol")},
                "mean_rank_share": upd["rank"]["mean_share"] if upd.get("rank") else None,
                "seconds_per_step": final["train_seconds"] / steps,
                # TRL's own per-step wall time (GRPO only): no checkpoint writes, median against load spikes
                "median_step_time": (statistics.median(r["step_time"] for r in rows if "step_time" in r)
                                     if any("step_time" in r for r in rows) else None),
                "mean_length": (sum(r.get("completions/mean_length", 0.0) for r in rows) / len(rows)
                                if cfg.train.method == "grpo" else None),
                "last_reward": final.get("reward"), "last_loss": final.get("loss"),
            }
            print(f"  {name:>8}: trained {trainable:,} / {total:,}, changed (exact) "
                  f"{arms[name]['changed_share']['exact']:.4f}, {arms[name]['seconds_per_step']:.3f} s/step",
                  flush=True)
    full, full_median = arms["full"]["seconds_per_step"], arms["full"]["median_step_time"]
    for values in arms.values():
        values["step_time_ratio"] = values["seconds_per_step"] / full
        median = values["median_step_time"]
        values["median_step_time_ratio"] = median / full_median if median is not None and full_median else None
    result = {"base": str(base_path), "steps": steps, "seed": seed, "config": "configs/quickstart.yaml train.*",
              "arms": arms}
    atomic_write_json(RESULTS, result)
    print("arm       trained     changed(exact)  changed(tol)  step-time ratio vs full (mean, median)")
    for name, v in arms.items():
        med = v["median_step_time_ratio"]
        print(f"{name:<9} {v['trained_share']:>8.4f}   {v['changed_share']['exact']:>10.4f}   "
              f"{v['changed_share']['tol']:>10.4f}   {v['step_time_ratio']:>6.2f}  "
              f"{'-' if med is None else f'{med:.2f}'}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default=None, help="base checkpoint (default runs/quickstart/base/model)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.base, a.steps, a.seed)
