"""What a verifier's reward means: a reward of 1 (up to float noise) is a solved problem.

Every accuracy, pass@k count and probe score in rl_lab counts solved completions with ``solved``.
"""

from __future__ import annotations

SOLVED_AT = 1.0 - 1e-6  # rewards are in [0, 1]; partial credit (reasoning-gym's library scoring) is not "solved"


def solved(reward: float) -> bool:
    return reward >= SOLVED_AT
