"""The controlled pretraining corpus: problems from the environments, each written
in one answer format, with format and difficulty shares fixed by the config.

Formats are assigned by exact quota (not by independent draws), so the corpus
holds the declared mixture to within one document, and the manifest records
exactly what went in.  That is what lets a study answer "was it already in the
base model?".
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from typing import Any

from rl_lab.core.config import Config
from rl_lab.environments.config_checks import spec_levels


def _quota(weights: dict[Any, float], total: int, rng: random.Random) -> list[Any]:
    """``total`` labels with counts proportional to ``weights`` (largest remainder), shuffled."""
    norm = sum(weights.values())
    raw = {k: total * w / norm for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True)[: total - sum(counts.values())]:
        counts[k] += 1
    labels = [k for k, c in counts.items() for _ in range(c)]
    rng.shuffle(labels)
    return labels


def build_corpus(cfg: Config):
    """Return ``(datasets.Dataset, manifest)`` for the config's pretraining mixture."""
    from datasets import Dataset

    from rl_lab.environments.registry import get_family

    pre = cfg.pretrain
    rng = random.Random(f"corpus-{cfg.seed}")
    n = pre.num_examples
    families = {s.name: (get_family(s.name, s.params), spec_levels(s), s.role)
                for s in cfg.environments.families}
    family_weights = pre.family_weights or {name: 1.0 for name in families}
    family_labels = _quota({name: family_weights.get(name, 0.0) for name in families}, n, rng)
    format_labels = _quota({f: w for f, w in pre.format_mixture.items() if w > 0}, n, rng)
    rows: list[dict[str, Any]] = []
    for name, fmt in zip(family_labels, format_labels, strict=True):
        family, levels, role = families[name]
        weights = [(pre.difficulty_weights or {}).get(lv, 0.0 if pre.difficulty_weights else 1.0) for lv in levels]
        if sum(weights) <= 0:
            weights = [1.0] * len(levels)
        level = rng.choices(levels, weights=weights)[0]
        problem = family.generate(level, rng)
        rows.append({
            "prompt": problem.prompt, "completion": family.render(problem, fmt), "answer": problem.answer,
            "family": name, "difficulty": level, "format": fmt, "role": role,
        })
    dataset = Dataset.from_list(rows)
    return dataset, corpus_manifest(cfg, rows)


def corpus_manifest(cfg: Config, rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    fmt_counts = Counter(r["format"] for r in rows)
    cells = Counter((r["family"], r["difficulty"], r["format"]) for r in rows)
    digest = hashlib.sha256("".join(r["prompt"] + r["completion"] + "\n" for r in rows).encode()).hexdigest()
    by_family: dict[str, dict[str, dict[str, int]]] = {}
    for (fam, level, fmt), count in sorted(cells.items()):
        by_family.setdefault(fam, {}).setdefault(str(level), {})[fmt] = count
    return {
        "documents": n,
        "seed": cfg.seed,
        "declared_format_mixture": cfg.pretrain.format_mixture,
        "format_counts": dict(fmt_counts),
        "format_shares": {f: fmt_counts[f] / n for f in cfg.pretrain.format_mixture},
        "difficulty_weights": cfg.pretrain.difficulty_weights,
        "family_weights": cfg.pretrain.family_weights,
        "family_counts": dict(Counter(r["family"] for r in rows)),
        "families": {s.name: {"role": s.role, "levels": spec_levels(s)} for s in cfg.environments.families},
        "counts_by_family_level_format": by_family,
        "distinct_prompts": len({r["prompt"] for r in rows}),
        "characters": sum(len(r["prompt"]) + len(r["completion"]) for r in rows),
        "sha256": digest,
        "examples": rows[:12],
    }
