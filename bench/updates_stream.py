"""Streaming update analysis on a multi-GB synthetic checkpoint pair: peak memory and throughput.

Writes a base and a tuned checkpoint shaped like Gemma-2B (bf16, vocab 256000, hidden 2048,
18 layers, MLP 16384, one KV head of 256: ~2.5 B parameters, ~5 GB each, sharded per layer)
into a temp dir on /tmp, then times, each in its own subprocess so its peak RSS (VmHWM from
/proc) is its own:

* ``read_pread``, the baseline: ``safe_open(..., backend="pread")`` + ``get_tensor`` of every
  tensor of both checkpoints. safetensors >= 0.7 returns lazy mmap views by default, which read
  nothing until touched; ``read_mmap`` (not run by default) touches them by copying;
* ``analyze``: ``analyze_updates`` without rank, default settings (one thread for the stream);
* ``analyze_torch_threads``: the same with torch's default thread count (``--threads 0``).

Page cache: one plain read warms it (not counted), then the modes alternate ``repeats`` times
and the best of each is reported, so all read from memory. On a cold cache all are disk-bound.
Goals: analysis peak RSS <= 2 x largest tensor + 500 MB; throughput >= 0.5 x plain reading.

    python -m bench updates_stream          # via the runner
    python -m bench.updates_stream --layers 4 --keep-dir   # smaller / keep the files
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "updates_stream.json"
GEMMA_2B = dict(vocab=256000, hidden=2048, layers=18, mlp=16384, q_out=2048, kv_out=256)


def _shapes(cfg: dict[str, int]) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Tensor names and shapes grouped by shard: the embedding alone, then one shard per layer."""
    h, m = cfg["hidden"], cfg["mlp"]
    shards = [[("model.embed_tokens.weight", (cfg["vocab"], h)), ("model.norm.weight", (h,))]]
    for li in range(cfg["layers"]):
        p = f"model.layers.{li}."
        shards.append([
            (p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,)),
            (p + "self_attn.q_proj.weight", (cfg["q_out"], h)), (p + "self_attn.k_proj.weight", (cfg["kv_out"], h)),
            (p + "self_attn.v_proj.weight", (cfg["kv_out"], h)), (p + "self_attn.o_proj.weight", (h, cfg["q_out"])),
            (p + "mlp.gate_proj.weight", (m, h)), (p + "mlp.up_proj.weight", (m, h)), (p + "mlp.down_proj.weight", (h, m)),
        ])
    return shards


def generate(out: Path, cfg: dict[str, int], density: float, seed: int = 0) -> dict[str, Any]:
    """Base and tuned checkpoints, one shard at a time (memory: one shard of each, never the model).

    Weights are tiled from a 4M-value random pool at random offsets (drawing 2.5 B normals
    would take minutes on 2 cores and the analysis speed does not depend on the values);
    the tuned side adds a tiled sparse update of +-2e-4 at a ``density`` share of positions.
    """
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    pool_n = 1 << 22
    pool = (torch.randn(pool_n, generator=gen) * 0.02).to(torch.bfloat16)
    moves = torch.where(torch.rand(pool_n, generator=gen) < density,
                        torch.where(torch.rand(pool_n, generator=gen) < 0.5, -2e-4, 2e-4), 0.0).to(torch.bfloat16)

    def tiled(src: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        n = math.prod(shape)
        offset = int(torch.randint(0, pool_n, (1,), generator=gen))
        return src.repeat(-(-(n + offset) // pool_n))[offset:offset + n].reshape(shape)

    shards = _shapes(cfg)
    n = len(shards)
    maps: dict[str, dict[str, str]] = {"base": {}, "tuned": {}}
    largest = params = 0
    for k, shard in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{n:05d}.safetensors"
        base, tuned = {}, {}
        for name, shape in shard:
            b = torch.ones(shape, dtype=torch.bfloat16) if len(shape) == 1 else tiled(pool, shape)
            base[name], tuned[name] = b, b + tiled(moves, shape)
            largest = max(largest, b.numel() * b.element_size())
            params += b.numel()
        for side, tensors in (("base", base), ("tuned", tuned)):
            (out / side).mkdir(parents=True, exist_ok=True)
            save_file(tensors, str(out / side / fname))
            maps[side].update(dict.fromkeys(tensors, fname))
        del base, tuned
    for side in ("base", "tuned"):
        (out / side / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": maps[side]}))
        (out / side / "config.json").write_text(json.dumps({"model_type": "gemma", "tie_word_embeddings": True}))
    size = sum(f.stat().st_size for f in (out / "base").glob("*.safetensors"))
    return {"parameters": params, "checkpoint_bytes": size, "largest_tensor_bytes": largest, "shards": n}


# --------------------------------------------------------------------------- children
def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(mode: str, base: str, tuned: str) -> None:
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if mode.startswith("read"):
        from safetensors import safe_open

        # mmap views are lazy: "read_mmap" touches every byte by copying (what get_tensor did
        # before safetensors 0.7); "read_pread" reads owned bytes with pread(2).
        backend = "pread" if mode == "read_pread" else "mmap"
        start = time.perf_counter()
        nbytes = 0
        for ckpt in (base, tuned):
            for f in sorted(Path(ckpt).glob("*.safetensors")):
                with safe_open(str(f), framework="pt", backend=backend) as handle:
                    for key in handle.offset_keys():
                        t = handle.get_tensor(key)
                        if backend == "mmap":
                            t = t.clone()
                        nbytes += t.numel() * t.element_size()
                        del t
        seconds = time.perf_counter() - start
        extra: dict[str, Any] = {}
    else:
        from rl_lab.analysis.checkpoint_io import resolve_base, resolve_tuned
        from rl_lab.analysis.settings import UpdatesSettings
        from rl_lab.analysis.updates import analyze_updates

        settings = UpdatesSettings(rank=False, threads=0 if mode == "analyze_torch_threads" else 1)
        start = time.perf_counter()
        result = analyze_updates(resolve_base(base), resolve_tuned([tuned]), settings, progress=False)
        seconds = time.perf_counter() - start
        nbytes = 2 * sum(t["parameters"] for t in result["tensors"]) * 2  # bf16 on both sides
        extra = {"share_exact": result["tuned"][0]["share"]["exact"], "share_paper": result["tuned"][0]["share"]["paper"]}
    print(json.dumps({"mode": mode, "seconds": seconds, "bytes": nbytes, "peak_rss_bytes": _peak_rss_bytes(), **extra}))


def _measure(mode: str, base: Path, tuned: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-c", "import sys; from bench.updates_stream import _child; _child(*sys.argv[1:])",
           mode, str(base), str(tuned)]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"bench child {mode} failed:\n{proc.stderr[-3000:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["gb_per_s"] = row["bytes"] / row["seconds"] / 1e9
    return row


def main(layers: int = GEMMA_2B["layers"], density: float = 0.2, repeats: int = 2, keep_dir: bool = False) -> dict:
    from rl_lab.core.io import atomic_write_json

    cfg = dict(GEMMA_2B, layers=layers)
    modes = ("analyze", "analyze_torch_threads", "read_pread")
    tmp = Path(tempfile.mkdtemp(prefix="rl_lab_bench_updates_", dir="/tmp"))
    try:
        t0 = time.perf_counter()
        info = generate(tmp, cfg, density)
        gen_s = time.perf_counter() - t0
        print(f"generated 2 x {info['checkpoint_bytes'] / 1e9:.2f} GB in {gen_s:.0f} s ({info['shards']} shards each)",
              flush=True)
        _measure("read_pread", tmp / "base", tmp / "tuned")  # warm the page cache, not counted
        runs: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
        for _ in range(repeats):
            for mode in modes:
                row = _measure(mode, tmp / "base", tmp / "tuned")
                runs[mode].append(row)
                print(f"  {mode:15s} {row['seconds']:6.1f} s  {row['gb_per_s']:.2f} GB/s  "
                      f"peak RSS {row['peak_rss_bytes'] / 1e6:.0f} MB", flush=True)
    finally:
        if keep_dir:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    best = {mode: max(r["gb_per_s"] for r in rows) for mode, rows in runs.items()}
    plain = best["read_pread"]
    rss_goal = 2 * info["largest_tensor_bytes"] + 500e6
    analyze_rss = max(r["peak_rss_bytes"] for m in ("analyze", "analyze_torch_threads") for r in runs[m])
    analyze_best = best["analyze"]
    ratio = analyze_best / plain
    result = {
        "name": "updates_stream",
        "model": {**cfg, "dtype": "bfloat16", **info},
        "density_planted": density,
        "share_updated_exact": runs["analyze"][0]["share_exact"],
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": os.getloadavg()[0],
        "generate_seconds": gen_s,
        "runs": runs,
        "best_gb_per_s": best,
        "plain_read_gb_per_s": plain,
        "analyze_gb_per_s": analyze_best,
        "throughput_ratio": ratio,
        "throughput_ratio_torch_threads": best["analyze_torch_threads"] / plain,
        "analyze_peak_rss_bytes": analyze_rss,
        "peak_rss_goal_bytes": rss_goal,
        "goals": {"peak_rss": analyze_rss <= rss_goal, "throughput_ratio_ge_0.5": ratio >= 0.5},
        "page_cache": "warm: one unmeasured plain read first, then the modes alternate; best of each reported",
    }
    print(f"updates_stream: analysis {analyze_best:.2f} GB/s vs plain read {plain:.2f} GB/s "
          f"(ratio {ratio:.2f}, goal >= 0.5); analysis peak RSS {analyze_rss / 1e6:.0f} MB "
          f"(goal <= {rss_goal / 1e6:.0f} MB); load average {result['load_average_1m_at_end']:.1f} on "
          f"{os.cpu_count()} CPUs")
    atomic_write_json(RESULTS, result)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=GEMMA_2B["layers"])
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep-dir", action="store_true")
    a = parser.parse_args()
    main(a.layers, a.density, a.repeats, a.keep_dir)
