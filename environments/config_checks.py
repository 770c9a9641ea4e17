"""What a config says about the environments, checked against the families and formats that exist.

The core schema (``rl_lab.core.config``) knows the shape of a config; this module knows the
families: their names, their levels (``levels: null`` means all the family has), the scoring
modes each supports, the answer formats the corpus can write and the format taxonomies
(``formats:``). ``rl_lab.config.load_config`` runs ``check_config``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rl_lab.core.errors import ConfigError
from rl_lab.environments import formats
from rl_lab.environments.registry import get_family
from rl_lab.environments.scoring import SCORINGS
from rl_lab.environments.taxonomies import RULES, Taxonomy, get_taxonomy, taxonomy_names

if TYPE_CHECKING:
    from rl_lab.core.config import Config, EnvironmentsConfig, FamilySpec


def taxonomy_of(cfg: Config) -> Taxonomy:
    """The format taxonomy the config's ``formats:`` section names (checked by ``check_config``)."""
    return get_taxonomy(cfg.formats.taxonomy, cfg.formats.rules)


def spec_levels(spec: FamilySpec) -> list[int]:
    """The levels a family spec uses: its own list, or every level of the family."""
    from rl_lab.environments.problem_sets import cached_family

    return list(spec.levels or cached_family(spec.name, spec.params).levels)


def levels_of(environments: EnvironmentsConfig, name: str) -> list[int]:
    """The levels used of the family called ``name`` in ``environments``."""
    spec = next((s for s in environments.families if s.name == name), None)
    if spec is None:
        raise KeyError(f"family {name!r} is not in environments.families")
    return spec_levels(spec)


def trained_levels(cfg: Config) -> list[int]:
    """Every level of the trained families, sorted."""
    return sorted({lv for s in cfg.environments.by_role("trained") for lv in spec_levels(s)})


def family_errors(families: Any) -> tuple[list[str], set[int]]:
    """Errors for family specs (FamilySpec objects or raw mappings) whose family or levels do not exist,
    and every level the valid ones use. Raw mappings of the wrong shape are left to the schema."""
    errors: list[str] = []
    all_levels: set[int] = set()
    for i, spec in enumerate(families if isinstance(families, list) else []):
        get = spec.get if isinstance(spec, dict) else lambda key, spec=spec: getattr(spec, key, None)
        name, params, levels, scoring = get("name"), get("params") or {}, get("levels"), get("scoring")
        if not isinstance(name, str) or not isinstance(params, dict):
            continue
        if name.startswith("rg:") and "scoring" in params:
            errors.append(f"environments.families.{i}.params.scoring: moved to environments.families.{i}.scoring "
                          f"(write `scoring: {params['scoring']}` next to `name:`)")
            continue
        try:
            family = get_family(name, params)
        except (KeyError, ValueError) as exc:
            errors.append(f"environments.families.{i}.name: {exc.args[0] if exc.args else exc}")
            continue
        for level in levels if isinstance(levels, list) else []:
            if level not in family.levels:
                errors.append(f"environments.families.{i}.levels: family {name!r} has no level {level}; "
                              f"allowed: {list(family.levels)} ({family.level_meaning})")
        if scoring in SCORINGS and scoring not in family.scorings:
            errors.append(f"environments.families.{i}.scoring: family {name!r} has no scoring mode {scoring!r}; "
                          f"allowed: {list(family.scorings)} (library is reasoning-gym's own scorer, rg: families only)")
        all_levels.update(levels if isinstance(levels, list) and levels else family.levels)
    return errors, all_levels


def check_config(cfg: Config) -> Config:
    """Raise ConfigError (field path + fix) when the config names families, levels or formats that do not exist."""
    errors, all_levels = family_errors(cfg.environments.families)
    try:
        taxonomy_of(cfg)
    except ValueError as exc:
        errors.append(str(exc))
    for i, name in enumerate(cfg.eval.extra_taxonomies):
        if name not in taxonomy_names() or name == RULES:
            errors.append(f"eval.extra_taxonomies.{i}: unknown taxonomy {name!r}; allowed: "
                          f"{[n for n in taxonomy_names() if n != RULES]} (rules: use formats.taxonomy)")
    for key in cfg.pretrain.format_mixture:
        if key not in formats.FORMATS:
            errors.append(f"pretrain.format_mixture: unknown format {key!r}; allowed: {list(formats.FORMATS)}")
    if cfg.train.sft_format not in formats.FORMATS:
        errors.append(f"train.sft_format: unknown format {cfg.train.sft_format!r}; allowed: {list(formats.FORMATS)}")
    if not errors:
        trained = trained_levels(cfg)
        cur = cfg.curriculum
        for level in [*(cur.levels or []), *([cur.hard_min_level] if cur.hard_min_level else [])]:
            if level not in trained:
                errors.append(f"curriculum.levels: level {level} is not a level of the trained families; "
                              f"allowed: {trained}")
        extra = sorted(set(cfg.pretrain.difficulty_weights or {}) - all_levels)
        if extra:
            errors.append(f"pretrain.difficulty_weights: levels {extra} exist in no family; "
                          f"allowed: {sorted(all_levels)}")
    if errors:
        raise ConfigError("invalid config:\n" + "\n".join(f"  {e}" for e in errors))
    return cfg
