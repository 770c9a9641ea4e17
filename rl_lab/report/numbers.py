"""How the report writes numbers (shares as percentages, changes in signed percentage points),
and small helpers over analysis JSONs. Pure functions; a missing value prints as "–".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any


def dig(node: Any, dotted: str) -> Any:
    """``node["a"]["b"]`` for ``"a.b"``; None where a key is missing (analysis JSONs vary by version)."""
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def fmt_num(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if not isinstance(v, float):
        return str(v)
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.2f}"
    if a >= 10 ** -digits:
        return f"{v:.{digits}f}"
    return f"{v:.2e}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{100 * v:.{digits}f}%"


def fmt_pp(v: Any, digits: int = 1) -> str:
    """A change of a share, in signed percentage points."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    text = f"{100 * v:+.{digits}f} pp"
    return text.replace("-", "−")


def fmt_range(values: Sequence[float], fmt: Callable[[Any], str] = fmt_pct) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "–"
    lo, hi = min(vals), max(vals)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} to {fmt(hi)}"


def mean_of(values: Sequence[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None


def _signed(x: float, scale: float, digits: int) -> str:
    return f"{x * scale:+.{digits}f}".replace("-", "−")


def fmt_ci(est: Any, style: str = "num", digits: int | None = None) -> str:
    """A number with its interval as tables print it: ``−20.3 pp [−31.2, −9.1]`` (style ``pp``),
    ``31% [25, 38]`` (``pct``), ``0.312 [0.250, 0.375]`` (``num``), ``+0.25 [−0.05, +0.55]``
    (``delta``: a signed difference); the unit once, on the value.
    ``est``: an ``intervals.Estimate`` or its dict; a lone value has no brackets, a range over seeds
    reads ``(range …)``; "–" when missing."""
    from rl_lab.analysis.intervals import Estimate

    e = est if isinstance(est, Estimate) else Estimate.from_dict(est)
    if e is None or not math.isfinite(e.value):
        return "–"
    if style == "pp":
        d = 1 if digits is None else digits
        value, lo, hi = fmt_pp(e.value, d), _signed(e.low, 100, d), _signed(e.high, 100, d)
    elif style == "pct":
        d = 0 if digits is None else digits
        value, lo, hi = fmt_pct(e.value, d), f"{100 * e.low:.{d}f}", f"{100 * e.high:.{d}f}"
    elif style == "delta":
        d = 2 if digits is None else digits
        value, lo, hi = (_signed(x, 1, d) for x in (e.value, e.low, e.high))
    else:
        d = 3 if digits is None else digits
        value, lo, hi = (f"{x:.{d}f}" for x in (e.value, e.low, e.high))
    if e.is_range:
        return f"{value} (range {lo} to {hi})"
    if not e.has_interval:
        return f"{value} (one value)"
    return f"{value} [{lo}, {hi}]"
