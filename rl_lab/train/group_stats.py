"""Where a GRPO update comes from: groups with exactly one success among G rollouts.

With binary rewards and group-normalised advantages, the lone success of a group gets advantage
(G - 1) / sqrt(G) under TRL's Bessel-corrected std (2.47 at G = 8; sqrt(G - 1) = 2.65 with the
population std): rare lucky successes on too-hard problems can dominate an update. These pure
functions measure that share from what the trainer already computed.
"""

from __future__ import annotations

from collections.abc import Sequence

from rl_lab.environments.scoring import solved


def group_update_shares(advantages: Sequence[float], tokens: Sequence[float], rewards: Sequence[float],
                        group_size: int) -> dict[str, float]:
    """Shares of a batch's groups and of its update weight that come from one-success groups, and the
    share of groups whose correctness does not vary (all solved or none: no signal from the verifier;
    TRL's ``frac_reward_zero_std`` is the same about the total reward, format reward included).

    ``advantages``, ``tokens`` (loss tokens per completion) and ``rewards`` (verifier rewards) are in
    sampler order: ``group_size`` consecutive completions per prompt. The update weight of a
    completion is |advantage| x tokens (its gradient weight under token-level losses such as dapo).
    """
    n = len(advantages)
    if n == 0 or n % group_size or len(tokens) != n or len(rewards) != n:
        return {}
    weight = [abs(a) * t for a, t in zip(advantages, tokens, strict=True)]
    groups = n // group_size
    one = zero_var = 0
    one_weight = 0.0
    for g in range(groups):
        block = slice(g * group_size, (g + 1) * group_size)
        successes = sum(solved(r) for r in rewards[block])
        if successes == 1:
            one += 1
            one_weight += sum(weight[block])
        if successes in (0, group_size):
            zero_var += 1
    total = sum(weight)
    return {
        "groups/one_success_share": one / groups,
        "groups/zero_variance_share": zero_var / groups,
        "groups/one_success_update_share": one_weight / total if total > 0 else 0.0,
    }


def lone_success_advantage(group_size: int) -> float:
    """The advantage TRL gives the only success of a group of ``group_size`` binary rewards."""
    return (group_size - 1) / group_size**0.5
