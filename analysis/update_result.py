"""The JSON of an update analysis, assembled from the per-tensor ``Counts`` that
``analysis.updates`` streamed: totals per tuned input, module type, layer and layer x module,
pair overlaps against chance, and the rank summary (docs/updates.md lists every key).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from rl_lab.analysis.update_stats import (
    CRITERIA,
    CRITERIA_DOC,
    FLOAT_DTYPES,
    MODULE_TYPES,
    Counts,
    cosine,
    layer_index,
    module_type,
    overlap_stats,
    share,
)

if TYPE_CHECKING:
    from rl_lab.analysis.checkpoint_io import Checkpoint
    from rl_lab.analysis.settings import UpdatesSettings
    from rl_lab.analysis.updates import PlanEntry

SCHEMA_VERSION = 1
PerTensor = list[tuple["PlanEntry", Counts, list[dict[str, Any] | None]]]


def _crit(values: list) -> dict[str, Any]:
    return dict(zip(CRITERIA, values, strict=True))


def _group(rows: PerTensor, k: int, npairs: int, t: int) -> dict[str, Any]:
    total = Counts.zeros(0, k, npairs)
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


def _pair_block(counts: Counts, p: int, i: int, j: int) -> dict[str, Any]:
    inter = counts.intersection(p, i, j)
    ui, uj = counts.updated(i), counts.updated(j)
    return {
        "cosine": cosine(counts.dots[p], counts.sumsq[i], counts.sumsq[j]),
        "criteria": _crit([overlap_stats(counts.parameters, ui[c], uj[c], inter[c]) for c in range(len(CRITERIA))]),
    }


def assemble_result(base: Checkpoint, tuned: list[Checkpoint], settings: UpdatesSettings, bound: float,
                    pairs: list[tuple[int, int]], per_tensor: PerTensor, report: dict[str, list]) -> dict[str, Any]:
    """The result dict of ``analyze_updates`` (``report``: what ``plan`` skipped, tied or cast)."""
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
        total = Counts.zeros(0, k, npairs)
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
