"""Figures of an update analysis (the dict ``analysis.updates.analyze_updates`` returns).

Each function draws from the result dict and returns matplotlib Figures keyed by the file
name they are saved under (``analysis.figures.save_figures``); the report embeds the same ones.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rl_lab.analysis.figures import pyplot

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120


def _figure(**kwargs: Any):
    return pyplot().subplots(dpi=DPI, **kwargs)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_") or "tuned"


def plot_update_heatmaps(result: dict[str, Any], criterion: str = "exact") -> dict[str, Figure]:
    """Share of parameters updated, layer (rows) x module type (columns), one figure per tuned input."""
    import numpy as np

    out = {}
    for entry in result["tuned"]:
        grid = entry["by_layer_module"]
        if not grid:
            continue
        layers = sorted(grid, key=int)
        modules = [m for m in entry["by_module"] if any(m in grid[li] for li in layers)]
        data = np.full((len(layers), len(modules)), np.nan)
        for r, li in enumerate(layers):
            for c, m in enumerate(modules):
                if m in grid[li] and grid[li][m][criterion] is not None:
                    data[r, c] = grid[li][m][criterion]
        fig, ax = _figure(figsize=(1.0 + 0.9 * len(modules), 1.2 + 0.28 * len(layers)))
        im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks(range(len(modules)), modules, rotation=45, ha="right")
        ax.set_yticks(range(len(layers)), layers)
        ax.set_xlabel("module type")
        ax.set_ylabel("layer")
        ax.set_title(f"{entry['label']}: share updated ({criterion})")
        fig.colorbar(im, ax=ax, label="share of parameters updated")
        out[f"updates_heatmap_{_slug(entry['label'])}.png"] = fig
    return out


def plot_seed_overlap(result: dict[str, Any], criterion: str = "exact") -> Figure | None:
    """Tuned x tuned matrix of IoU / chance IoU of the updated sets (1 = what independent sets give)."""
    import numpy as np

    if not result["pairs"]:
        return None
    labels = [t["label"] for t in result["tuned"]]
    index = {lab: i for i, lab in enumerate(labels)}
    data = np.full((len(labels), len(labels)), np.nan)
    iou = np.full_like(data, np.nan)
    for pair in result["pairs"]:
        stats = pair["criteria"][criterion]
        i, j = index[pair["a"]], index[pair["b"]]
        for a, b in ((i, j), (j, i)):
            data[a, b] = stats["iou_ratio"] if stats["iou_ratio"] is not None else np.nan
            iou[a, b] = stats["iou"] if stats["iou"] is not None else np.nan
    size = 2.0 + 0.9 * len(labels)
    fig, ax = _figure(figsize=(size + 1.5, size))
    # 0 at the bottom of the scale, so "how far above chance (1)" reads off the colour
    vmax = max(2.0, float(np.nanmax(data)) if not np.all(np.isnan(data)) else 2.0)
    im = ax.imshow(data, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest")
    for a in range(len(labels)):
        for b in range(len(labels)):
            if not np.isnan(data[a, b]):
                color = "black" if data[a, b] > 0.6 * vmax else "white"
                ax.text(b, a, f"{data[a, b]:.2f}x\nIoU {iou[a, b]:.2f}", ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_title(f"updated-set overlap vs chance ({criterion})")
    fig.colorbar(im, ax=ax, label="IoU / chance IoU")
    return fig


def plot_rank_histogram(result: dict[str, Any]) -> Figure | None:
    """Distribution over 2-D deltas of numerical rank / full rank, one histogram per tuned input."""
    series = {}
    for t in result["tuned"]:
        shares = [
            rec["tuned"][t["label"]]["rank"]["share"]
            for rec in result["tensors"]
            if rec["tuned"][t["label"]].get("rank") and rec["tuned"][t["label"]]["rank"]["share"] is not None
        ]
        if shares:
            series[t["label"]] = shares
    if not series:
        return None
    fig, ax = _figure(figsize=(6.5, 4))
    bins = [i / 20 for i in range(21)]
    for label, shares in series.items():
        ax.hist(shares, bins=bins, alpha=0.55, label=f"{label} (mean {sum(shares) / len(shares):.2f})")
    ax.set_xlabel("rank of delta / min(shape)")
    ax.set_ylabel("matrices")
    ax.set_title("update rank")
    ax.legend(fontsize=8)
    return fig


def update_figures(result: dict[str, Any], criterion: str = "exact") -> dict[str, Figure]:
    """Every figure of an update analysis: ``{file name: Figure}``."""
    out = plot_update_heatmaps(result, criterion)
    for name, fig in (("updates_seed_overlap.png", plot_seed_overlap(result, criterion)),
                      ("updates_rank_hist.png", plot_rank_histogram(result))):
        if fig is not None:
            out[name] = fig
    return out
