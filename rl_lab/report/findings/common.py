"""What every finding shares: the ``Finding`` record, the verdict -> kind mapping, and helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rl_lab.analysis.intervals import Estimate, Verdict
from rl_lab.core.config import ReportConfig

DEFAULTS = ReportConfig()  # the schema's margins, for callers without a config

# How a verdict on an interval is shown: each kind has its own badge in the template.
KINDS: dict[Verdict, str] = {"appeared": "observed", "did not appear": "absent", "inconclusive": "inconclusive"}


@dataclass
class Finding:
    kind: str  # observed | absent | inconclusive | info | missing
    topic: str
    text: str


def overall_kind(verdicts: Iterable[Verdict]) -> str:
    """One kind for a finding over several runs: observed if it appeared in any, else
    inconclusive if any interval straddles the margin, else absent."""
    seen = set(verdicts)
    if "appeared" in seen:
        return KINDS["appeared"]
    if "inconclusive" in seen:
        return KINDS["inconclusive"]
    return KINDS["did not appear"]


def estimate(node: Any) -> Estimate | None:
    """An interval stored in an analysis JSON (``Estimate.to_dict``), or None."""
    return node if isinstance(node, Estimate) else Estimate.from_dict(node)


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def head_tail_values(curve: Mapping[int, float], fraction: float = DEFAULTS.tail_fraction,
                     ) -> tuple[list[float], list[float]] | None:
    """Values of the first and of the last ``fraction`` of logged steps (at least one each)."""
    steps = sorted(curve)
    if not steps:
        return None
    k = max(1, math.ceil(fraction * len(steps)))
    return [curve[s] for s in steps[:k]], [curve[s] for s in steps[-k:]]


def head_tail(curve: Mapping[int, float], fraction: float = DEFAULTS.tail_fraction) -> tuple[float, float] | None:
    """Mean of the first and of the last ``fraction`` of logged steps (at least one each)."""
    values = head_tail_values(curve, fraction)
    if values is None:
        return None
    head, tail = values
    return sum(head) / len(head), sum(tail) / len(tail)


def level_keys(series_list: Sequence[Mapping[str, Any]]) -> list[int]:
    levels = set()
    for s in series_list:
        for key in s:
            if key.startswith("accuracy/level_") and key[len("accuracy/level_"):].isdigit():
                levels.add(int(key[len("accuracy/level_"):]))
    return sorted(levels)
