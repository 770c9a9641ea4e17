"""Reward functions for TRL's GRPOTrainer: the environments' verifiers, and a format reward.

TRL calls each reward function with ``prompts``, ``completions``, every dataset
column as a list (``answer``, ``family``, ``difficulty``, ``metadata`` ...),
``trainer_state`` and ``log_metric``.  The verifier reward also feeds the
curriculum (pass rate per prompt group) and the rollout recorder, and logs the
per-level accuracy and format shares through ``log_metric`` so they land in
TRL's logs beside ``reward``, ``entropy`` and ``kl``.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from rl_lab.environments.scoring import solved
from rl_lab.environments.taxonomies import OTHER, Taxonomy, get_taxonomy
from rl_lab.prompting import completion_text, prompt_text

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- pure metrics
def batch_metrics(levels: Sequence[int], rewards: Sequence[float], formats: Sequence[str],
                  labels: Sequence[str] = get_taxonomy("controlled").labels) -> dict[str, float]:
    """Accuracy overall and per level, format shares, and the share of each level in the batch."""
    n = len(rewards)
    if n == 0:
        return {}
    out: dict[str, float] = {"accuracy": sum(solved(r) for r in rewards) / n}
    by_level: dict[int, list[float]] = defaultdict(list)
    for lv, r in zip(levels, rewards, strict=True):
        by_level[int(lv)].append(r)
    for lv in sorted(by_level):
        vals = by_level[lv]
        out[f"accuracy/level_{lv}"] = sum(solved(v) for v in vals) / len(vals)
        out[f"curriculum/share_level_{lv}"] = len(vals) / n
    counts = Counter(formats)
    for label in labels:
        out[f"format/{label}"] = counts.get(label, 0) / n
    return out


def group_pass_rates(
    indices: Sequence[int], levels: Sequence[int], rewards: Sequence[float]
) -> list[tuple[int, int, float]]:
    """``(pool index, level, mean reward)`` per prompt, in first-seen order."""
    sums: dict[int, list[float]] = {}
    level_of: dict[int, int] = {}
    for i, lv, r in zip(indices, levels, rewards, strict=True):
        sums.setdefault(int(i), []).append(float(r))
        level_of[int(i)] = int(lv)
    return [(i, level_of[i], sum(v) / len(v)) for i, v in sums.items()]


# --------------------------------------------------------------------------- verification
def _default_verify() -> Callable[[dict[str, Any], str], float]:
    from rl_lab.environments.problem_sets import verify_completion

    return verify_completion


def safe_verify(verify: Callable[[dict[str, Any], str], float], fields: dict[str, Any], completion: str) -> tuple[float, bool]:
    """``(reward in [0, 1], raised?)``: a verifier that raises or returns junk scores 0, never stops the run."""
    try:
        value = float(verify(fields, completion))
    except Exception as exc:
        log.warning("verifier for family %r raised %s: %s", fields.get("family"), type(exc).__name__, exc)
        return 0.0, True
    if value != value or value < 0 or value > 1:  # NaN or out of range
        return 0.0, True
    return value, False


class RolloutBuffer:
    """Rollouts seen since the last logged step; the recorder samples and clears it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def take_sample(self, k: int, seed: int) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        if k >= len(rows):
            return rows
        picked = sorted(random.Random(seed).sample(range(len(rows)), k))
        return [rows[i] for i in picked]


class VerifierReward:
    """Reward = the environment verifier's score of each completion (1 solved, 0 not)."""

    __name__ = "correct"  # TRL names the metric rewards/<__name__>/mean

    def __init__(
        self,
        verify: Callable[[dict[str, Any], str], float] | None = None,
        curriculum=None,  # rl_lab.train.curriculum.Curriculum | None
        buffer: RolloutBuffer | None = None,
        format_weight: float = 0.0,
        record: bool = True,
        taxonomy: Taxonomy | None = None,
    ):
        self.verify = verify or _default_verify()
        self.curriculum = curriculum
        self.buffer = buffer
        self.format_weight = format_weight
        self.record = record
        self.taxonomy = taxonomy or get_taxonomy("controlled")
        self.last_rewards: list[float] = []  # of the latest call, in TRL's (sampler) order

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        # conversational datasets: TRL hands prompts and completions as message lists
        prompts, completions = [prompt_text(p) for p in prompts], [completion_text(c) for c in completions]
        n = len(completions)
        answers = columns.get("answer", [None] * n)
        families = columns.get("family", [None] * n)
        levels = [int(x) for x in columns.get("difficulty", [0] * n)]
        metadata = columns.get("metadata", [None] * n)
        questions = columns.get("question", [None] * n)
        roles = columns.get("role", [None] * n)
        rewards, errors = [], 0
        for i, completion in enumerate(completions):
            fields = {
                "family": families[i], "answer": answers[i], "metadata": metadata[i],
                "question": questions[i], "difficulty": levels[i], "prompt": prompts[i],
            }
            value, raised = safe_verify(self.verify, fields, completion)
            rewards.append(value)
            errors += raised
        self.last_rewards = list(rewards)
        if not self.record:
            return rewards

        state = columns.get("trainer_state")
        step = int(state.global_step) if state is not None else 0
        formats = [self.taxonomy.classify(c) for c in completions]
        metrics = batch_metrics(levels, rewards, formats, self.taxonomy.labels)
        metrics["verifier_errors"] = errors / n if n else 0.0
        if self.curriculum is not None:
            indices = columns.get("pool_index")
            if indices is not None:
                self.curriculum.observe(step, group_pass_rates(indices, levels, rewards))
            metrics.update(self.curriculum.metrics(step))
        log_metric = columns.get("log_metric")
        if log_metric is not None:
            for key, value in metrics.items():
                log_metric(key, value)
        if self.buffer is not None:
            self.buffer.extend([
                {
                    "step": step + 1,  # the optimizer step this batch trains (global_step counts finished ones)
                    "prompt": prompts[i], "completion": completions[i],
                    "reward": rewards[i] + (self.format_weight * (formats[i] != OTHER)),
                    "correct": rewards[i], "difficulty": levels[i], "format": formats[i],
                    "family": families[i], "role": roles[i], "answer": answers[i],
                }
                for i in range(n)
            ])
        return rewards


class FormatReward:
    """1 when a completion is in one of the taxonomy's formats (not ``other``), else 0: well-formedness only."""

    __name__ = "format"  # TRL names the metric rewards/format/mean

    def __init__(self, taxonomy: Taxonomy | None = None):
        self.taxonomy = taxonomy or get_taxonomy("controlled")

    def __call__(self, prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        return [0.0 if self.taxonomy.classify(completion_text(c)) == OTHER else 1.0 for c in completions]


def reward_weights(format_weight: float) -> list[float]:
    """TRL ``reward_weights``: the verifier, then the format reward when it is on."""
    return [1.0, float(format_weight)] if format_weight > 0 else [1.0]


def reward_functions(verifier: VerifierReward, format_weight: float) -> tuple[list[Callable], list[float]]:
    """The reward functions and TRL ``reward_weights`` for a config."""
    funcs: list[Callable] = [verifier, FormatReward(verifier.taxonomy)] if format_weight > 0 else [verifier]
    return funcs, reward_weights(format_weight)

