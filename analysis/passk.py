"""Unbiased pass@k (Chen et al. 2021) and coverage, as pure functions.

No library in the stack ships it (TRL has none; ``evaluate``'s code_eval would pull a
dependency for three lines), and the form matters: ``1 - C(n-c, k) / C(n, k)`` overflows
floats for n = 1024, so it is computed as ``1 - prod_{i=n-c+1..n} (1 - k/i)``, a product
of factors in [0, 1] (1 when fewer than k samples fail).

Intervals: pass@k at each k is a mean over problems of per-problem estimates, so its 95% interval
is a bootstrap over problems (and over seeds when the tuned models of one sweep group are pooled);
every model answers the same problems, so the difference tuned - base is paired per problem and
the seeds of a group share the problem draw (``intervals.seeds_bootstrap(crossed=True)``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct) is correct."""
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 1 <= k <= n, got k={k}, n={n}; lower k or sample more (n)")
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def default_ks(n: int) -> list[int]:
    """Powers of two up to n, and n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


def parse_ks(text: str | None, n: int) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4]; None -> ``default_ks(n)``. Each k must lie in 1..n."""
    if not text:
        return default_ks(n)
    try:
        ks = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        raise ValueError(f"--k {text!r}: expected comma-separated integers, e.g. 1,2,4,8") from None
    bad = [k for k in ks if not 1 <= k <= n]
    if bad or not ks:
        raise ValueError(f"--k: values {bad or ks} outside 1..n={n}; raise --n or drop them")
    return ks


def curve(counts: Iterable[tuple[int, int]], ks: Sequence[int]) -> dict[int, float]:
    """Mean pass@k over problems, each given as ``(n, c)``."""
    counts = list(counts)
    if not counts:
        return {k: float("nan") for k in ks}
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks}


def coverage(counts: Iterable[tuple[int, int]]) -> float:
    """Share of problems solved at least once among their n samples (= pass@n)."""
    counts = list(counts)
    return sum(c > 0 for _, c in counts) / len(counts) if counts else float("nan")


def summarise(records: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    """pass@k and coverage overall, per family, per difficulty and per family x difficulty.

    ``records``: one per problem with ``family``, ``difficulty``, ``n`` samples, ``c`` correct.
    """
    def block(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        counts = [(int(r["n"]), int(r["c"])) for r in rows]
        return {"problems": len(rows), "pass_at_k": {str(k): v for k, v in curve(counts, ks).items()},
                "coverage": coverage(counts)}

    fam: dict[str, list] = defaultdict(list)
    lvl: dict[int, list] = defaultdict(list)
    cell: dict[str, list] = defaultdict(list)
    for r in records:
        fam[r["family"]].append(r)
        lvl[int(r["difficulty"])].append(r)
        cell[f"{r['family']}/{int(r['difficulty'])}"].append(r)
    return {
        "overall": block(list(records)),
        "by_family": {k: block(v) for k, v in sorted(fam.items())},
        "by_difficulty": {str(k): block(v) for k, v in sorted(lvl.items())},
        "by_family_difficulty": {k: block(v) for k, v in sorted(cell.items())},
    }


def crossover(base: Mapping[int, float], tuned: Mapping[int, float], tol: float = 0.0) -> dict[str, Any]:
    """Where the base model's pass@k catches up with (>=) a tuned model's.

    ``k`` is the smallest measured k with base >= tuned - tol; ``status`` is ``crosses`` (the
    tuned model leads at the smallest k, the base catches up at ``k``), ``base_ahead_from_start``
    (base >= tuned already at the smallest k) or ``never`` (tuned ahead at every k measured).
    """
    ks = sorted(set(base) & set(tuned))
    if not ks:
        return {"status": "never", "k": None}
    first = next((k for k in ks if base[k] >= tuned[k] - tol), None)
    if first is None:
        return {"status": "never", "k": None}
    return {"status": "base_ahead_from_start" if first == ks[0] else "crosses", "k": first}


# --------------------------------------------------------------------------- intervals
def problem_values(records: Sequence[Mapping[str, Any]], k: int) -> list[float]:
    """pass@k of each problem (``n`` samples, ``c`` correct), in record order."""
    return [pass_at_k(int(r["n"]), int(r["c"]), k) for r in records]


def _aligned(*record_lists: Sequence[Mapping[str, Any]]) -> bool:
    """Same problems in the same order (the prompt names a problem)."""
    first = [r.get("prompt") for r in record_lists[0]]
    return all([r.get("prompt") for r in rs] == first for rs in record_lists[1:])


def curve_intervals(per_seed: Sequence[Sequence[Mapping[str, Any]]], ks: Sequence[int]) -> dict[str, Any]:
    """``{str(k): Estimate dict}``: mean pass@k over problems (and seeds: one record list per model
    of a group), with its 95% interval."""
    crossed = len(per_seed) > 1 and _aligned(*per_seed)
    return {str(k): intervals.seeds_bootstrap([problem_values(r, k) for r in per_seed], crossed=crossed).to_dict()
            for k in ks}


def gain_intervals(base: Sequence[Mapping[str, Any]], tuned_per_seed: Sequence[Sequence[Mapping[str, Any]]],
                   ks: Sequence[int]) -> dict[str, Any] | None:
    """``{str(k): Estimate dict}`` of tuned - base pass@k, paired per problem (the models answered the
    same problems); None when the record lists do not name the same problems in the same order."""
    if not _aligned(base, *tuned_per_seed):
        return None
    out = {}
    for k in ks:
        b = problem_values(base, k)
        out[str(k)] = intervals.paired_difference([b] * len(tuned_per_seed), [problem_values(t, k) for t in tuned_per_seed],
                                                  crossed=len(tuned_per_seed) > 1).to_dict()
    return out
