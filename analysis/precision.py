"""Precision decides sparsity: the share of parameters an update of a given size can change in bf16.

A weight stored in bf16 keeps 8 significant bits, so an update smaller than half the spacing of
bf16 numbers at that weight (between |w|·2⁻⁹ and |w|·2⁻⁸) rounds away and the stored value does
not change (Miahi & Belilovsky 2026; Zhu et al. 2025). Given the base weights, the share of
parameters that a step of size ``s`` can change is therefore known before training: the share
whose half-spacing is at most ``s``. With Adam, the per-step update of a parameter is about the
learning rate (the normalised step m/√v is close to ±1 when gradients agree), so the predicted
share for bf16 weights trained at learning rate η is ``changeable_share(base, η)``; fp32 master
weights accumulate sub-spacing steps and change almost everywhere.

Pure functions on tensors; ``predicted_shares`` streams a checkpoint tensor by tensor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch


def bf16_half_spacing(weights: torch.Tensor) -> torch.Tensor:
    """Half the distance from each weight's bf16 value to the next bf16 number away from zero
    (float32 result). An update of smaller magnitude leaves the bf16 value unchanged."""
    magnitude = weights.detach().to(torch.bfloat16).abs()
    bits = magnitude.view(torch.int16)
    upper = (bits + 1).view(torch.bfloat16)  # the next representable magnitude
    return (upper.float() - magnitude.float()) / 2


def changeable_counts(weights: torch.Tensor, steps: Sequence[float]) -> list[int]:
    """For each step size, how many of ``weights`` an update of that magnitude would change in bf16."""
    half = bf16_half_spacing(weights).flatten()
    return [int((half <= s).sum()) for s in steps]


def predicted_shares(tensors: Iterable[torch.Tensor], steps: Sequence[float]) -> dict[str, object]:
    """Share of all parameters changeable by an update of each size in ``steps`` (streamed over tensors)."""
    counts = [0] * len(steps)
    total = 0
    for t in tensors:
        if not torch.is_floating_point(t):
            continue
        for i, c in enumerate(changeable_counts(t, steps)):
            counts[i] += c
        total += t.numel()
    return {"parameters": total, "steps": list(steps),
            "share": [c / total if total else 0.0 for c in counts]}
