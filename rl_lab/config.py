"""Load an experiment config: the core schema (``rl_lab.core.config``) plus the checks against
the environments (``rl_lab.environments.config_checks``). Every command loads its config here,
so a bad field exits 2 with its path and the fix before anything is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.core.config import Config, load_raw, validate_schema
from rl_lab.core.errors import ConfigError
from rl_lab.environments.config_checks import check_config, family_errors
from rl_lab.train.trl_args import check_trl_options


def validate_config(data: Any) -> Config:
    """A fully checked ``Config`` from a mapping. Raises ConfigError; writes nothing."""
    try:
        cfg = validate_schema(data)
    except ConfigError as exc:
        # An unknown family explains most later errors: name it first.
        families = ((data.get("environments") or {}) if isinstance(data, dict) else {})
        unknown, _ = family_errors(families.get("families") if isinstance(families, dict) else None)
        if unknown:
            raise ConfigError("invalid config:\n" + "\n".join(f"  {e}" for e in unknown) + "\n"
                              + str(exc).removeprefix("invalid config:\n")) from None
        raise
    check_config(cfg)
    check_trl_options(cfg)
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read ``path``, apply dotted ``overrides`` and validate. Raises ConfigError; writes nothing."""
    return validate_config(load_raw(path, overrides))
