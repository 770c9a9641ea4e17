"""Format collapse: shares of each answer format among rollouts, step by step.

Pure functions over rollout rows (``{"format": ..., "difficulty": ..., "completion": ...}``).
The formats are the labels of the run's taxonomy (``rl_lab.environments.taxonomies``, the
config's ``formats.taxonomy``; rl_lab's own terse/steps/tagged/other by default). A row whose
``format`` is not one of them is classified with the taxonomy, the same classifier the trainer
uses, so labels agree whichever side computed them.

Collapse: the first logged step at which one format's share exceeds the threshold
(``analysis.collapse_threshold``; strictly) and stays above it at every later logged step
through the last one; a run that crosses the threshold and then drops below it has not collapsed.

Intervals: a run's final share of each format pools the rollouts of its last logged steps (the
last ``analysis.collapse_window`` fraction of them, at least one) and carries the exact binomial
interval over those rollouts; across the seeds of a sweep group the final shares get the
two-level bootstrap (seeds, then rollouts) and the collapse step a bootstrap over seeds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.stats import spread
from rl_lab.environments.taxonomies import Taxonomy, get_taxonomy

DEFAULT_TAXONOMY = get_taxonomy()  # the schema's formats.taxonomy: rl_lab's terse/steps/tagged/other


def row_format(row: Mapping[str, Any], taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> str:
    label = row.get("format")
    return label if label in taxonomy.labels else taxonomy.classify(row.get("completion"))


def format_shares(labels: Iterable[str], formats: Sequence[str] = DEFAULT_TAXONOMY.labels) -> dict[str, float]:
    """Share of each of ``formats`` (every key present, summing to 1; zeros if empty)."""
    counts = Counter(labels)
    total = sum(counts[f] for f in formats)
    return {f: (counts[f] / total if total else 0.0) for f in formats}


def shannon_entropy(shares: Mapping[str, float]) -> float:
    """Entropy of the format shares in bits (0: one format; 2: four equal formats)."""
    return float(-sum(p * math.log2(p) for p in shares.values() if p > 0))


def shares_by_step(rollouts: Mapping[int, Sequence[Mapping[str, Any]]],
                   taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> dict[int, dict[str, float]]:
    return {step: format_shares((row_format(r, taxonomy) for r in rows), taxonomy.labels)
            for step, rows in sorted(rollouts.items()) if rows}


def shares_by_step_and_level(
    rollouts: Mapping[int, Sequence[Mapping[str, Any]]], taxonomy: Taxonomy = DEFAULT_TAXONOMY,
) -> dict[int, dict[int, dict[str, float]]]:
    """``{level: {step: shares}}`` over the steps where that level was sampled."""
    out: dict[int, dict[int, dict[str, float]]] = {}
    for step, rows in sorted(rollouts.items()):
        levels: dict[int, list[str]] = {}
        for r in rows:
            levels.setdefault(int(r.get("difficulty", -1)), []).append(row_format(r, taxonomy))
        for level, labels in levels.items():
            out.setdefault(level, {})[step] = format_shares(labels, taxonomy.labels)
    return dict(sorted(out.items()))


def collapse_point(shares: Mapping[int, Mapping[str, float]], threshold: float) -> tuple[int | None, str | None]:
    """``(collapse step, winning format)`` or ``(None, None)`` for no collapse (see module doc)."""
    steps = sorted(shares)
    if not steps:
        return None, None
    last = shares[steps[-1]]
    winner = max(last, key=lambda f: last[f])
    if not last[winner] > threshold:
        return None, None
    start = steps[-1]
    for step in reversed(steps):
        if shares[step].get(winner, 0.0) > threshold:
            start = step
        else:
            break
    return start, winner


def final_window(rollouts: Mapping[int, Sequence[Mapping[str, Any]]], window: float | None,
                 taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> dict[str, Any]:
    """Counts of each format among the rollouts of the last logged steps (the last ``window``
    fraction of the steps with rollouts, at least one; None: the last step alone), each share
    with its exact binomial interval over those rollouts."""
    steps = [s for s in sorted(rollouts) if rollouts[s]]
    if not steps:
        return {"final_window_steps": [], "final_rollouts": 0, "final_counts": {}, "final_share_interval": {}}
    k = 1 if window is None else max(1, math.ceil(window * len(steps)))
    chosen = steps[-k:]
    counts = Counter(row_format(r, taxonomy) for s in chosen for r in rollouts[s])
    total = sum(counts[f] for f in taxonomy.labels)
    return {
        "final_window_steps": chosen, "final_rollouts": total,
        "final_counts": {f: counts[f] for f in taxonomy.labels},
        "final_share_interval": {f: intervals.binomial(counts[f], total).to_dict() for f in taxonomy.labels} if total else {},
    }


def summarise_run(rollouts: Mapping[int, Sequence[Mapping[str, Any]]], threshold: float,
                  taxonomy: Taxonomy = DEFAULT_TAXONOMY, window: float | None = None) -> dict[str, Any]:
    """Per-step shares and entropy, overall and per level, with the collapse step and winner, and
    the final shares of the last logged steps with their intervals (``final_window``)."""
    overall = shares_by_step(rollouts, taxonomy)
    step, winner = collapse_point(overall, threshold)
    per_level = {}
    for level, level_shares in shares_by_step_and_level(rollouts, taxonomy).items():
        lstep, lwinner = collapse_point(level_shares, threshold)
        per_level[str(level)] = {
            "shares": {str(s): v for s, v in level_shares.items()},
            "entropy_bits": {str(s): shannon_entropy(v) for s, v in level_shares.items()},
            "collapse_step": lstep, "winner": lwinner,
        }
    return {
        "taxonomy": taxonomy.name,
        "labels": list(taxonomy.labels),
        "steps": sorted(overall),
        "rollouts_per_step": {str(s): len(rows) for s, rows in sorted(rollouts.items())},
        "shares": {str(s): v for s, v in overall.items()},
        "entropy_bits": {str(s): shannon_entropy(v) for s, v in overall.items()},
        "collapsed": step is not None,
        "collapse_step": step,
        "winner": winner,
        "final_shares": overall[max(overall)] if overall else None,
        **final_window(rollouts, window, taxonomy),
        "by_level": per_level,
    }


def aggregate_runs(summaries: Sequence[Mapping[str, Any]], seeds: Sequence[int | None]) -> dict[str, Any]:
    """Across seeds: mean/std/min/max of each format's share at each step (over the runs that
    logged that step), of the entropy, and of the collapse step (over runs that collapsed),
    plus the winner in each seed; the final shares and the collapse step with their 95%
    intervals over seeds (module doc)."""
    steps = sorted({int(s) for summ in summaries for s in summ["shares"]})
    formats = labels_of(summaries[0]) if summaries else []
    shares: dict[str, dict[str, Any]] = {}
    entropy: dict[str, Any] = {}
    for step in steps:
        rows = [summ["shares"][str(step)] for summ in summaries if str(step) in summ["shares"]]
        shares[str(step)] = {f: spread([r.get(f, 0.0) for r in rows]) for f in formats}
        entropy[str(step)] = spread([summ["entropy_bits"][str(step)] for summ in summaries if str(step) in summ["shares"]])
    winners = [summ["winner"] for summ in summaries]
    counted = [summ for summ in summaries if summ.get("final_rollouts")]
    final_interval = {f: intervals.seeds_bootstrap([intervals.flags(summ["final_counts"].get(f, 0), summ["final_rollouts"])
                                                    for summ in counted]).to_dict()
                      for f in formats} if counted and len(counted) == len(summaries) else {}
    steps_collapsed = [[summ["collapse_step"]] for summ in summaries if summ["collapse_step"] is not None]
    return {
        "labels": formats,
        "runs": len(summaries),
        "steps": steps,
        "shares": shares,
        "entropy_bits": entropy,
        "collapse_step": spread([summ["collapse_step"] for summ in summaries]),
        # over the seeds that collapsed (n = their count): when collapse happens, not whether
        "collapse_step_interval": intervals.seeds_bootstrap(steps_collapsed).to_dict() if steps_collapsed else None,
        # each format's share of the last logged steps' rollouts: seeds, then rollouts
        "final_share_interval": final_interval,
        "collapsed_runs": sum(summ["collapsed"] for summ in summaries),
        "winner_by_seed": [{"seed": seed, "winner": w} for seed, w in zip(seeds, winners, strict=True)],
        "winner_counts": dict(Counter(w if w else "no collapse" for w in winners)),
    }


def labels_of(summary: Mapping[str, Any]) -> list[str]:
    """The format labels of a summary (formats.json, or a group of one): as recorded, else the
    keys of its shares (files written before the taxonomy was recorded), else the default's."""
    if summary.get("labels"):
        return list(summary["labels"])
    for shares in (summary.get("shares") or {}).values():
        return list(shares)
    return list(DEFAULT_TAXONOMY.labels)
