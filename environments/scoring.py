"""What a verifier's reward means, and the scoring modes a family can be verified in.

A reward of 1 (up to float noise) is a solved problem: every accuracy, pass@k count and probe
score in rl_lab counts solved completions with ``solved``.

Scoring modes (``environments.families[i].scoring`` in the config; docs/environments.md):

- ``exact``: rl_lab's controlled shapes (``132``, ``[...] 132``, ``<answer>132</answer>``),
  compared exactly; the default, for the models rl_lab pretrains. GSM8K's exact mode reads the
  final number of free text (``answers.read_number``) and compares it exactly.
- ``math``: answers written the way real models write them, read by ``answers`` and compared
  for mathematical equivalence by math-verify (``math_scoring``).
- ``library``: reasoning-gym's own ``score_answer`` (reasoning-gym families only).

The mode travels with each problem-set row (``metadata["scoring"]``), so a row alone says how it
is verified; rows without it are ``exact``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SOLVED_AT = 1.0 - 1e-6  # rewards are in [0, 1]; partial credit (reasoning-gym's library scoring) is not "solved"

EXACT, MATH, LIBRARY = "exact", "math", "library"
SCORINGS: tuple[str, ...] = (EXACT, MATH, LIBRARY)
SCORING_KEY = "scoring"  # reserved problem-set metadata key


def solved(reward: float) -> bool:
    return reward >= SOLVED_AT


def scoring_of(metadata: Mapping[str, Any] | None) -> str:
    """The scoring mode a row's metadata names (``exact`` when absent)."""
    mode = metadata.get(SCORING_KEY, EXACT) if isinstance(metadata, Mapping) else EXACT
    return mode if isinstance(mode, str) else ""
