"""Name -> family lookup. Built-in families by name, reasoning-gym datasets as ``rg:<dataset>``."""

from __future__ import annotations

from typing import Any

from rl_lab.environments.base import Family


def _builtin() -> dict[str, type[Family]]:
    from rl_lab.environments.addition import Addition
    from rl_lab.environments.chain import Chain
    from rl_lab.environments.comparison import Comparison
    from rl_lab.environments.modular import Modular
    from rl_lab.environments.multiplication import Multiplication

    return {cls.name: cls for cls in (Addition, Multiplication, Chain, Comparison, Modular)}


def family_names() -> list[str]:
    return sorted([*_builtin(), "gsm8k"])


def get_family(name: str, params: dict[str, Any] | None = None) -> Family:
    """Instantiate a family; raises KeyError naming the allowed families."""
    params = dict(params or {})
    if name.startswith("rg:"):
        from rl_lab.environments.reasoning_gym_adapter import ReasoningGymFamily

        return ReasoningGymFamily(name[3:], **params)
    if name == "gsm8k":  # needs params (a local data file), unlike the procedural families
        from rl_lab.environments.gsm8k import GSM8K

        return GSM8K.from_params(params)
    families = _builtin()
    if name not in families:
        raise KeyError(f"unknown family {name!r}; allowed: {family_names()} or 'rg:<reasoning-gym dataset>'")
    if params:
        raise ValueError(f"family {name!r} takes no params; got {sorted(params)}")
    return families[name]()
