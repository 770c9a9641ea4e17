"""A config's problem sets on disk, for inspection (``rl-lab data build``).

Writes ``<output_dir>/data/<split>/`` (``datasets.Dataset.save_to_disk``) plus a
``<split>.jsonl`` preview and ``summary.json`` with counts per family x level:

- ``train``: the trained families at their levels (what RL draws from);
- ``eval``:  every family at every level (what ``rl-lab eval`` scores);
- ``probes``: the prior-skill families (held out from RL).
"""

from __future__ import annotations

from pathlib import Path

from rl_lab.core.config import Config
from rl_lab.core.io import atomic_write_json, atomic_write_jsonl


def write_problem_sets(cfg: Config, per_level: int, out: Path) -> dict[str, int]:
    """Write each split (train / eval / probes) with ``per_level`` problems per family x level; return sizes."""
    from rl_lab.environments.problem_sets import build_problem_set, problem_set_summary

    splits = {
        "train": cfg.environments.by_role("trained"),
        "eval": cfg.environments.families,
        "probes": cfg.environments.by_role("prior_skill"),
    }
    summary, sizes = {}, {}
    for split, specs in splits.items():
        if not specs:
            continue
        dataset = build_problem_set(specs, per_level, seed=cfg.seed)
        dataset.save_to_disk(str(out / split))
        atomic_write_jsonl(out / f"{split}.jsonl", dataset.to_list())
        summary[split] = problem_set_summary(dataset)
        sizes[split] = len(dataset)
    atomic_write_json(out / "summary.json", summary)
    return sizes
