"""``rl-lab data build CONFIG``: generate a config's problem sets and save them for inspection.

Writes ``<output_dir>/data/<split>/`` (``datasets.Dataset.save_to_disk``) plus a
``<split>.jsonl`` preview and ``summary.json`` with counts per family x level:

- ``train``: the trained families at their levels (what RL draws from);
- ``eval``:  every family at every level (what ``rl-lab eval`` scores);
- ``probes``: the prior-skill families (held out from RL).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rl_lab.config import load_config
from rl_lab.io import atomic_write_json, atomic_write_jsonl


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="experiment YAML")
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides")
    parser.add_argument("--per-level", type=int, default=None, help="problems per family x level (default: eval.problems_per_level)")
    parser.add_argument("--out", default=None, help="output directory (default: <output_dir>/data)")


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config, args.overrides)
    from environments.problem_sets import build_problem_set, problem_set_summary

    per_level = args.per_level or cfg.eval.problems_per_level
    if per_level < 1:
        print("error: --per-level must be >= 1")
        return 2
    out = Path(args.out) if args.out else cfg.root / "data"
    splits = {
        "train": cfg.environments.by_role("trained"),
        "eval": cfg.environments.families,
        "probes": cfg.environments.by_role("prior_skill"),
    }
    summary = {}
    for split, specs in splits.items():
        if not specs:
            continue
        dataset = build_problem_set(specs, per_level, seed=cfg.seed)
        dataset.save_to_disk(str(out / split))
        atomic_write_jsonl(out / f"{split}.jsonl", dataset.to_list())
        summary[split] = problem_set_summary(dataset)
        print(f"{split:>7}: {len(dataset):>6} problems -> {out / split}")
    atomic_write_json(out / "summary.json", summary)
    return 0
