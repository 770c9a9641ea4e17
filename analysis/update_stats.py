"""Pure pieces of the update analysis: the criteria, parameter naming, overlap against chance,
rank, the reference's bf16 bound, and the per-tensor count accumulator (``Counts``).

``analysis.updates`` streams checkpoints into ``Counts``; ``analysis.update_result`` turns
them into the JSON. Nothing here reads files.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

CRITERIA = ("exact", "tol", "bf16", "paper")
CRITERIA_DOC = {
    "exact": "stored values differ: IEEE != in the stored dtype (float32 if base and tuned dtypes differ); NaN counts as updated",
    "tol": "|tuned - base| > tol, difference and comparison in float32",
    "bf16": "values differ after casting both sides to bfloat16 (the reference script's delta != 0)",
    "paper": "not torch.isclose(delta, 0, atol=paper_atol) with delta = bf16(tuned) - bf16(base) computed in bfloat16 "
    "(the reference's 'close to zero' test)",
}
FLOAT_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}


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


# --------------------------------------------------------------------------- counts
@dataclass
class Counts:
    """Raw sums for one tensor; everything aggregated later is a sum of these."""

    parameters: int
    unchanged: list[list[int]]  # [tuned][criterion]
    sumsq: list[float]  # [tuned] squared L2 norm of the delta
    both_unchanged: list[list[int]]  # [pair][criterion]
    dots: list[float]  # [pair]

    @classmethod
    def zeros(cls, n: int, k: int, pairs: int) -> Counts:
        c = len(CRITERIA)
        return cls(n, [[0] * c for _ in range(k)], [0.0] * k, [[0] * c for _ in range(pairs)], [0.0] * pairs)

    def updated(self, i: int) -> list[int]:
        return [self.parameters - u for u in self.unchanged[i]]

    def intersection(self, p: int, i: int, j: int) -> list[int]:
        # |U_i ∩ U_j| = n − |C_i ∪ C_j| with C the unchanged sets
        n = self.parameters
        return [n - (self.unchanged[i][c] + self.unchanged[j][c] - self.both_unchanged[p][c]) for c in range(len(CRITERIA))]

    def add(self, other: Counts) -> None:
        self.parameters += other.parameters
        for mine, theirs in ((self.unchanged, other.unchanged), (self.both_unchanged, other.both_unchanged)):
            for row, orow in zip(mine, theirs, strict=True):
                for c in range(len(row)):
                    row[c] += orow[c]
        self.sumsq = [a + b for a, b in zip(self.sumsq, other.sumsq, strict=True)]
        self.dots = [a + b for a, b in zip(self.dots, other.dots, strict=True)]
