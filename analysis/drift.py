"""Drift from the base: token-level KL between base and tuned policies along sampled sequences.

With rl_lab's small vocabulary the KL of the next-token distributions is summed exactly
over the vocabulary at each position (no single-sample estimate), then averaged along
sampled sequences:

- ``forward``  = KL(base || tuned), positions of sequences sampled from the *base*
  (RL's Razor, Shenfeld et al. 2025: E_{x, y~pi_0}[KL(pi_0 || pi)] predicts forgetting);
- ``reverse``  = KL(tuned || base), positions of sequences sampled from the *tuned* model
  (what a KL penalty in the RL loss controls).

Both are reported per token (total KL / completion tokens) and per sequence (mean over
sequences of the summed KL); the per-token value carries a 95% interval from a bootstrap over
prompts (and over seeds for a sweep's group), from the per-sequence records each block keeps.  Samples are drawn at temperature 1, top-p 1 (by
``analysis.drift_run.sample_sequences``), so the averages are expectations under the models'
own distributions; this module only scores given sequences.  Held-out prompts: the trained
families at the levels the curriculum draws, from ``build_problem_set`` with seed
``rl_lab.core.seeds.DRIFT + cfg.seed`` (a stream distinct from training, eval and probes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rl_lab.analysis import intervals
from rl_lab.analysis.stats import spread
from rl_lab.core import seeds
from rl_lab.environments.config_checks import spec_levels

FORWARD = "forward_kl_base_tuned_on_base_samples"  # KL(base || tuned) on base samples
REVERSE = "reverse_kl_tuned_base_on_tuned_samples"  # KL(tuned || base) on tuned samples


def token_kl(logp_p, logp_q):
    """Exact KL(p || q) summed over the last (vocabulary) axis, from log-probabilities (torch)."""
    import torch

    return torch.sum(torch.exp(logp_p) * (logp_p - logp_q), dim=-1)


def summarise(per_sequence_token_kls: Sequence[Sequence[float]]) -> dict[str, Any]:
    """``per_token``: total KL / total tokens; ``per_sequence``: mean of per-sequence sums (+ sample std);
    ``sequence_kl`` / ``sequence_tokens``: each sequence's summed KL and length, in sampling order
    (what ``per_token_interval`` resamples)."""
    sums = [float(sum(s)) for s in per_sequence_token_kls]
    lengths = [len(s) for s in per_sequence_token_kls]
    tokens = sum(lengths)
    over_sequences = spread(sums)
    return {
        "per_token": (sum(sums) / tokens) if tokens else float("nan"),
        "per_sequence": over_sequences["mean"] if sums else float("nan"),
        "per_sequence_std": over_sequences["std"] or 0.0, "sequences": len(sums), "tokens": tokens,
        "sequence_kl": sums, "sequence_tokens": lengths,
    }


def per_prompt(block: Mapping[str, Any], samples_per_prompt: int) -> tuple[list[float], list[float]] | None:
    """``(KL per token, tokens)`` of each prompt's samples (consecutive runs of ``samples_per_prompt``
    sequences, the order ``drift_run.sample_sequences`` draws them); None when the block predates
    per-sequence records. Prompts whose samples have no token are dropped (nothing to weigh)."""
    kl, tokens = block.get("sequence_kl"), block.get("sequence_tokens")
    if not kl or not tokens or len(kl) != len(tokens):
        return None
    m = max(1, int(samples_per_prompt))
    values, weights = [], []
    for i in range(0, len(kl), m):
        t = sum(tokens[i : i + m])
        if t > 0:
            values.append(sum(kl[i : i + m]) / t)
            weights.append(float(t))
    return (values, weights) if values else None


def per_token_interval(blocks: Sequence[Mapping[str, Any]], samples_per_prompt: int) -> dict[str, Any] | None:
    """KL per token with its 95% interval: one block per seed (run), a bootstrap over seeds and then
    prompts (a prompt's samples are resampled together: they share the prompt), each resample's
    statistic total KL / total tokens, as ``per_token`` is. None without per-sequence records."""
    parts = [per_prompt(b, samples_per_prompt) for b in blocks]
    if not parts or any(p is None for p in parts):
        return None
    est = intervals.seeds_bootstrap([p[0] for p in parts], weights=[p[1] for p in parts])
    return est.to_dict()


def _batches(sequences: Sequence[tuple[list[int], list[int]]], pad_id: int, batch_size: int):
    """``(chunk, ids, mask)`` per batch of (prompt ids, completion ids), right-padded: real tokens keep
    positions 0..L-1 without position_ids bookkeeping."""
    import torch

    for start in range(0, len(sequences), batch_size):
        chunk = list(sequences[start : start + batch_size])
        full = [p + c for p, c in chunk]
        width = max(len(x) for x in full)
        ids = torch.full((len(full), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(full), width), dtype=torch.long)
        for i, x in enumerate(full):
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        yield chunk, ids, mask


def sequence_kls(model_p, model_q, sequences: Sequence[tuple[list[int], list[int]]], pad_id: int,
                 batch_size: int = 64) -> list[list[float]]:
    """Per completion token, KL(p || q) of the next-token distributions that produced it."""
    import torch

    out: list[list[float]] = []
    for chunk, ids, mask in _batches(sequences, pad_id, batch_size):
        with torch.no_grad():
            logp = torch.log_softmax(model_p(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            logq = torch.log_softmax(model_q(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            kl = token_kl(logp, logq)  # [batch, width]: KL of the distribution at each position
        for i, (p, c) in enumerate(chunk):
            # logits at position t predict token t+1: completion tokens sit at len(p)..len(p)+len(c)-1
            out.append(kl[i, len(p) - 1 : len(p) - 1 + len(c)].tolist())
    return out


def forced_start_kls(base, sequences: Sequence[tuple[list[int], list[int]]], prefix_len: int,
                     allowed: Sequence[int] | None, pad_id: int, batch_size: int = 64) -> list[list[float]]:
    """Per completion token, KL(forced || base) along sequences sampled with format forcing
    (``Sampler.sample_ids(forcing=...)``: the first ``prefix_len`` completion tokens are the forced prefix).

    The forced policy is the base conditioned on how its answer starts: one-hot on each prefix token
    (KL = -log p_base(token)); then, with a first-token constraint, the base renormalised over the
    ``allowed`` ids (KL = -log of the base's mass on them); then the base itself (KL 0). Summed over a
    sequence this is -log P_base(the forced start | prompt), exactly. The other direction,
    KL(base || forced), is infinite: the forced policy never starts an answer the way the base otherwise may.
    """
    import torch

    out: list[list[float]] = []
    allowed_ids = None if allowed is None else torch.tensor(list(allowed), dtype=torch.long)
    for chunk, ids, mask in _batches(sequences, pad_id, batch_size):
        with torch.no_grad():
            logq = torch.log_softmax(base(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        for i, (p, c) in enumerate(chunk):
            kls = [0.0] * len(c)
            for t in range(min(prefix_len, len(c))):
                kls[t] = -float(logq[i, len(p) - 1 + t, c[t]])
            if allowed_ids is not None and prefix_len < len(c):
                at = logq[i, len(p) - 1 + prefix_len]
                kls[prefix_len] = -float(torch.logsumexp(at[allowed_ids[allowed_ids < at.shape[0]]], dim=0))
            out.append(kls)
    return out


def drift_between(base, tuned, base_samples, tuned_samples, pad_id: int, batch_size: int = 64) -> dict[str, Any]:
    """Both directions, labelled (see module doc)."""
    return {
        FORWARD: summarise(sequence_kls(base, tuned, base_samples, pad_id, batch_size)),
        REVERSE: summarise(sequence_kls(tuned, base, tuned_samples, pad_id, batch_size)),
    }


INFINITE = {"per_token": None, "infinite": True,
            "why": "the forced policy gives probability 0 to every answer the base starts another way"}


def forced_drift(base, forced_samples, prefix_len: int, allowed: Sequence[int] | None, pad_id: int,
                 batch_size: int = 64) -> dict[str, Any]:
    """Drift of format forcing from its base (``forced_start_kls``): the reverse direction measured, the
    forward one infinite by construction (recorded as such, per_token None)."""
    return {FORWARD: dict(INFINITE),
            REVERSE: summarise(forced_start_kls(base, forced_samples, prefix_len, allowed, pad_id, batch_size))}


def drift_prompts(cfg, count: int | None = None) -> list[dict]:
    """Held-out problems of the trained task (see module doc), ``analysis.drift_prompts`` of them, as
    problem-set rows (``rl_lab.prompting`` renders them the way the run showed prompts to the policy)."""
    import math
    import random

    from rl_lab.analysis.contamination import drawn_levels
    from rl_lab.environments.problem_sets import build_problem_set

    count = count or cfg.analysis.drift_prompts
    drawn = set(drawn_levels(cfg))
    specs = []
    for s in cfg.environments.by_role("trained"):
        levels = [lv for lv in spec_levels(s) if lv in drawn]
        if levels:
            specs.append(s.model_copy(update={"levels": levels}))  # scoring and params kept
    cells = sum(len(s.levels) for s in specs)
    problems = build_problem_set(specs, max(1, math.ceil(count / cells)), seed=seeds.stream(seeds.DRIFT, cfg.seed))
    rows = problems.to_list()
    random.Random(seeds.stream(seeds.DRIFT, cfg.seed)).shuffle(rows)
    return rows[:count]
