"""Cost of proxy-tuned sampling against its models sampled alone, in the same run.

Proxy-tuning (``rl_lab.core.proxy``) runs three models per decoding step (base, tuned, untuned),
so its cost should be about the sum of their separate costs. Measured through the path every
command uses (``rl_lab.core.sampler.load_sampler(spec).sample``), same prompts and settings
(temperature 0.6, top-p 0.95, 48 new tokens, ``min_new_tokens`` set so no row stops early and
every run generates the same number of tokens), one torch thread, rounds interleaved (the
machine is shared; median and best of the rounds are reported):

* ``base``, ``tuned``, ``untuned``: each checkpoint sampled alone (a plain spec);
* ``proxy``: ``proxy:base=...,tuned=...,untuned=...``.

Two settings: three ``tiny`` models (equal sizes), and a ``small`` base steered by ``tiny``
experts (the intended use: a cheap tuned model steers a larger base). Reported: samples/s of
each, and ``ratio`` = proxy time / (base + tuned + untuned times); goal <= 1.2.

    python -m bench proxy
    python -m bench.proxy
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "proxy.json"
GOAL = 1.2


def _checkpoints(root: Path, base_preset: str) -> dict[str, Path]:
    import torch

    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    untuned = build_model("tiny", tok, seed=1)
    tuned = build_model("tiny", tok, seed=1)
    with torch.no_grad():  # "training": a small perturbation of every weight
        for p in tuned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    paths = {}
    for name, model in (("base", build_model(base_preset, tok, seed=0)), ("tuned", tuned), ("untuned", untuned)):
        paths[name] = save_checkpoint(model, tok, root / f"{base_preset}_{name}")
    return paths


def _prompts(count: int) -> list[str]:
    from rl_lab.environments.problem_sets import build_problem_set

    specs = [{"name": "addition", "role": "trained", "levels": [1, 2, 3, 4]}]
    return list(build_problem_set(specs, max(1, count // 4), seed=40_000)["prompt"])[:count]


def _time(sampler, prompts: list[str], n: int, max_new: int, batch_size: int) -> float:
    start = time.perf_counter()
    sampler.sample(prompts, n=n, temperature=0.6, top_p=0.95, max_new_tokens=max_new, batch_size=batch_size, seed=0)
    return time.perf_counter() - start


def measure(base_preset: str, prompts: list[str], n: int, max_new: int, batch_size: int, rounds: int) -> dict[str, Any]:
    from rl_lab.core.sampler import load_sampler

    with tempfile.TemporaryDirectory() as tmp:
        paths = _checkpoints(Path(tmp), base_preset)
        samplers = {name: load_sampler(path) for name, path in paths.items()}
        samplers["proxy"] = load_sampler(f"proxy:base={paths['base']},tuned={paths['tuned']},"
                                         f"untuned={paths['untuned']}")
        for s in samplers.values():  # warm-up
            _time(s, prompts[:2], 2, 4, batch_size)
        for s in samplers.values():  # same work for every run: nobody stops before max_new tokens
            for model in (s.model, s.tuned, s.untuned):
                if model is not None:
                    model.generation_config.min_new_tokens = max_new
        times: dict[str, list[float]] = {name: [] for name in samplers}
        for _ in range(rounds):
            for name, s in samplers.items():
                times[name].append(_time(s, prompts, n, max_new, batch_size))
    samples = len(prompts) * n
    runs = {name: {"median_s": statistics.median(t), "best_s": min(t), "samples_per_s": samples / statistics.median(t),
                   "rounds_s": t} for name, t in times.items()}
    separate = {k: sum(runs[m][k] for m in ("base", "tuned", "untuned")) for k in ("median_s", "best_s")}
    return {
        "base_preset": base_preset, "experts_preset": "tiny", "samples": samples, "runs": runs,
        "sum_of_separate_median_s": separate["median_s"],
        "ratio_median": runs["proxy"]["median_s"] / separate["median_s"],
        "ratio_best": runs["proxy"]["best_s"] / separate["best_s"],
        "proxy_vs_base_alone": runs["proxy"]["median_s"] / runs["base"]["median_s"],
    }


def main(prompts: int = 16, n: int = 4, max_new: int = 48, batch_size: int = 64, rounds: int = 5) -> dict[str, Any]:
    import torch

    from rl_lab.core.io import atomic_write_json

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread is the faster and steadier setting
    try:
        prompt_list = _prompts(prompts)
        settings = [measure(preset, prompt_list, n, max_new, batch_size, rounds) for preset in ("tiny", "small")]
    finally:
        torch.set_num_threads(threads)
    result = {"torch_threads": 1, "prompts": len(prompt_list), "n": n, "max_new_tokens": max_new,
              "batch_size": batch_size, "rounds": rounds, "goal_ratio": GOAL, "settings": settings}
    result["meets_goal"] = all(s["ratio_median"] <= GOAL for s in settings)
    for s in settings:
        r = s["runs"]
        print(f"{s['base_preset']} base + tiny experts, {s['samples']} samples x {max_new} tokens: "
              + ", ".join(f"{k} {v['samples_per_s']:.1f}/s" for k, v in r.items())
              + f"; proxy / (base + tuned + untuned) = {s['ratio_median']:.2f} (median), {s['ratio_best']:.2f} (best); "
              f"proxy / base alone = {s['proxy_vs_base_alone']:.2f}")
    print(f"goal: ratio <= {GOAL}: {'met' if result['meets_goal'] else 'NOT met'}")
    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    main()
