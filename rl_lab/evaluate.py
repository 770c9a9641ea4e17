"""Evaluate a checkpoint (``rl-lab eval``): accuracy per family x difficulty and the
format shares of sampled completions, overall and per answer format.

Completions are *sampled* (``eval.temperature``, 1.0 by default) because the
question is what the model's output distribution holds: at temperature 1 the
format shares of a well-trained base model should match the corpus mixture.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rl_lab.core import seeds
from rl_lab.core.config import Config
from rl_lab.core.io import atomic_write_json, atomic_write_text
from rl_lab.environments.taxonomies import OTHER, get_taxonomy

if TYPE_CHECKING:
    from rl_lab.core.forcing import Forcing
    from rl_lab.core.model_spec import ModelSpec
    from rl_lab.core.sampler import Sampler


def eval_problem_set(cfg: Config):
    from rl_lab.environments.problem_sets import build_problem_set

    # A seed stream of its own, so evaluation problems are drawn independently of the corpus.
    return build_problem_set(cfg.environments.families, cfg.eval.problems_per_level, seed=seeds.stream(seeds.EVAL, cfg.seed))


def summarise(rows: list[dict[str, Any]], labels: tuple[str, ...] = get_taxonomy("controlled").labels) -> dict[str, Any]:
    """Pure aggregation of scored samples (family, difficulty, format, reward) into the eval report;
    ``labels``: the format taxonomy's labels, ``other`` last."""
    formats = [label for label in labels if label != OTHER]
    cells: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        cells[(row["family"], row["difficulty"])].append(row)

    def shares(items: list[dict[str, Any]]) -> dict[str, float]:
        counts = Counter(r["format"] for r in items)
        return {f: counts[f] / len(items) for f in labels}

    def by_format(items: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
        out = {}
        for fmt in formats:
            sub = [r for r in items if r["format"] == fmt]
            out[fmt] = {"n": len(sub), "accuracy": sum(r["reward"] for r in sub) / len(sub) if sub else None}
        return out

    table = []
    for (family, level), items in sorted(cells.items()):
        table.append({
            "family": family, "difficulty": level, "n": len(items),
            "accuracy": sum(r["reward"] for r in items) / len(items),
            "format_shares": shares(items), "accuracy_by_format": by_format(items),
        })
    return {
        "labels": list(labels),
        "samples": len(rows),
        "accuracy": sum(r["reward"] for r in rows) / len(rows) if rows else 0.0,
        "format_shares": shares(rows) if rows else {},
        "accuracy_by_format": by_format(rows),
        "cells": table,
    }


def relabelled(rows: list[dict[str, Any]], taxonomy) -> dict[str, Any]:
    """Format shares (overall and per family x level) of the same samples under another taxonomy."""
    again = [{**r, "format": taxonomy.classify(r["completion"])} for r in rows]
    summary = summarise(again, taxonomy.labels)
    return {"labels": summary["labels"], "format_shares": summary["format_shares"],
            "cells": [{k: c[k] for k in ("family", "difficulty", "n", "format_shares")} for c in summary["cells"]]}


def eval_rows(cfg: Config, sampler: Sampler, forcing: Forcing | None = None, progress: bool = False,
              problems: Any = None, seed: int | None = None) -> list[dict[str, Any]]:
    """One sampled answer per problem (default: the eval problem set, at ``eval.*`` decoding), scored and
    labelled with the config's taxonomy: rows of family, difficulty, format, reward, prompt, completion.
    ``forcing`` starts every answer in one format."""
    from rl_lab.core.model_spec import base_path
    from rl_lab.environments.config_checks import taxonomy_of
    from rl_lab.environments.problem_sets import verify_completion
    from rl_lab.prompting import check_prompt_support, render_all

    check_prompt_support(cfg.prompt, sampler.tokenizer, str(base_path(sampler.spec)))
    taxonomy = taxonomy_of(cfg)
    problems = eval_problem_set(cfg) if problems is None else problems
    ev = cfg.eval
    prompts = render_all(problems, cfg.prompt, sampler.tokenizer)
    completions = sampler.sample(
        prompts, n=1, temperature=ev.temperature, top_p=ev.top_p, max_new_tokens=ev.max_new_tokens,
        batch_size=ev.batch_size, seed=cfg.seed if seed is None else seed, progress=progress, forcing=forcing,
    )
    rows = []
    for problem, prompt, (completion,) in zip(problems, prompts, completions, strict=True):
        rows.append({
            "family": problem["family"], "difficulty": problem["difficulty"], "format": taxonomy.classify(completion),
            "reward": verify_completion(problem, completion), "prompt": prompt, "completion": completion,
        })
    return rows


def evaluate_model(cfg: Config, model: str | Path | ModelSpec, out_dir: Path | None = None, progress: bool = True,
                   ) -> dict[str, Any]:
    """Accuracy and format shares of ``model``, a checkpoint directory or a model spec
    (``rl_lab.core.model_spec``: ``proxy:...``, ``steer:...``), sampled once per eval problem."""
    from rl_lab.core.model_spec import PlainSpec, parse_model_spec
    from rl_lab.core.sampler import load_sampler
    from rl_lab.environments.config_checks import taxonomy_of

    spec = parse_model_spec(model)  # exit-2 errors before anything is loaded
    sampler = load_sampler(spec, cfg.model.dtype)
    rows = eval_rows(cfg, sampler, progress=progress)
    taxonomy = taxonomy_of(cfg)
    ev = cfg.eval
    # the declared mixture is the controlled corpus's: it describes the base model only in that taxonomy
    plain = isinstance(spec, PlainSpec)
    declared = cfg.pretrain.format_mixture if taxonomy.name == "controlled" and not cfg.model.path and plain else None
    report = {
        "model": str(spec), "sampler": sampler.describe(), "temperature": ev.temperature, "top_p": ev.top_p,
        "problems_per_level": ev.problems_per_level, "taxonomy": taxonomy.name, "prompt_style": cfg.prompt.style,
        "declared_format_mixture": declared, **summarise(rows, taxonomy.labels),
        "other_taxonomies": {name: relabelled(rows, get_taxonomy(name)) for name in ev.extra_taxonomies},
        "examples": rows[:20],
    }
    if out_dir is not None:
        atomic_write_json(Path(out_dir) / "eval.json", report)
        atomic_write_text(Path(out_dir) / "eval.txt", format_table(report) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """A plain-text table: one row per family x difficulty, then overall shares against the declared mixture."""
    labels = report.get("labels") or list(report["format_shares"])
    width = max(8, *(len(f) + 2 for f in labels))
    head = f"{'family':<14}{'level':>5}{'n':>6}{'acc':>7}  " + "".join(f"{f:>{width}}" for f in labels)
    head += "  " + "".join(f"{'acc:' + f[:5]:>11}" for f in labels if f != OTHER)
    lines = [head, "-" * len(head)]
    for cell in report["cells"]:
        acc_fmt = "".join(
            f"{'-' if v['accuracy'] is None else format(v['accuracy'], '.2f'):>7}({v['n']:>3})"
            for v in cell["accuracy_by_format"].values()
        )
        lines.append(
            f"{cell['family']:<14}{cell['difficulty']:>5}{cell['n']:>6}{cell['accuracy']:>7.2f}  "
            + "".join(f"{cell['format_shares'][f]:>{width}.2f}" for f in labels) + "  " + acc_fmt
        )
    declared = report.get("declared_format_mixture")
    lines.append("-" * len(head))
    for name, other in (report.get("other_taxonomies") or {}).items():
        lines.append(f"format shares under {name}: "
                     + ", ".join(f"{f} {v:.3f}" for f, v in other["format_shares"].items()))
    lines.append(
        f"overall accuracy {report['accuracy']:.3f} over {report['samples']} samples; format shares: "
        + ", ".join(f"{f} {report['format_shares'].get(f, 0):.3f}"
                    + (f" (declared {declared.get(f, 0):.2f})" if declared is not None else "") for f in labels)
    )
    return "\n".join(lines)
