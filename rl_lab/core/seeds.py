"""Seed streams: every use of randomness draws from ``offset + config seed``, one offset per purpose,
so eval problems, probes, drift prompts and pass@k problems never coincide with each other or with
the training pool (which uses the config seed itself)."""

from __future__ import annotations

EVAL = 10_000  # rl-lab eval: problems and sampling
PROBES = 20_000  # prior-skill probes (contamination)
DRIFT = 30_000  # drift prompts and samples
PASSK = 40_000  # pass@k problems and samples
FORCING = 50_000  # format forcing: problems and sampling
ROLLOUT_SAMPLE = 1_000_003  # multiplier: which rollouts of a step are written (seed * this + step)


def stream(offset: int, seed: int) -> int:
    """The seed of one stream for a config seed."""
    return offset + seed
