"""Problem sets as ``datasets.Dataset`` and a dispatching verifier for their rows.

Columns of a problem set (one row per problem):

- ``prompt``: what the model is given (``question + "="`` for the procedural families);
- ``question``, ``answer``: the problem and its canonical answer string;
- ``family``, ``difficulty``, ``role``: the family name, integer level and role
  (``trained`` / ``prior_skill``) from the spec;
- ``metadata``: a JSON string of the problem's metadata, plus two reserved keys:
  ``scoring`` (the spec's scoring mode: how the row is verified) and, when the spec has
  params, ``family_params``, so a row alone can rebuild its family and verify
  (TRL hands reward functions the columns, not the config);
- ``work``: a JSON list of the intermediate results the ``steps`` format writes (empty for
  families without worked steps), so a row alone renders its correct solution (``render_solution``).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.environments.answers import NOTHING, Reading
from rl_lab.environments.base import Family, Problem
from rl_lab.environments.registry import get_family
from rl_lab.environments.scoring import EXACT, SCORING_KEY, scoring_of

log = logging.getLogger(__name__)
PARAMS_KEY = "family_params"  # reserved metadata key: the family's params, for verification
COLUMNS = ("prompt", "question", "answer", "family", "difficulty", "role", "metadata", "work")
TRIES_PER_PROBLEM = 20  # redraws allowed per requested problem before accepting duplicates


def _spec_field(spec: Any, key: str, default: Any = None) -> Any:
    """FamilySpec objects and plain dicts alike."""
    if isinstance(spec, Mapping):
        return spec.get(key, default)
    return getattr(spec, key, default)


@functools.lru_cache(maxsize=128)
def _family(name: str, params_json: str) -> Family:
    return get_family(name, json.loads(params_json))


def cached_family(name: str, params: Mapping[str, Any] | None = None) -> Family:
    """One family instance per (name, params): constructing some (reasoning-gym, files) is not free."""
    # Round-trip first: YAML may mix int and str keys (levels tables), which sort_keys can't order.
    canonical = json.loads(json.dumps(dict(params or {}), default=str))
    return _family(name, json.dumps(canonical, sort_keys=True))


def build_problem_set(
    specs: Sequence[Any], per_level: int, seed: int, levels: Mapping[str, Sequence[int]] | None = None
):
    """``per_level`` problems for every family x level of ``specs``, as a ``datasets.Dataset``.

    ``specs``: ``FamilySpec``-like objects or dicts (name, role, levels, params, scoring).
    ``levels``: optional ``{family name: [levels]}`` overriding the specs' levels.
    Deterministic for ``seed``; prompts are distinct within the set unless a level has
    fewer distinct problems than asked for (then duplicates fill the quota, logged).
    """
    from datasets import Dataset

    if isinstance(per_level, bool) or not isinstance(per_level, int) or per_level < 1:
        raise ValueError(f"per_level must be a positive integer, got {per_level!r}")
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for spec in specs:
        name = _spec_field(spec, "name")
        params = dict(_spec_field(spec, "params") or {})
        role = _spec_field(spec, "role") or "trained"
        scoring = _spec_field(spec, "scoring") or EXACT
        family = cached_family(name, params)
        if scoring not in family.scorings:
            raise ValueError(f"family {name!r} has no scoring mode {scoring!r}; allowed: {list(family.scorings)}")
        wanted = (levels or {}).get(name) or _spec_field(spec, "levels") or family.levels
        for level in wanted:
            family.check_level(level)
            # A string seed per cell: reproducible across processes (str hashing is not involved).
            rng = random.Random(f"problem-set:{seed}:{name}:{level}")
            rows.extend(_cell_rows(family, name, int(level), role, params, scoring, per_level, rng, seen))
    if not rows:
        raise ValueError("build_problem_set: no problems (empty specs or levels)")
    return Dataset.from_list(rows)


def spec_metadata(spec: Any) -> dict[str, Any]:
    """The reserved metadata keys a spec gives its rows: ``scoring`` and, when it has params,
    ``family_params``. With ``family`` and ``answer`` they are all ``verify_completion`` and
    ``read_completion`` need, e.g. for rollouts logged without their row's metadata."""
    params = dict(_spec_field(spec, "params") or {})
    return {SCORING_KEY: _spec_field(spec, "scoring") or EXACT, **({PARAMS_KEY: params} if params else {})}


def _cell_rows(family: Family, name: str, level: int, role: str, params: dict[str, Any], scoring: str,
               per_level: int, rng: random.Random, seen: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    duplicates: list[dict[str, Any]] = []
    for _ in range(per_level * TRIES_PER_PROBLEM):
        if len(out) == per_level:
            break
        problem = family.generate(level, rng)
        metadata = {**problem.metadata, **spec_metadata({"scoring": scoring, "params": params})}
        row = {
            "prompt": problem.prompt, "question": problem.question, "answer": problem.answer,
            "family": name, "difficulty": level, "role": role, "metadata": json.dumps(metadata, sort_keys=True),
            "work": json.dumps(list(problem.work)),  # what the steps format writes: the SFT arm renders from it
        }
        if row["prompt"] in seen:
            if len(duplicates) < per_level:
                duplicates.append(row)
            continue
        seen.add(row["prompt"])
        out.append(row)
    if len(out) < per_level:
        log.warning("%s level %d: only %d distinct problems found for %d requested; repeating some",
                    name, level, len(out), per_level)
        pool = duplicates or out
        out.extend(pool[i % len(pool)] for i in range(per_level - len(out)))
    return out


def _metadata_dict(raw: Any) -> dict[str, Any]:
    """Absent metadata is empty; corrupt metadata raises (the row can't be trusted, so it scores 0)."""
    if raw is None or raw == "":
        return {}
    value = dict(raw) if isinstance(raw, Mapping) else json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"metadata must be a JSON object, got {type(value).__name__}")
    return value


def _row_family(row_or_fields: Mapping[str, Any]) -> tuple[Family, dict[str, Any]]:
    """The family a row belongs to and the row's metadata without ``family_params``; raises on bad rows."""
    metadata = _metadata_dict(row_or_fields.get("metadata"))
    params = metadata.pop(PARAMS_KEY, None) or {}
    return cached_family(str(row_or_fields["family"]), params), metadata


def row_family(row_or_fields: Mapping[str, Any]) -> Family:
    """The family instance a problem-set row belongs to (its params come from the row's metadata)."""
    return _row_family(row_or_fields)[0]


def render_solution(row: Mapping[str, Any], fmt: str) -> str:
    """The correct completion of a problem-set row written in answer format ``fmt`` (the family's own
    renderer, as in the pretraining corpus). Raises ValueError for an unknown format or an answer the
    format cannot write."""
    family, metadata = _row_family(row)
    work = tuple(json.loads(row.get("work") or "[]"))
    problem = Problem(str(row["family"]), int(row["difficulty"]), str(row["question"]), str(row["answer"]),
                      work, metadata)
    return family.render(problem, fmt)


def verify_completion(row_or_fields: Mapping[str, Any], completion: object) -> float:
    """The family's reward in [0, 1] for ``completion`` on a problem-set row. Never raises.

    Needs ``family`` and ``answer``; uses ``metadata`` (JSON string or dict) when present, whose
    ``scoring`` names the mode. Unknown families, bad metadata and verifier errors all score 0.
    """
    try:
        family, metadata = _row_family(row_or_fields)
        value = float(family.verify(completion, str(row_or_fields["answer"]), metadata))
    except Exception as exc:
        log.debug("verify_completion failed: %s: %s", type(exc).__name__, exc)
        return 0.0
    return min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0


def read_completion(row_or_fields: Mapping[str, Any], completion: object) -> Reading:
    """The answer the row's verifier takes from ``completion`` (``Reading``: ``answer``, ``anchor``,
    ``candidates``, ``hedged``, ``reason``), in the row's scoring mode. Never raises: a bad row
    reads as nothing. This is what shortcut detectors should call for "the committed answer"."""
    try:
        family, metadata = _row_family(row_or_fields)
        return family.read(completion, str(row_or_fields["answer"]), metadata)
    except Exception:
        return NOTHING


def row_scoring(row_or_fields: Mapping[str, Any]) -> str:
    """The scoring mode of a row (``exact`` when its metadata names none or is unreadable)."""
    try:
        return scoring_of(_metadata_dict(row_or_fields.get("metadata")))
    except Exception:
        return EXACT


def problem_set_summary(dataset) -> dict[str, Any]:
    """Counts per family x difficulty (levels as string keys, JSON-ready), roles and distinct prompts."""
    families = dataset["family"]
    levels = dataset["difficulty"]
    counts = Counter(zip(families, levels, strict=True))
    by_family: dict[str, dict[str, int]] = {}
    for (family, level), n in sorted(counts.items()):
        by_family.setdefault(family, {})[str(level)] = n
    roles = Counter(zip(families, dataset["role"], strict=True))
    return {
        "problems": len(dataset),
        "distinct_prompts": len(set(dataset["prompt"])),
        "counts": by_family,
        "roles": {family: role for family, role in sorted(roles)},
    }
