"""Known-answer tests for the update analysis: checkpoints written here with planted deltas."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rl_lab.analysis import update_stats as S
from rl_lab.analysis import updates as U
from rl_lab.analysis.checkpoint_io import open_checkpoint, resolve_base, resolve_tuned
from rl_lab.analysis.settings import UpdatesSettings as Settings
from rl_lab.analysis.updates import UpdateAnalysisError, analyze_updates
from rl_lab.core.errors import InputError

H, MLP, V = 16, 24, 20  # hidden, MLP width, vocabulary: two layers of a Qwen2-shaped model
BF16, F32 = torch.bfloat16, torch.float32


def model_shapes(tied: bool = False) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {"model.embed_tokens.weight": (V, H), "model.norm.weight": (H,)}
    for li in range(2):
        p = f"model.layers.{li}."
        shapes.update({
            p + "self_attn.q_proj.weight": (H, H), p + "self_attn.q_proj.bias": (H,),
            p + "self_attn.k_proj.weight": (H // 2, H), p + "self_attn.v_proj.weight": (H // 2, H),
            p + "self_attn.o_proj.weight": (H, H), p + "mlp.gate_proj.weight": (MLP, H),
            p + "mlp.up_proj.weight": (MLP, H), p + "mlp.down_proj.weight": (H, MLP),
            p + "input_layernorm.weight": (H,), p + "post_attention_layernorm.weight": (H,),
        })
    if not tied:
        shapes["lm_head.weight"] = (V, H)
    return shapes


def bf16_grid_values(shape, gen: torch.Generator, lo: float = 0.25, hi: float = 1.0) -> torch.Tensor:
    """float32 values that bf16 represents exactly, |x| in [lo, hi]: casts and +1 deltas stay exact."""
    mag = lo + (hi - lo) * torch.rand(shape, generator=gen)
    sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
    return (mag * sign).to(BF16).float()


def int_values(shape, gen: torch.Generator) -> torch.Tensor:
    return torch.randint(-16, 17, shape, generator=gen).float()


def base_model(gen: torch.Generator, tied: bool = False, ints: bool = False) -> dict[str, torch.Tensor]:
    make = int_values if ints else bf16_grid_values
    return {n: make(s, gen) for n, s in model_shapes(tied).items()}


def save_ckpt(path: Path, tensors: dict[str, torch.Tensor], dtype=BF16, tied: bool = False, shards: int = 1) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    tensors = {n: t.to(dtype).contiguous() if t.is_floating_point() and dtype is not None else t.contiguous()
               for n, t in tensors.items()}
    (path / "config.json").write_text(json.dumps({"model_type": "qwen2", "tie_word_embeddings": tied}))
    if shards == 1:
        save_file(tensors, str(path / "model.safetensors"))
        return path
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s::shards]}
        save_file(part, str(path / fname))
        weight_map.update(dict.fromkeys(part, fname))
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def plant(t: torch.Tensor, idx: torch.Tensor, delta: float) -> torch.Tensor:
    out = t.clone().reshape(-1)
    out[idx] += delta
    return out.reshape(t.shape)


def run(base: Path, tuned: list[Path], **kw) -> dict:
    settings = Settings(**kw)
    return analyze_updates(resolve_base(base), resolve_tuned(tuned), settings, progress=False)


def tensor_rec(result: dict, name: str) -> dict:
    return next(r for r in result["tensors"] if r["name"] == name)


# --------------------------------------------------------------------------- density, per dtype
@pytest.mark.parametrize("dtype", [BF16, F32])
def test_planted_density_is_recovered_exactly(tmp_path, dtype):
    gen = torch.Generator().manual_seed(1)
    base = base_model(gen)
    tuned = {}
    planted = {}  # name -> (big, tiny, mid) counts
    for k, (name, t) in enumerate(sorted(base.items())):
        n = t.numel()
        perm = torch.randperm(n, generator=gen)
        big = (k * 7) % (n // 3 + 1)  # a different density per tensor, some zero
        tiny = mid = 0
        out = plant(t, perm[:big], 1.0)
        if dtype is F32:
            # below bf16 resolution: exact sees them; bf16/paper do not; tol sees only the 1e-4 ones
            tiny, mid = n // 5, n // 7
            out = plant(out, perm[big:big + tiny], 1e-7)
            out = plant(out, perm[big + tiny:big + tiny + mid], 1e-4)
        tuned[name] = out
        planted[name] = (big, tiny, mid)
    # bf16 only: a tensor of tiny weights moved by one bf16 ulp (~1e-8): exact yes, tol/paper no
    ulp_name = "model.layers.1.self_attn.q_proj.bias"
    ulp_moves = 0
    edge_name = "model.layers.0.self_attn.q_proj.bias"
    if dtype is BF16:
        small = bf16_grid_values((H,), gen, 1e-6, 2e-6)
        base[ulp_name] = small
        bits = small.to(BF16).view(torch.int16).clone()
        bits[: H // 2] += 1
        tuned[ulp_name] = bits.view(BF16).float()
        ulp_moves = H // 2
        planted[ulp_name] = (0, 0, 0)
        # zeros moved by exactly the bf16 rounding of 1e-5 (isclose: unchanged; |d| > 1e-5: updated) or one ulp more
        thr = torch.tensor([1e-5]).to(BF16)
        above = (thr.view(torch.int16) + 1).view(BF16)
        base[edge_name] = torch.zeros(H)
        tuned[edge_name] = torch.cat([thr.float().repeat(3), above.float().repeat(2), torch.zeros(H - 5)])
        planted[edge_name] = (0, 0, 0)
    save_ckpt(tmp_path / "base", base, dtype)
    save_ckpt(tmp_path / "tuned", tuned, dtype)
    res = run(tmp_path / "base", [tmp_path / "tuned"])

    total = {c: 0 for c in S.CRITERIA}
    for name, (big, tiny, mid) in planted.items():
        rec = tensor_rec(res, name)["tuned"]["tuned"]
        extra = ulp_moves if name == ulp_name else 0
        want = {"exact": big + tiny + mid + extra, "tol": big + mid, "bf16": big + extra, "paper": big}
        if name == edge_name and dtype is BF16:
            want = {"exact": 5, "tol": 5, "bf16": 5, "paper": 2}
        assert rec["updated"] == want, name
        for c in S.CRITERIA:
            total[c] += want[c]
    n_params = sum(t.numel() for t in base.values())
    overall = res["tuned"][0]
    assert overall["parameters"] == n_params
    assert overall["updated"] == total
    assert overall["share"]["exact"] == total["exact"] / n_params
    dname = "bfloat16" if dtype is BF16 else "float32"
    assert overall["compared_in"] == {dname: n_params}
    assert overall["paper"]["unchanged_share"] == pytest.approx(1 - total["bf16"] / n_params)
    assert overall["paper"]["close_to_zero_share"] == pytest.approx(1 - total["paper"] / n_params)
    # per module and per layer are sums of their tensors
    for m, block in overall["by_module"].items():
        names = [n for n in planted if S.module_type(n) == m]
        assert block["parameters"] == sum(base[n].numel() for n in names)
        assert block["updated"]["exact"] == sum(tensor_rec(res, n)["tuned"]["tuned"]["updated"]["exact"] for n in names)
    layer0 = [n for n in planted if S.layer_index(n) == 0]
    shares = [tensor_rec(res, n)["tuned"]["tuned"]["share"]["bf16"] for n in layer0]
    assert overall["paper"]["layerwise_updated_share"]["0"]["bf16"] == pytest.approx(sum(shares) / len(shares))


def test_chunk_size_does_not_change_the_answer(tmp_path):
    gen = torch.Generator().manual_seed(2)
    base = base_model(gen)
    seeds = []
    for s in range(2):
        t = {n: plant(x, torch.randperm(x.numel(), generator=gen)[: x.numel() // (3 + s)], 1.0) for n, x in base.items()}
        seeds.append(save_ckpt(tmp_path / f"s{s}", t))
    save_ckpt(tmp_path / "base", base)
    whole = run(tmp_path / "base", seeds, chunk_elements=1 << 22)
    threads = torch.get_num_threads()
    tiny = run(tmp_path / "base", seeds, chunk_elements=7, threads=0)
    assert torch.get_num_threads() == threads  # restored
    for key in ("tuned", "pairs", "tensors"):
        assert_same(whole[key], tiny[key])


def assert_same(a, b, path="") -> None:
    """Counts identical; floats (sums of squares, dots) equal up to summation order."""
    assert type(a) is type(b), path
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-5), path
    else:
        assert a == b, path


# --------------------------------------------------------------------------- rank
@pytest.mark.parametrize("dtype", [BF16, F32])
@pytest.mark.parametrize("r", [1, 3])
def test_planted_rank_is_recovered(tmp_path, dtype, r):
    gen = torch.Generator().manual_seed(3 + r)
    base = base_model(gen, ints=True)
    name = "model.layers.0.mlp.down_proj.weight"
    m, n = base[name].shape
    # A = [I_r; A'] and B = [I_r | B'] make rank(A @ B) exactly r; small integers stay exact in bf16
    a = torch.cat([torch.eye(r), torch.randint(-1, 2, (m - r, r), generator=gen).float()])
    b = torch.cat([torch.eye(r), torch.randint(-1, 2, (r, n - r), generator=gen).float()], dim=1)
    delta = a @ b
    tuned = dict(base)
    tuned[name] = base[name] + delta
    save_ckpt(tmp_path / "base", base, dtype)
    save_ckpt(tmp_path / "tuned", tuned, dtype)
    res = run(tmp_path / "base", [tmp_path / "tuned"], rank=True)
    rank = tensor_rec(res, name)["tuned"]["tuned"]["rank"]
    assert rank["rank"] == r == int(torch.linalg.matrix_rank(delta))
    assert rank["full_rank"] == min(m, n)
    assert rank["share"] == r / min(m, n)
    assert rank["tol"] == pytest.approx(rank["sigma_max"] * max(m, n) * torch.finfo(F32).eps)
    # untouched matrices have rank 0; 1-D tensors and norms get no rank
    assert tensor_rec(res, "model.layers.1.mlp.down_proj.weight")["tuned"]["tuned"]["rank"]["rank"] == 0
    assert tensor_rec(res, "model.norm.weight")["tuned"]["tuned"]["rank"] is None
    assert tensor_rec(res, "model.layers.0.self_attn.q_proj.bias")["tuned"]["tuned"]["rank"] is None
    summary = res["tuned"][0]["rank"]
    matrices = [n for n, s in model_shapes().items() if len(s) == 2]
    assert summary["matrices"] == len(matrices)
    assert summary["mean_share"] == pytest.approx(r / min(m, n) / len(matrices))
    assert res["tuned"][0]["paper"]["mean_rank_share"] == summary["mean_share"]
    exact = tensor_rec(res, name)["tuned"]["tuned"]["updated"]["exact"]
    assert exact == int(torch.count_nonzero(delta))


def test_numerical_rank_matches_torch_matrix_rank():
    gen = torch.Generator().manual_seed(5)
    for m, n, r in [(30, 20, 4), (20, 30, 20), (25, 25, 0)]:
        x = torch.randn(m, r, generator=gen) @ torch.randn(r, n, generator=gen) if r else torch.zeros(m, n)
        x = x + 1e-9 * torch.randn(m, n, generator=gen)  # noise far below the tolerance
        assert S.numerical_rank(x)["rank"] == int(torch.linalg.matrix_rank(x))


# --------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("dtype", [BF16, F32])
def test_planted_seed_overlap(tmp_path, dtype):
    gen = torch.Generator().manual_seed(6)
    base = base_model(gen, ints=True)
    seeds: list[dict[str, torch.Tensor]] = [{}, {}, {}]
    tot = dict(n=0, a=0, b=0, c=0, e=0)
    for name, t in base.items():
        n = t.numel()
        a, b, c, e = n // 3, n // 4, n // 8, n // 10
        perm = torch.randperm(n, generator=gen)
        seeds[0][name] = plant(t, perm[:a], 1.0)
        seeds[1][name] = plant(t, perm[a - c:a - c + b], 1.0)  # |I1 ∩ I2| = c
        seeds[2][name] = plant(t, perm[a - c + b:a - c + b + e], 1.0)  # disjoint from both
        for key, val in zip("nabce", (n, a, b, c, e), strict=True):
            tot[key] += val
    paths = [save_ckpt(tmp_path / f"seed{s}", seeds[s], dtype) for s in range(3)]
    save_ckpt(tmp_path / "base", base, dtype)
    res = run(tmp_path / "base", paths)
    assert [(p["a"], p["b"]) for p in res["pairs"]] == [("seed0", "seed1"), ("seed0", "seed2"), ("seed1", "seed2")]
    n, a, b, c = tot["n"], tot["a"], tot["b"], tot["c"]
    p01 = res["pairs"][0]
    for crit in S.CRITERIA:
        s = p01["criteria"][crit]
        assert s["intersection"] == c
        assert s["iou"] == pytest.approx(c / (a + b - c))
        da, db = a / n, b / n
        assert s["iou_chance"] == pytest.approx(da * db / (da + db - da * db))
        assert s["iou_ratio"] == pytest.approx(s["iou"] / s["iou_chance"])
        assert s["o1"] == pytest.approx(c / a) and s["o1_chance"] == pytest.approx(db)
        assert s["o2"] == pytest.approx(c / b) and s["o2_chance"] == pytest.approx(da)
        assert s["o1_ratio"] == pytest.approx((c / a) / db)
    assert p01["cosine"] == pytest.approx(c / math.sqrt(a * b))
    for p in res["pairs"][1:]:
        assert p["criteria"]["exact"]["intersection"] == 0 and p["criteria"]["exact"]["iou_ratio"] == 0
        assert p["cosine"] == pytest.approx(0.0)
    # per tensor too
    name = "model.layers.0.mlp.up_proj.weight"
    tn = base[name].numel()
    ta, tb, tc = tn // 3, tn // 4, tn // 8
    rec = tensor_rec(res, name)["pairs"][0]
    assert rec["iou"]["exact"] == pytest.approx(tc / (ta + tb - tc))
    assert rec["cosine"] == pytest.approx(tc / math.sqrt(ta * tb))


def test_chance_iou_matches_independent_random_sets():
    gen = torch.Generator().manual_seed(7)
    n = 400_000
    for da, db in [(0.1, 0.3), (0.6, 0.5)]:
        x, y = torch.rand(n, generator=gen) < da, torch.rand(n, generator=gen) < db
        a, b, inter = int(x.sum()), int(y.sum()), int((x & y).sum())
        s = S.overlap_stats(n, a, b, inter)
        assert s["iou_ratio"] == pytest.approx(1.0, abs=0.02)
        assert s["o1_ratio"] == pytest.approx(1.0, abs=0.02) and s["o2_ratio"] == pytest.approx(1.0, abs=0.02)


def test_paper_bound_agrees_with_torch_isclose_in_bf16():
    bound = S.paper_close_bound(1e-5)
    thr = (torch.zeros(1, dtype=BF16) + 1e-5).float().item()
    gen = torch.Generator().manual_seed(8)
    x = thr * (0.98 + 0.04 * torch.rand(200_000, generator=gen))  # dense around the bf16 threshold
    x = torch.cat([x, -x, torch.tensor([bound, -bound, float(torch.nextafter(torch.tensor(bound), torch.tensor(1.0))),
                                        0.0, float("nan"), float("inf")])])
    ref = torch.isclose(x.to(BF16), torch.zeros(1, dtype=BF16), atol=1e-5)
    assert torch.equal(x.abs() <= bound, ref)


# --------------------------------------------------------------------------- input kinds
def test_sharded_and_file_inputs_give_the_same_answer(tmp_path):
    gen = torch.Generator().manual_seed(9)
    base = base_model(gen)
    tuned = {n: plant(x, torch.randperm(x.numel(), generator=gen)[: x.numel() // 4], 1.0) for n, x in base.items()}
    save_ckpt(tmp_path / "base_sharded", base, shards=3)
    save_ckpt(tmp_path / "base_single", base)
    save_ckpt(tmp_path / "tuned", tuned)
    assert len(open_checkpoint(tmp_path / "base_sharded").files) == 3
    a = run(tmp_path / "base_sharded", [tmp_path / "tuned"])
    b = run(tmp_path / "base_single" / "model.safetensors", [tmp_path / "tuned" / "model.safetensors"])
    assert a["tuned"][0]["updated"] == b["tuned"][0]["updated"]
    assert a["tuned"][0]["updated"]["exact"] == sum(x.numel() // 4 for x in base.values())
    assert b["inputs"]["base"]["kind"] == "file"


def test_run_directory_expands_to_its_steps(tmp_path):
    gen = torch.Generator().manual_seed(10)
    base = base_model(gen)
    run_dir = tmp_path / "runs" / "r1"
    save_ckpt(run_dir / "checkpoints" / "step_0", base)
    expected = {}
    for step, frac in [(3, 5), (6, 3)]:
        t = {n: plant(x, torch.randperm(x.numel(), generator=gen)[: x.numel() // frac], 1.0) for n, x in base.items()}
        save_ckpt(run_dir / "checkpoints" / f"step_{step}", t)
        expected[f"r1/step_{step}"] = sum(x.numel() // frac for x in base.values())
    res = run(run_dir, [run_dir])
    assert res["inputs"]["base"]["label"] == "r1/step_0"
    assert {t["label"]: t["updated"]["exact"] for t in res["tuned"]} == expected
    assert len(res["pairs"]) == 1
    explicit = resolve_tuned([run_dir / "checkpoints" / "step_3"])[0]
    assert (explicit.label, explicit.kind) == ("r1/step_3", "run_step")
    with pytest.raises(InputError, match="no checkpoints/step_0"):
        (run_dir / "checkpoints" / "step_0").rename(run_dir / "checkpoints" / "gone")
        resolve_base(run_dir)


def test_pickle_only_directory_is_refused_without_unpickling(tmp_path):
    d = tmp_path / "pickled"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "pytorch_model.bin").write_bytes(b"not even a pickle")  # would fail loudly if anything unpickled it
    with pytest.raises(InputError, match="pickled weights .*pytorch_model.bin.*safetensors"):
        open_checkpoint(d)
    with pytest.raises(InputError, match="never unpickles"):
        open_checkpoint(d / "pytorch_model.bin")


# --------------------------------------------------------------------------- edge cases
def test_tied_embeddings_are_counted_once(tmp_path):
    gen = torch.Generator().manual_seed(11)
    base = base_model(gen, tied=True)
    embed = "model.embed_tokens.weight"
    k = base[embed].numel() // 3
    tuned = dict(base)
    tuned[embed] = plant(base[embed], torch.arange(k), 1.0)
    save_ckpt(tmp_path / "base", base, tied=True)
    save_ckpt(tmp_path / "tuned", tuned, tied=True)
    res = run(tmp_path / "base", [tmp_path / "tuned"])
    assert res["tuned"][0]["parameters"] == sum(x.numel() for x in base.values())
    assert [t["name"] for t in res["tied"]] == ["lm_head.weight"]
    assert res["tied"][0]["tied_to"] == embed
    assert "lm_head.weight" not in {r["name"] for r in res["tensors"]}
    assert res["tuned"][0]["updated"]["exact"] == k

    # an untied tuned model (its own lm_head) is compared against the base's tied embedding
    untied = dict(tuned)
    untied["lm_head.weight"] = plant(base[embed], torch.arange(k // 2), 1.0)
    save_ckpt(tmp_path / "untied", untied, tied=False)
    res = run(tmp_path / "base", [tmp_path / "untied"])
    rec = tensor_rec(res, "lm_head.weight")
    assert rec["tied_to"] == embed and rec["tuned"]["untied"]["updated"]["exact"] == k // 2
    assert res["tied"][0]["tied_in"] == ["base"]


def test_one_side_only_tensor_is_skipped_and_listed(tmp_path):
    gen = torch.Generator().manual_seed(12)
    base = base_model(gen)
    tuned = dict(base, **{"model.extra.weight": torch.ones(3, 3)})
    save_ckpt(tmp_path / "base", base)
    save_ckpt(tmp_path / "tuned", tuned)
    res = run(tmp_path / "base", [tmp_path / "tuned"])
    assert res["skipped"] == [{"name": "model.extra.weight", "reason": "missing",
                               "present_in": ["tuned"], "missing_from": ["base"]}]
    assert res["tuned"][0]["parameters"] == sum(x.numel() for x in base.values())
    with pytest.raises(UpdateAnalysisError, match="model.extra.weight: missing from"):
        run(tmp_path / "base", [tmp_path / "tuned"], strict=True)


def test_shape_mismatches_are_all_listed_before_any_computation(tmp_path, monkeypatch):
    gen = torch.Generator().manual_seed(13)
    base = base_model(gen)
    tuned = dict(base)
    bad = ["model.embed_tokens.weight", "model.layers.1.mlp.up_proj.weight"]
    for name in bad:
        tuned[name] = torch.zeros(base[name].shape[0] + 1, base[name].shape[1])
    save_ckpt(tmp_path / "base", base)
    save_ckpt(tmp_path / "tuned", tuned)

    def must_not_run(*a, **k):
        raise AssertionError("computation started before the mismatch error")

    with monkeypatch.context() as mp:
        mp.setattr(U, "chunk_counts", must_not_run)
        with pytest.raises(UpdateAnalysisError) as err:
            run(tmp_path / "base", [tmp_path / "tuned"])
    assert all(name in str(err.value) for name in bad) and "2 tensor(s)" in str(err.value)
    res = run(tmp_path / "base", [tmp_path / "tuned"], skip_mismatched=True)
    assert sorted(s["name"] for s in res["skipped"]) == bad


def test_dtype_mismatch_is_compared_in_float32_and_reported(tmp_path):
    gen = torch.Generator().manual_seed(14)
    base = base_model(gen)
    name = "model.layers.0.self_attn.o_proj.weight"
    save_ckpt(tmp_path / "base", base, BF16)
    tuned = {n: x.to(BF16) for n, x in base.items()}
    tuned[name] = plant(base[name], torch.arange(5), 1e-6).float()  # fp32 side: a move bf16 could not hold
    save_ckpt(tmp_path / "tuned", tuned, dtype=None)
    res = run(tmp_path / "base", [tmp_path / "tuned"])
    assert res["dtype_mismatches"] == [{"name": name, "dtypes": {"base": "bfloat16", "tuned": "float32"},
                                        "compared_in": "float32"}]
    rec = tensor_rec(res, name)
    assert rec["compared_in"] == "float32"
    assert rec["tuned"]["tuned"]["updated"] == {"exact": 5, "tol": 0, "bf16": 0, "paper": 0}
    with pytest.raises(UpdateAnalysisError, match="dtype mismatch"):
        run(tmp_path / "base", [tmp_path / "tuned"], strict=True)


def test_cuda_request_without_cuda_is_a_clear_error(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    gen = torch.Generator().manual_seed(15)
    base = base_model(gen)
    save_ckpt(tmp_path / "base", base)
    with pytest.raises(UpdateAnalysisError, match="CUDA is not available"):
        run(tmp_path / "base", [tmp_path / "base"], device="cuda")


@pytest.mark.parametrize(
    ("name", "module", "layer"),
    [
        ("model.layers.3.self_attn.q_proj.weight", "attn_q", 3),
        ("model.layers.3.self_attn.q_norm.weight", "norm", 3),
        ("model.layers.0.post_attention_layernorm.weight", "norm", 0),
        ("model.layers.12.mlp.gate_up_proj.weight", "mlp_gate_up", 12),
        ("model.layers.1.mlp.down_proj.weight", "mlp_down", 1),
        ("transformer.h.5.attn.c_attn.weight", "attn_qkv", 5),
        ("transformer.h.5.mlp.c_proj.weight", "mlp_down", 5),
        ("model.embed_tokens.weight", "embed", None),
        ("lm_head.weight", "lm_head", None),
        ("model.norm.weight", "norm", None),
        ("model.rotary.something", "other", None),
    ],
)
def test_module_type_and_layer(name, module, layer):
    assert S.module_type(name) == module
    assert S.layer_index(name) == layer


# --------------------------------------------------------------------------- CLI
def test_cli_end_to_end_writes_json_and_plots(tmp_path, capsys):
    from rl_lab.cli import main

    gen = torch.Generator().manual_seed(16)
    base = base_model(gen)
    save_ckpt(tmp_path / "base", base)
    paths = []
    for s in range(2):
        t = {n: plant(x, torch.randperm(x.numel(), generator=gen)[: x.numel() // 3], 1.0) for n, x in base.items()}
        paths.append(str(save_ckpt(tmp_path / f"seed{s}", t)))
    out = tmp_path / "res" / "updates.json"
    rc = main(["analyze", "updates", "--base", str(tmp_path / "base"), "--tuned", *paths, "--out", str(out),
               "--rank", "--plots", str(tmp_path / "plots"), "--no-progress"])
    assert rc == 0
    result = json.loads(out.read_text())
    assert [t["label"] for t in result["tuned"]] == ["seed0", "seed1"]
    assert result["tuned"][0]["updated"]["exact"] == sum(x.numel() // 3 for x in base.values())
    assert [p.name for p in out.parent.iterdir()] == ["updates.json"]  # no temp file left behind
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["updates_heatmap_seed0.png", "updates_heatmap_seed1.png", "updates_rank_hist.png",
                    "updates_seed_overlap.png"]
    assert all((tmp_path / "plots" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)
    printed = capsys.readouterr().out
    assert "seed0" in printed and "IoU" in printed

    (tmp_path / "pk").mkdir()
    (tmp_path / "pk" / "model.pt").write_bytes(b"x")
    rc = main(["analyze", "updates", "--base", str(tmp_path / "pk"), "--tuned", paths[0], "--no-progress"])
    assert rc == 2 and "never unpickles" in capsys.readouterr().err


def test_cli_defaults_into_the_run_directory(tmp_path):
    from rl_lab.cli import main

    gen = torch.Generator().manual_seed(17)
    base = base_model(gen)
    run_dir = tmp_path / "r"
    save_ckpt(run_dir / "checkpoints" / "step_0", base)
    save_ckpt(run_dir / "checkpoints" / "step_2", {n: plant(x, torch.arange(2), 1.0) for n, x in base.items()})
    assert main(["analyze", "updates", "--base", str(run_dir), "--tuned", str(run_dir), "--no-progress"]) == 0
    result = json.loads((run_dir / "analysis" / "updates.json").read_text())
    assert result["tuned"][0]["updated"]["exact"] == 2 * len(base)
    assert (run_dir / "plots" / "updates_heatmap_r_step_2.png").is_file()


def test_cli_tol_defaults_to_the_runs_config(tmp_path):
    """Without --tol, analysis.updates_tol of the run the inputs belong to decides the 'tol' criterion."""
    from rl_lab.cli import main
    from rl_lab.core.io import atomic_write_yaml

    base = base_model(torch.Generator().manual_seed(18))
    run_dir = tmp_path / "r"
    small = {n: plant(x, torch.arange(2), 0.1) for n, x in base.items()}  # two moves of 0.1 per tensor
    for step, tensors in ((0, base), (2, small)):
        save_ckpt(run_dir / "checkpoints" / f"step_{step}", tensors)
    atomic_write_yaml(run_dir / "config.yaml", {"analysis": {"updates_tol": 0.5}})
    assert main(["analyze", "updates", "--base", str(run_dir), "--tuned", str(run_dir), "--no-progress"]) == 0
    result = json.loads((run_dir / "analysis" / "updates.json").read_text())
    assert result["settings"]["tol"] == 0.5
    assert result["tuned"][0]["updated"]["exact"] == 2 * len(base) and result["tuned"][0]["updated"]["tol"] == 0
    assert main(["analyze", "updates", "--base", str(run_dir), "--tuned", str(run_dir), "--no-progress",
                 "--tol", "0.01"]) == 0
    assert json.loads((run_dir / "analysis" / "updates.json").read_text())["tuned"][0]["updated"]["tol"] == 2 * len(base)
