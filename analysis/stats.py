"""Summary statistics over seeds and runs: pure functions."""

from __future__ import annotations


def spread(values: list[float | None]) -> dict[str, float | int | None]:
    """Mean, sample std (ddof=1; 0 for one value), min and max across seeds; None entries are skipped."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(vals) / len(vals)
    var = sum((v - mean) ** 2 for v in vals) / (len(vals) - 1) if len(vals) > 1 else 0.0
    return {"n": len(vals), "mean": mean, "std": var**0.5, "min": min(vals), "max": max(vals)}
