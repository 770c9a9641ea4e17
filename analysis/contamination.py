"""Contamination of prior skills: probe accuracy at every checkpoint against the base, shortcut rates.

Probe rule (what counts as a *prior skill* for a run):
  1. every family with ``role: prior_skill``, at all its configured levels (``levels: null``: all
     the family has);
  2. every level of a trained family that the curriculum never draws:
     - ``fixed``: levels outside ``curriculum.levels`` (or weighted 0); null levels draw all;
     - ``hard_only``: levels below ``hard_min_level`` (default: the bottom half of the levels);
     - ``easy_to_hard``: levels outside ``curriculum.levels``, and levels whose unlock step
       (``curriculum.schedule``, evenly spaced when null) is >= ``train.steps``;
     - ``adaptive``: levels outside ``curriculum.levels`` (it may visit any level it lists).

Decoding: greedy by default (``analysis.probe_temperature``), so a probe's answer at a
checkpoint is deterministic (no seed variance to mistake for contamination at 32 problems per
level); a temperature > 0 samples with a fixed seed instead.  Probe problems come from
``build_problem_set`` with seed ``rl_lab.core.seeds.PROBES + cfg.seed``, a stream distinct from
training, eval and drift.

Everything here is a pure function of the config and of scored rows; answering the probes with
each checkpoint is ``analysis.contamination_run``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals, shortcuts
from rl_lab.analysis.stats import spread
from rl_lab.environments.config_checks import spec_levels


# --------------------------------------------------------------------------- probe selection (pure)
def drawn_levels(cfg) -> list[int]:
    """Levels of the trained families that the curriculum can ever draw (see module doc)."""
    cur = cfg.curriculum
    trained = sorted({lv for s in cfg.environments.by_role("trained") for lv in spec_levels(s)})
    levels = sorted(cur.levels) if cur.levels else trained
    if cur.kind == "fixed":
        if cur.weights is not None and cur.levels is not None:
            return sorted(lv for lv, w in zip(cur.levels, cur.weights, strict=True) if w > 0)
        return levels
    if cur.kind == "hard_only":
        if cur.hard_min_level is None:
            return levels[len(levels) // 2 :]
        return [lv for lv in levels if lv >= cur.hard_min_level]
    if cur.kind == "easy_to_hard":
        k = len(levels)
        schedule = list(cur.schedule) if cur.schedule is not None else [
            math.floor(i * cfg.train.steps / k) for i in range(1, k)
        ]
        return [levels[0], *(lv for lv, s in zip(levels[1:], schedule, strict=False) if s < cfg.train.steps)]
    return levels  # adaptive


def probe_cells(cfg) -> list[dict[str, Any]]:
    """``[{family, levels, role, params, scoring, reason}]``: the run's prior-skill probes, scored the way
    the config scores each family (a real model's probes need ``math``; ``exact`` would pay nothing)."""
    out = []
    drawn = set(drawn_levels(cfg))
    for spec in cfg.environments.families:
        levels = spec_levels(spec)
        if spec.role == "prior_skill":
            out.append({"family": spec.name, "levels": levels, "role": spec.role, "params": spec.params,
                        "scoring": spec.scoring, "reason": "prior_skill family"})
        else:
            undrawn = [lv for lv in levels if lv not in drawn]
            if undrawn:
                out.append({"family": spec.name, "levels": undrawn, "role": spec.role, "params": spec.params,
                            "scoring": spec.scoring, "reason": f"level never drawn by curriculum {cfg.curriculum.kind}"})
    return out


def probe_specs(cells: Sequence[Mapping[str, Any]]):
    from rl_lab.core.config import FamilySpec

    return [FamilySpec(name=c["family"], role=c["role"], levels=list(c["levels"]), params=dict(c["params"]),
                       **({"scoring": c["scoring"]} if c.get("scoring") else {}))  # files before scoring: the default
            for c in cells]


# --------------------------------------------------------------------------- scoring (pure)
def cell_key(row: Mapping[str, Any]) -> str:
    return f"{row['family']}/{int(row['difficulty'])}"


def accuracy_table(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy overall, per family and per family/level cell of scored probe rows (``correct`` in {0, 1})."""
    def acc(items: list[Mapping[str, Any]]) -> float:
        return sum(float(r["correct"]) for r in items) / len(items) if items else float("nan")

    cells: dict[str, list] = defaultdict(list)
    fams: dict[str, list] = defaultdict(list)
    for r in rows:
        cells[cell_key(r)].append(r)
        fams[r["family"]].append(r)
    return {
        "accuracy": acc(list(rows)), "n": len(rows),
        "by_family": {k: acc(v) for k, v in sorted(fams.items())},
        "by_cell": {k: acc(v) for k, v in sorted(cells.items())},
    }


def probe_vector(rows: Sequence[Mapping[str, Any]]) -> list[float]:
    """Correctness (1/0) of each probe in the order answered: the same problems at every checkpoint."""
    return [float(r["correct"]) for r in rows]


def accuracy_interval(per_seed: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Probe accuracy with its 95% interval: exact binomial for one run, the two-level bootstrap
    (seeds, then probes) over several."""
    if len(per_seed) == 1:
        vec = per_seed[0]
        return intervals.binomial(round(sum(vec)), len(vec)).to_dict()
    return intervals.seeds_bootstrap(per_seed).to_dict()


def change_interval(base: Sequence[Sequence[float]], final: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Prior-skill accuracy change (final - base) with its 95% interval: a paired bootstrap over the
    probes each run answered at both checkpoints, and over seeds when there are several (a run's
    probes come from its own seed, so probes are resampled within each seed)."""
    return intervals.paired_difference(base, final).to_dict()


def change_vs_base(per_step: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy change of every checkpoint against step 0 (overall, per family, per cell)."""
    if 0 not in per_step:
        raise ValueError("contamination needs the base checkpoint (checkpoints/step_0) to compare against")
    base = per_step[0]
    out = {}
    for step, table in sorted(per_step.items()):
        out[str(step)] = {
            "accuracy": table["accuracy"] - base["accuracy"],
            "by_family": {k: v - base["by_family"][k] for k, v in table["by_family"].items()},
            "by_cell": {k: v - base["by_cell"][k] for k, v in table["by_cell"].items()},
        }
    return out


def rollout_shortcuts(rollouts: Mapping[int, Sequence[Mapping[str, Any]]],
                      fraction: float = shortcuts.DEFAULT_LENGTH_FRACTION) -> dict[str, Any]:
    """Shortcut rates at each logged step.  Length collapse compares with the median length per
    level in the earliest rollouts file: at step 1 those completions come from the base weights
    (the first batch is generated before the first update)."""
    if not rollouts:
        return {"reference_step": None, "base_median_length": {}, "by_step": {}}
    first = min(rollouts)
    medians = shortcuts.median_lengths(rollouts[first], key="difficulty")
    return {
        "reference_step": first,
        "base_median_length": {str(k): v for k, v in medians.items()},
        "by_step": {str(s): shortcuts.rates(rows, medians, fraction) for s, rows in sorted(rollouts.items())},
    }


def comparison_table(trials: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Group trials by ``group`` (curriculum kind [+ other non-seed keys]) and give mean/std/min/max
    across seeds of: prior-skill accuracy change, final reward, and each shortcut rate (final
    rollouts step and final-checkpoint probes); with the trials' per-probe correctness
    (``probe_correct: {base, final}``) also the change's 95% interval over seeds and probes."""
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for t in trials:
        groups[t["group"]].append(t)
    table = {}
    for name, items in sorted(groups.items()):
        row: dict[str, Any] = {
            "curriculum": items[0].get("curriculum"),
            "seeds": [t.get("seed") for t in items],
            "prior_skill_accuracy_change": spread([t.get("prior_skill_accuracy_change") for t in items]),
            "final_reward": spread([t.get("final_reward") for t in items]),
        }
        vectors = [t.get("probe_correct") or {} for t in items]
        if all(v.get("base") and v.get("final") for v in vectors):
            row["prior_skill_accuracy_change_interval"] = change_interval([v["base"] for v in vectors],
                                                                          [v["final"] for v in vectors])
        for where in ("rollouts", "probes"):
            for name_ in shortcuts.SHORTCUTS:
                row[f"{where}/{name_}"] = spread([(t.get(f"{where}_shortcuts") or {}).get(name_) for t in items])
        table[name] = row
    return table
