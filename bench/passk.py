"""Throughput of pass@k sampling: batched ``sample_completions`` vs one prompt at a time.

Same model, same prompts, same sampling settings (temperature 0.6, top-p 0.95, the
quickstart's max completion length), measured in the same process:

* batched: what ``rl-lab eval passk`` does on CPU: n = 256 samples per prompt, every prompt
  repeated n times inside left-padded batches of ``batch_size`` sequences, KV cache on
  (``generate``'s default), at two batch sizes;
* baseline: a plain loop calling ``model.generate`` once per sample with a batch of one.

The baseline is timed on a subset of the samples (it is slow) and reported as samples/s.
Model: ``runs/quickstart/base/model`` if it exists (the quickstart base), else a random
``tiny`` preset model (a random model rarely stops early, so it is the slower case).  Goal:
batched >= 10x the baseline.

    python -m bench passk
    python -m bench.passk
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "passk.json"
QUICKSTART_MODEL = ROOT / "runs" / "quickstart" / "base" / "model"


def _model():
    from rl_lab.core.models import build_model, load_model_and_tokenizer
    from rl_lab.core.tokenizer import build_char_tokenizer

    if (QUICKSTART_MODEL / "config.json").is_file():
        model, tok = load_model_and_tokenizer(QUICKSTART_MODEL)
        return model.eval(), tok, str(QUICKSTART_MODEL)
    tok = build_char_tokenizer()
    return build_model("tiny", tok, seed=0).eval(), tok, "random tiny preset"


def _prompts(count: int) -> list[str]:
    from rl_lab.environments.problem_sets import build_problem_set

    specs = [{"name": "addition", "role": "trained", "levels": [1, 2, 3, 4]}]
    return list(build_problem_set(specs, max(1, count // 4), seed=40_000)["prompt"])[:count]


def _baseline(model, tok, prompts: list[str], samples: int, temperature: float, top_p: float, max_new: int) -> dict:
    """One sample per ``generate`` call, batch of one (no padding, KV cache on)."""
    import torch

    torch.manual_seed(0)
    tokens = 0
    start = time.perf_counter()
    for i in range(samples):
        enc = tok(prompts[i % len(prompts)], return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=True, temperature=temperature,
                                 top_p=top_p, top_k=0, pad_token_id=tok.pad_token_id)
        tokens += out.shape[1] - enc["input_ids"].shape[1]
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": seconds, "samples_per_s": samples / seconds, "tokens": tokens}


def _batched(model, tok, prompts: list[str], n: int, batch_size: int, temperature: float, top_p: float,
             max_new: int) -> dict:
    from rl_lab.core.generation import sample_completions

    start = time.perf_counter()
    outs = sample_completions(model, tok, prompts, n=n, temperature=temperature, top_p=top_p,
                              max_new_tokens=max_new, batch_size=batch_size, seed=0)
    seconds = time.perf_counter() - start
    total = sum(len(o) for o in outs)
    return {"batch_size": batch_size, "samples": total, "seconds": seconds, "samples_per_s": total / seconds,
            "mean_completion_chars": sum(len(c) for o in outs for c in o) / total}


def main(n: int = 256, prompts: int = 4, batch_sizes: tuple[int, ...] = (256, 1024),
         baseline_samples: int = 32, temperature: float = 0.6, top_p: float = 0.95, max_new: int = 48) -> dict[str, Any]:
    import torch

    from rl_lab.core.io import atomic_write_json

    model, tok, source = _model()
    prompt_list = _prompts(prompts)
    _batched(model, tok, prompt_list[:1], 8, 8, temperature, top_p, max_new)  # warm-up
    batched = [_batched(model, tok, prompt_list, n, b, temperature, top_p, max_new) for b in batch_sizes]
    base = _baseline(model, tok, prompt_list, baseline_samples, temperature, top_p, max_new)
    best = max(batched, key=lambda r: r["samples_per_s"])
    result = {
        "model": source, "torch_threads": torch.get_num_threads(), "n": n, "prompts": len(prompt_list),
        "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new,
        "batched": batched, "baseline_one_at_a_time": base,
        "best_batch_size": best["batch_size"],
        "speedup": best["samples_per_s"] / base["samples_per_s"],
        "goal_speedup": 10.0,
    }
    result["meets_goal"] = result["speedup"] >= result["goal_speedup"]
    for r in batched:
        print(f"batched (batch {r['batch_size']:>4}): {r['samples']} samples in {r['seconds']:.1f} s = "
              f"{r['samples_per_s']:.0f} samples/s")
    print(f"one at a time: {base['samples']} samples in {base['seconds']:.1f} s = {base['samples_per_s']:.1f} samples/s")
    print(f"speedup {result['speedup']:.1f}x (goal >= 10x) with batch {best['batch_size']}; model {source}")
    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
