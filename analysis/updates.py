"""What RL changed in the weights: update sparsity, rank and seed overlap, streamed tensor by tensor.

A parameter is *updated* between base and tuned checkpoint under four criteria, all
reported side by side (docs/updates.md has the full key reference):

* ``exact``: the stored values differ (IEEE ``!=`` in the stored dtype; float32 when the
  two sides store different dtypes);
* ``tol``: ``|tuned - base| > tol`` with the difference taken in float32;
* ``bf16``: the values differ after casting both sides to bfloat16 (the reference script
  loads both models in bf16 and counts ``delta != 0``; equals ``exact`` on bf16 checkpoints);
* ``paper``: ``not isclose(delta_bf16, 0, atol=1e-5)`` exactly as the reference
  (Mukherjee et al. 2025, arXiv 2505.11711) computes it in bf16.

Memory: the driver holds, per tensor, one row chunk of the base and of each tuned input
plus fixed-size work buffers, so peak memory does not grow with model size. ``--rank``
additionally builds one float32 delta matrix at a time (plus SVD workspace).
Seed statistics stream too: every tuned input is read chunk by chunk in the same pass,
so the intersections of the updated sets are counted without holding any mask past its chunk.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

from rl_lab.analysis.checkpoint_io import Checkpoint, TensorInfo, TensorReader, row_chunks
from rl_lab.core.errors import InputError

CRITERIA = ("exact", "tol", "bf16", "paper")
CRITERIA_DOC = {
    "exact": "stored values differ: IEEE != in the stored dtype (float32 if base and tuned dtypes differ); NaN counts as updated",
    "tol": "|tuned - base| > tol, difference and comparison in float32",
    "bf16": "values differ after casting both sides to bfloat16 (the reference script's delta != 0)",
    "paper": "not torch.isclose(delta, 0, atol=paper_atol) with delta = bf16(tuned) - bf16(base) computed in bfloat16 "
    "(the reference's 'close to zero' test)",
}
FLOAT_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}
_ITEMSIZE = {"BF16": 2, "F16": 2, "F32": 4, "F64": 8}
SCHEMA_VERSION = 1


class UpdateAnalysisError(InputError):
    """The inputs cannot be compared; the message lists every problem found, before any computation."""


@dataclass(frozen=True)
class Settings:
    tol: float = 1e-5
    paper_atol: float = 1e-5
    rank: bool = False
    device: str = "cpu"
    strict: bool = False  # dtype mismatches and one-side-only tensors become errors
    skip_mismatched: bool = False  # shape mismatches are skipped (listed) instead of an error
    chunk_elements: int = 1 << 23  # ~8M elements: work buffers ~16 bytes/element for one bf16 tuned input
    # torch threads for the streamed comparison (0: torch's default). Its passes are memory-bound,
    # and each multi-threaded op waits for every thread to be scheduled: on a shared machine that
    # wait dominates (bench: 3.5x slower with 2 threads at load 9 on 2 CPUs). SVDs use torch's default.
    threads: int = 1


# --------------------------------------------------------------------------- naming
# Order matters: norms first (q_norm, post_attention_layernorm), fused before split.
_MODULE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (m, re.compile(p))
    for m, p in [
        ("norm", r"(norm|(^|\.)ln_(\d+|f)\.)"),
        ("lm_head", r"(^|\.)(lm_head|embed_out)\."),
        ("embed", r"(embed_tokens|(^|\.)wte|(^|\.)wpe|word_embeddings|embed_in|embed_positions|position_embeddings)\."),
        ("attn_qkv", r"(qkv_proj|c_attn|query_key_value|Wqkv)\."),
        ("attn_q", r"(q_proj|\.query)\."),
        ("attn_k", r"(k_proj|\.key)\."),
        ("attn_v", r"(v_proj|\.value)\."),
        ("attn_o", r"(o_proj|out_proj|attn\.c_proj|(self_attn|attention)\.dense)\."),
        ("mlp_gate_up", r"gate_up_proj\."),
        ("mlp_gate", r"(gate_proj|\.w1)\."),
        ("mlp_up", r"(up_proj|c_fc|\.w3|fc1|dense_h_to_4h)\."),
        ("mlp_down", r"(down_proj|mlp\.c_proj|\.w2|fc2|dense_4h_to_h)\."),
    ]
]
MODULE_TYPES = tuple(m for m, _ in _MODULE_PATTERNS) + ("other",)
_LAYER = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block)\.(\d+)\.")


def module_type(name: str) -> str:
    for module, pattern in _MODULE_PATTERNS:
        if pattern.search(name):
            return module
    return "other"


def layer_index(name: str) -> int | None:
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def is_rank_matrix(name: str, shape: tuple[int, ...]) -> bool:
    """The reference takes the rank of every 2-D delta that is not a norm weight."""
    return len(shape) == 2 and module_type(name) != "norm" and min(shape) > 0


# --------------------------------------------------------------------------- pure metrics
def share(count: float, total: float) -> float | None:
    return count / total if total else None


def ratio(observed: float | None, chance: float | None) -> float | None:
    if observed is None or not chance:
        return None
    return observed / chance


def overlap_stats(n: int, a: int, b: int, inter: int) -> dict[str, Any]:
    """Overlap of two updated sets of sizes a and b among n parameters, against chance.

    Chance is two independent uniformly drawn sets of the same sizes: E|A∩B| = n·da·db,
    so chance IoU = da·db / (da + db − da·db), chance o1 = db and chance o2 = da.
    """
    da, db = share(a, n), share(b, n)
    union = a + b - inter
    iou = share(inter, union) if union else None
    iou_chance = None
    if da is not None and db is not None and (da + db - da * db) > 0:
        iou_chance = da * db / (da + db - da * db)
    o1, o2 = share(inter, a), share(inter, b)
    return {
        "density_a": da,
        "density_b": db,
        "intersection": inter,
        "union": union,
        "iou": iou,
        "iou_chance": iou_chance,
        "iou_ratio": ratio(iou, iou_chance),
        "o1": o1,
        "o1_chance": db,
        "o1_ratio": ratio(o1, db),
        "o2": o2,
        "o2_chance": da,
        "o2_ratio": ratio(o2, da),
    }


def cosine(dot: float, sq_a: float, sq_b: float) -> float | None:
    if sq_a <= 0 or sq_b <= 0:
        return None
    return dot / math.sqrt(sq_a * sq_b)


def numerical_rank(delta) -> dict[str, Any]:
    """Rank as torch.linalg.matrix_rank computes it by default, with its numbers exposed.

    Singular values in float32; rank = #{σ > σ_max · max(m, n) · eps(float32)}.
    """
    import torch

    delta = delta.float()
    s = torch.linalg.svdvals(delta)
    smax = float(s.max()) if s.numel() else 0.0
    tol = smax * max(delta.shape) * torch.finfo(torch.float32).eps
    rank = int((s > tol).sum())
    full = min(delta.shape)
    return {"rank": rank, "full_rank": full, "share": share(rank, full), "sigma_max": smax, "tol": tol}


def paper_close_bound(atol: float) -> float:
    """The float32 bound B with |bf16(x)| <= bf16-threshold  <=>  |x| <= B, for float32 x.

    torch.isclose(d, 0, atol) on a bf16 tensor d tests |d| <= atol + rtol·|0| in bf16, and d
    is the bf16 rounding of the float32 difference. Rounding is monotone, so the test on the
    float32 difference is one comparison against the largest float32 that rounds to at most
    the bf16 threshold (tests check this against torch.isclose itself).
    """
    import numpy as np
    import torch

    thr = (torch.zeros(1, dtype=torch.bfloat16).abs() + atol).float()
    bits = thr.to(torch.bfloat16).view(torch.int16)
    nxt = (bits + 1).view(torch.bfloat16).float()
    mid = (thr + nxt) / 2  # exact in float32: bf16 neighbours differ in their 8th mantissa bit
    if mid.to(torch.bfloat16).float().item() == thr.item():
        return float(mid.item())
    return float(np.nextafter(np.float32(mid.item()), np.float32(0)))


# --------------------------------------------------------------------------- planning
@dataclass
class PlanEntry:
    name: str
    base: TensorInfo
    tuned: list[TensorInfo]
    dtype: str  # base's torch dtype name
    compared_in: str  # the dtype the exact criterion compares in
    tied_to: str | None = None


def plan(base: Checkpoint, tuned: list[Checkpoint], settings: Settings) -> tuple[list[PlanEntry], dict[str, list]]:
    """Which tensors to compare; every problem is collected before any error is raised."""
    inputs = [base, *tuned]
    labels = [c.label for c in inputs]
    names = sorted(set().union(*(c.tensors for c in inputs)))
    entries: list[PlanEntry] = []
    report: dict[str, list] = {"skipped": [], "tied": [], "dtype_mismatches": []}
    errors: list[str] = []
    for name in names:
        infos = [c.tensors.get(name) for c in inputs]
        present = [lab for lab, i in zip(labels, infos, strict=True) if i is not None]
        if len(present) < len(inputs):
            missing = [lab for lab, i in zip(labels, infos, strict=True) if i is None]
            report["skipped"].append({"name": name, "reason": "missing", "present_in": present, "missing_from": missing})
            if settings.strict:
                errors.append(f"{name}: missing from {missing} (present in {present})")
            continue
        dtypes = [i.dtype for i in infos]
        if any(d not in FLOAT_DTYPES for d in dtypes):
            report["skipped"].append({"name": name, "reason": "not floating point", "dtypes": dict(zip(labels, dtypes, strict=True))})
            continue
        tied_in = [c.label for c in inputs if name in c.aliases]
        tied_to = next((c.aliases[name] for c in inputs if name in c.aliases), None)
        if tied_in:
            if len(tied_in) == len(inputs):
                report["tied"].append({
                    "name": name, "tied_to": tied_to, "tied_in": tied_in,
                    "treatment": "identical to the embedding in every input: counted once, under the embedding",
                })
                continue
            report["tied"].append({
                "name": name, "tied_to": tied_to, "tied_in": tied_in,
                "treatment": "compared; where tied, the embedding stands in for it (as transformers loads it)",
            })
        shapes = [i.shape for i in infos]
        if len(set(shapes)) > 1:
            detail = {lab: list(s) for lab, s in zip(labels, shapes, strict=True)}
            if settings.skip_mismatched:
                report["skipped"].append({"name": name, "reason": "shape mismatch", "shapes": detail})
            else:
                errors.append(f"{name}: shape mismatch {detail}")
            continue
        compared_in = FLOAT_DTYPES[dtypes[0]]
        if len(set(dtypes)) > 1:
            detail = {lab: FLOAT_DTYPES[d] for lab, d in zip(labels, dtypes, strict=True)}
            report["dtype_mismatches"].append({"name": name, "dtypes": detail, "compared_in": "float32"})
            if settings.strict:
                errors.append(f"{name}: dtype mismatch {detail}")
            compared_in = "float32"
        entries.append(PlanEntry(name, infos[0], infos[1:], FLOAT_DTYPES[dtypes[0]], compared_in,
                                 tied_to if tied_in else None))
    if errors:
        hint = (
            "compare checkpoints of the same architecture; --skip-mismatched skips shape mismatches, "
            "and without --strict dtype mismatches are compared in float32 and missing tensors are skipped"
        )
        raise UpdateAnalysisError(
            f"{len(errors)} tensor(s) cannot be compared between {labels}:\n  " + "\n  ".join(errors) + f"\n({hint})"
        )
    if not entries:
        raise UpdateAnalysisError(f"no tensor is common to all inputs {labels}; are these checkpoints of one model?")
    file_order = {f: k for k, f in enumerate(base.files)}
    entries.sort(key=lambda e: (file_order.get(e.base.file, 0), e.base.order))
    return entries, report


# --------------------------------------------------------------------------- streaming core
class _Workspace:
    """Flat work buffers reused across chunks: fresh multi-MB allocations cost page faults."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._bufs: dict[str, Any] = {}

    def get(self, key: str, n: int, dtype):
        import torch

        buf = self._bufs.get(key)
        if buf is None or buf.numel() < n or buf.dtype != dtype:
            buf = torch.empty(n, dtype=dtype, device=self.device)
            self._bufs[key] = buf
        return buf[:n]


@dataclass
class _Counts:
    """Raw sums for one tensor; everything aggregated later is a sum of these."""

    parameters: int
    unchanged: list[list[int]]  # [tuned][criterion]
    sumsq: list[float]  # [tuned] squared L2 norm of the delta
    both_unchanged: list[list[int]]  # [pair][criterion]
    dots: list[float]  # [pair]

    @classmethod
    def zeros(cls, n: int, k: int, pairs: int) -> _Counts:
        c = len(CRITERIA)
        return cls(n, [[0] * c for _ in range(k)], [0.0] * k, [[0] * c for _ in range(pairs)], [0.0] * pairs)

    def updated(self, i: int) -> list[int]:
        return [self.parameters - u for u in self.unchanged[i]]

    def intersection(self, p: int, i: int, j: int) -> list[int]:
        # |U_i ∩ U_j| = n − |C_i ∪ C_j| with C the unchanged sets
        n = self.parameters
        return [n - (self.unchanged[i][c] + self.unchanged[j][c] - self.both_unchanged[p][c]) for c in range(len(CRITERIA))]

    def add(self, other: _Counts) -> None:
        self.parameters += other.parameters
        for mine, theirs in ((self.unchanged, other.unchanged), (self.both_unchanged, other.both_unchanged)):
            for row, orow in zip(mine, theirs, strict=True):
                for c in range(len(row)):
                    row[c] += orow[c]
        self.sumsq = [a + b for a, b in zip(self.sumsq, other.sumsq, strict=True)]
        self.dots = [a + b for a, b in zip(self.dots, other.dots, strict=True)]


def chunk_counts(base, tuned: list, pairs: list[tuple[int, int]], tol: float, bound: float, ws: _Workspace) -> _Counts:
    """Counts for one flat chunk: ``base`` and each of ``tuned`` are 1-D tensors of equal length."""
    import torch

    n = base.numel()
    k = len(tuned)
    out = _Counts.zeros(n, k, len(pairs))
    f32, bf16 = torch.float32, torch.bfloat16
    same = all(t.dtype == base.dtype for t in tuned)
    shortcut = same and base.dtype == bf16  # bf16 on both sides: paper delta == float32 delta
    b32 = ws.get("b32", n, f32).copy_(base)
    if not shortcut:
        b16 = ws.get("b16", n, bf16).copy_(base)
        pb32 = ws.get("pb32", n, f32).copy_(b16)
    deltas, pdeltas, masks = [], [], []
    for i, t in enumerate(tuned):
        d = ws.get(f"d{i}", n, f32).copy_(t)
        m = [ws.get(f"m{i}_{c}", n, torch.bool) for c in CRITERIA]
        if same:
            torch.eq(base, t, out=m[0])  # exact, in the stored dtype
        else:
            torch.eq(b32, d, out=m[0])
        d.sub_(b32)
        if shortcut:
            pd = d
            m[2] = m[0]
        else:
            t16 = ws.get("t16", n, bf16).copy_(t)
            torch.eq(b16, t16, out=m[2])
            pd = ws.get(f"p{i}", n, f32).copy_(t16).sub_(pb32)
        out.sumsq[i] = float(torch.dot(d, d))
        deltas.append(d)
        pdeltas.append(pd)
        masks.append(m)
    for p, (i, j) in enumerate(pairs):
        out.dots[p] = float(torch.dot(deltas[i], deltas[j]))
    for i in range(k):
        m = masks[i]
        ad = deltas[i].abs_()
        torch.le(ad, tol, out=m[1])
        apd = ad if pdeltas[i] is deltas[i] else pdeltas[i].abs_()
        torch.le(apd, bound, out=m[3])  # NaN compares False: updated, as isclose says
        counted = [int(torch.count_nonzero(mask)) if c != 2 or not shortcut else None for c, mask in enumerate(m)]
        counted[2] = counted[0] if shortcut else counted[2]
        out.unchanged[i] = counted
    both = ws.get("both", n, torch.bool) if pairs else None
    for p, (i, j) in enumerate(pairs):
        out.both_unchanged[p] = [
            int(torch.count_nonzero(torch.logical_and(masks[i][c], masks[j][c], out=both))) for c in range(len(CRITERIA))
        ]
    return out


def _delta_matrix(reader: TensorReader, entry: PlanEntry, t: int, settings: Settings):
    """The full delta of one 2-D tensor in float32, built by rows; taken in the compared dtype
    (bf16 checkpoints: the bf16 difference, exactly as the reference takes it)."""
    import torch

    out = torch.empty(entry.base.shape, dtype=torch.float32, device=settings.device)
    for rng in row_chunks(entry.base.shape, settings.chunk_elements):
        b = reader.read(entry.base, *rng).to(settings.device)
        x = reader.read(entry.tuned[t], *rng).to(settings.device)
        if b.dtype == x.dtype:
            out[rng[0]:rng[1]] = (x - b).float()
        else:
            out[rng[0]:rng[1]] = x.float() - b.float()
    return out


def _check_device(device: str) -> None:
    import torch

    if device == "cpu":
        return
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UpdateAnalysisError(
                f"--device {device}: CUDA is not available here (torch {torch.__version__}, "
                f"built with CUDA {torch.version.cuda}); use --device cpu"
            )
        return
    raise UpdateAnalysisError(f"--device {device!r}: expected 'cpu' or 'cuda' (or 'cuda:<index>')")


def analyze_updates(
    base: Checkpoint, tuned: list[Checkpoint], settings: Settings | None = None, progress: bool = True
) -> dict[str, Any]:
    """Stream every common tensor once (chunk by chunk, all tuned inputs together); return the result dict."""
    import torch

    settings = settings or Settings()
    if not tuned:
        raise UpdateAnalysisError("no tuned input: pass at least one --tuned checkpoint")
    if settings.tol < 0 or settings.paper_atol < 0:
        raise UpdateAnalysisError("--tol must be >= 0")
    if settings.chunk_elements < 1 or settings.threads < 0:
        raise UpdateAnalysisError("--chunk-elements must be >= 1 and --threads >= 0")
    _check_device(settings.device)
    entries, report = plan(base, tuned, settings)
    k = len(tuned)
    pairs = list(combinations(range(k), 2))
    bound = paper_close_bound(settings.paper_atol)
    ws = _Workspace(settings.device)
    default_threads = torch.get_num_threads()
    try:
        per_tensor = _stream(entries, k, pairs, bound, ws, settings, progress, default_threads)
    finally:
        torch.set_num_threads(default_threads)
    return _result(base, tuned, settings, bound, pairs, per_tensor, report)


def _stream(entries: list[PlanEntry], k: int, pairs: list[tuple[int, int]], bound: float, ws: _Workspace,
            settings: Settings, progress: bool, default_threads: int,
            ) -> list[tuple[PlanEntry, _Counts, list[dict[str, Any] | None]]]:
    import torch
    from tqdm import tqdm

    stream_threads = settings.threads or default_threads

    per_tensor: list[tuple[PlanEntry, _Counts, list[dict[str, Any] | None]]] = []
    total_bytes = sum(e.base.numel * _ITEMSIZE[e.base.dtype] for e in entries)
    with TensorReader() as reader, torch.inference_mode(), tqdm(
        total=total_bytes, unit="B", unit_scale=True, desc="updates", disable=None if progress else True
    ) as bar:
        for entry in entries:
            torch.set_num_threads(stream_threads)
            counts = _Counts.zeros(0, k, len(pairs))
            for rng in row_chunks(entry.base.shape, settings.chunk_elements):
                span = () if rng is None else rng
                b = reader.read(entry.base, *span).reshape(-1).to(settings.device)
                ts = [reader.read(info, *span).reshape(-1).to(settings.device) for info in entry.tuned]
                counts.add(chunk_counts(b, ts, pairs, settings.tol, bound, ws))
                bar.update(b.numel() * b.element_size())
            ranks: list[dict[str, Any] | None] = [None] * k
            if settings.rank and is_rank_matrix(entry.name, entry.base.shape):
                torch.set_num_threads(default_threads)  # SVD is compute-bound: all threads
                for t in range(k):
                    ranks[t] = numerical_rank(_delta_matrix(reader, entry, t, settings))
            per_tensor.append((entry, counts, ranks))
    return per_tensor


# --------------------------------------------------------------------------- assembling the result
def _crit(values: list) -> dict[str, Any]:
    return dict(zip(CRITERIA, values, strict=True))


def _group(rows: list[tuple[PlanEntry, _Counts, list]], k: int, npairs: int, t: int) -> dict[str, Any]:
    total = _Counts.zeros(0, k, npairs)
    tensor_shares: list[list[float]] = []
    for _, counts, _ in rows:
        total.add(counts)
        tensor_shares.append([u / counts.parameters for u in counts.updated(t)] if counts.parameters else [])
    tensor_shares = [s for s in tensor_shares if s]
    upd = total.updated(t)
    return {
        "parameters": total.parameters,
        "tensors": len(rows),
        "updated": _crit(upd),
        "share": _crit([share(u, total.parameters) for u in upd]),
        "mean_tensor_share": _crit(
            [sum(s[c] for s in tensor_shares) / len(tensor_shares) if tensor_shares else None for c in range(len(CRITERIA))]
        ),
    }


def _rank_summary(values: list[dict[str, Any]]) -> dict[str, Any] | None:
    shares = sorted(v["share"] for v in values if v and v["share"] is not None)
    if not shares:
        return None
    return {
        "matrices": len(shares),
        "mean_share": sum(shares) / len(shares),
        "median_share": shares[len(shares) // 2] if len(shares) % 2 else (shares[len(shares) // 2 - 1] + shares[len(shares) // 2]) / 2,
        "min_share": shares[0],
        "max_share": shares[-1],
        "full_rank_matrices": sum(1 for v in values if v and v["rank"] == v["full_rank"]),
    }


def _pair_block(counts: _Counts, p: int, i: int, j: int) -> dict[str, Any]:
    inter = counts.intersection(p, i, j)
    ui, uj = counts.updated(i), counts.updated(j)
    return {
        "cosine": cosine(counts.dots[p], counts.sumsq[i], counts.sumsq[j]),
        "criteria": _crit([overlap_stats(counts.parameters, ui[c], uj[c], inter[c]) for c in range(len(CRITERIA))]),
    }


def _result(base, tuned, settings, bound, pairs, per_tensor, report) -> dict[str, Any]:
    k, npairs = len(tuned), len(pairs)
    labels = [c.label for c in tuned]
    tensors_out = []
    for entry, counts, ranks in per_tensor:
        rec: dict[str, Any] = {
            "name": entry.name,
            "shape": list(entry.base.shape),
            "dtype": entry.dtype,
            "compared_in": entry.compared_in,
            "module": module_type(entry.name),
            "layer": layer_index(entry.name),
            "parameters": counts.parameters,
        }
        if entry.tied_to:
            rec["tied_to"] = entry.tied_to
        rec["tuned"] = {}
        for t, label in enumerate(labels):
            upd = counts.updated(t)
            rec["tuned"][label] = {
                "updated": _crit(upd),
                "share": _crit([share(u, counts.parameters) for u in upd]),
                "delta_l2": math.sqrt(counts.sumsq[t]),
                "rank": ranks[t],
            }
        rec["pairs"] = []
        for p, (i, j) in enumerate(pairs):
            block = _pair_block(counts, p, i, j)
            rec["pairs"].append({
                "a": labels[i], "b": labels[j], "cosine": block["cosine"],
                "iou": {c: v["iou"] for c, v in block["criteria"].items()},
                "iou_chance": {c: v["iou_chance"] for c, v in block["criteria"].items()},
                "iou_ratio": {c: v["iou_ratio"] for c, v in block["criteria"].items()},
            })
        tensors_out.append(rec)

    tuned_out = []
    for t, ckpt in enumerate(tuned):
        overall = _group(per_tensor, k, npairs, t)
        dtypes: dict[str, int] = {}
        compared: dict[str, int] = {}
        for entry, counts, _ in per_tensor:
            stored = FLOAT_DTYPES[entry.tuned[t].dtype]
            dtypes[stored] = dtypes.get(stored, 0) + counts.parameters
            compared[entry.compared_in] = compared.get(entry.compared_in, 0) + counts.parameters
        by_module = {}
        for m in MODULE_TYPES:
            rows = [r for r in per_tensor if module_type(r[0].name) == m]
            if rows:
                by_module[m] = _group(rows, k, npairs, t)
        layers = sorted({layer_index(r[0].name) for r in per_tensor} - {None})
        by_layer = {str(li): _group([r for r in per_tensor if layer_index(r[0].name) == li], k, npairs, t) for li in layers}
        by_layer_module = {
            str(li): {
                m: _group(rows, k, npairs, t)["share"]
                for m in MODULE_TYPES
                if (rows := [r for r in per_tensor if layer_index(r[0].name) == li and module_type(r[0].name) == m])
            }
            for li in layers
        }
        rank = _rank_summary([r[2][t] for r in per_tensor]) if settings.rank else None
        layer_means = {
            c: (sum(by_layer[str(li)]["mean_tensor_share"][c] for li in layers) / len(layers) if layers else None)
            for c in ("bf16", "paper")
        }
        tuned_out.append({
            "label": ckpt.label,
            "path": str(ckpt.path),
            "parameters": overall["parameters"],
            "tensors": overall["tensors"],
            "stored_dtypes": dtypes,
            "compared_in": compared,
            "updated": overall["updated"],
            "share": overall["share"],
            "mean_tensor_share": overall["mean_tensor_share"],
            "delta_l2": math.sqrt(sum(r[1].sumsq[t] for r in per_tensor)),
            "paper": {
                "unchanged_share": _one_minus(overall["share"]["bf16"]),
                "close_to_zero_share": _one_minus(overall["share"]["paper"]),
                "updated_share": overall["share"]["paper"],
                "layerwise_updated_share": {
                    str(li): {c: by_layer[str(li)]["mean_tensor_share"][c] for c in ("bf16", "paper")} for li in layers
                },
                "mean_over_layers": layer_means,
                "mean_rank_share": rank["mean_share"] if rank else None,
            },
            "rank": rank,
            "by_module": by_module,
            "by_layer": by_layer,
            "by_layer_module": by_layer_module,
        })

    pairs_out = []
    if pairs:
        total = _Counts.zeros(0, k, npairs)
        for _, counts, _ in per_tensor:
            total.add(counts)
        for p, (i, j) in enumerate(pairs):
            block = _pair_block(total, p, i, j)
            pairs_out.append({"a": labels[i], "b": labels[j], "parameters": total.parameters, **block})

    return {
        "analysis": "updates",
        "schema_version": SCHEMA_VERSION,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs": {"base": base.describe(), "tuned": [c.describe() for c in tuned]},
        "settings": {**asdict(settings), "tol_compared_in": "float32", "paper_close_bound_float32": bound},
        "criteria": CRITERIA_DOC,
        "rank_method": RANK_METHOD if settings.rank else None,
        "tuned": tuned_out,
        "pairs": pairs_out,
        "tensors": tensors_out,
        **report,
    }


RANK_METHOD = {
    "what": "numerical rank of each 2-D non-norm delta (tuned - base), as a share of min(shape); mean over matrices",
    "delta": "taken in the compared dtype (bf16 checkpoints: the bf16 difference, as the reference), then float32",
    "svd": "torch.linalg.svdvals in float32",
    "tolerance": "sigma > sigma_max * max(m, n) * finfo(float32).eps (torch.linalg.matrix_rank's default rtol, atol 0)",
}


def _one_minus(x: float | None) -> float | None:
    return None if x is None else 1.0 - x
