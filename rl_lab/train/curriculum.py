"""Difficulty curricula: which problems each GRPO generation batch draws.

A curriculum answers one question: given the block (generation batch) index and
the optimizer step it will be trained at, which ``n`` problem indices of the pool
go into it?  ``CurriculumSampler`` turns those choices into the index stream
TRL's ``GRPOTrainer`` expects (see ``rl_lab.train.trainer``).

Choices are pure functions of ``(seed, block, state visible to that block)``:
the sampler seeds a fresh generator per block, so resuming (where the HF
Trainer replays the sampler to skip finished batches) reproduces the same
batches.  The adaptive curriculum only looks at feedback from blocks <= g-2
when choosing block g, because the DataLoader prefetches the next batch before
the current batch's rewards exist; with this fixed lag a resumed run sees
exactly what an uninterrupted one saw.

No library offers difficulty curricula for TRL (its docs list dynamic sampling
as not implemented), hence this module.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from rl_lab.core.config import CurriculumConfig
from rl_lab.core.errors import ConfigError

CURRICULA: dict[str, type[Curriculum]] = {}


def register(cls: type[Curriculum]) -> type[Curriculum]:
    CURRICULA[cls.kind] = cls
    return cls


class Curriculum(ABC):
    """Base class: subclasses say how likely each level is at a step; the base draws problems."""

    kind: ClassVar[str]

    def __init__(self, cfg: CurriculumConfig, pool_levels: Sequence[int], total_steps: int):
        self.cfg = cfg
        self.total_steps = total_steps
        levels_arr = np.asarray(pool_levels, dtype=np.int64)
        self.pool_levels = levels_arr
        self.by_level: dict[int, np.ndarray] = {
            int(lv): np.flatnonzero(levels_arr == lv) for lv in sorted(set(levels_arr.tolist()))
        }
        self.levels = self._levels()
        missing = [lv for lv in self.levels if lv not in self.by_level]
        if missing:
            raise ConfigError(
                f"invalid config:\n  curriculum.levels: levels {missing} have no problems in the training pool; "
                f"pool levels: {sorted(self.by_level)}"
            )

    def _levels(self) -> list[int]:
        return sorted(self.cfg.levels) if self.cfg.levels else sorted(self.by_level)

    @abstractmethod
    def level_weights(self, step: int) -> dict[int, float]:
        """Probability of each level for a batch trained at optimizer ``step`` (need not be normalised)."""

    def select(self, block: int, step: int, visible_step: int, n: int, rng: np.random.Generator) -> list[int]:
        """``n`` pool indices for generation block ``block`` (trained at ``step``).

        ``visible_step``: feedback tagged with a later step must be ignored (see module doc).
        """
        return self._draw(self.level_weights(step), n, rng, self._candidates(visible_step))

    def _candidates(self, visible_step: int) -> dict[int, np.ndarray]:
        return self.by_level

    def _draw(
        self, weights: dict[int, float], n: int, rng: np.random.Generator, candidates: dict[int, np.ndarray]
    ) -> list[int]:
        levels = [lv for lv, w in weights.items() if w > 0]
        p = np.asarray([weights[lv] for lv in levels], dtype=np.float64)
        counts = rng.multinomial(n, p / p.sum())
        chosen: list[int] = []
        for lv, count in zip(levels, counts, strict=True):
            if not count:
                continue
            chosen.extend(self._pick(lv, int(count), candidates.get(lv), rng))
        order = rng.permutation(len(chosen))
        return [int(chosen[i]) for i in order]

    def _pick(self, level: int, count: int, preferred: np.ndarray | None, rng: np.random.Generator) -> list[int]:
        """``count`` distinct problems of ``level``, from ``preferred`` first, then the rest of the level.

        Without replacement inside a batch (a prompt never forms two groups of one batch)
        unless the level has fewer problems than asked for.
        """
        everything = self.by_level[level]
        preferred = everything if preferred is None else preferred
        if count <= len(preferred):
            return rng.choice(preferred, size=count, replace=False).tolist()
        rest = np.setdiff1d(everything, preferred)
        picked = preferred.tolist() + rng.choice(rest, size=min(count - len(preferred), len(rest)), replace=False).tolist()
        if len(picked) < count:
            picked += rng.choice(everything, size=count - len(picked), replace=True).tolist()
        return picked

    def observe(self, step: int, groups: Sequence[tuple[int, int, float]]) -> None:
        """Feedback from the reward function: ``(pool index, level, pass rate)`` per prompt group.

        Static curricula ignore it; the adaptive one keeps it.
        """
        return None

    def metrics(self, step: int) -> dict[str, float]:
        """Scalars logged each step (e.g. the number of unlocked levels)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ConfigError(
                f"invalid config:\n  curriculum.kind: the checkpoint was trained with {state.get('kind')!r}, "
                f"the config asks for {self.kind!r}; resume with the original curriculum"
            )


@register
class Fixed(Curriculum):
    """The same levels (optionally a weighted mixture) at every step."""

    kind = "fixed"

    def level_weights(self, step: int) -> dict[int, float]:
        weights = self.cfg.weights or [1.0] * len(self.levels)
        order = self.cfg.levels or self.levels
        return {int(lv): float(w) for lv, w in zip(order, weights, strict=True)}


@register
class EasyToHard(Curriculum):
    """Start on the easiest level; unlock the next one at each step of ``schedule`` (evenly spaced if null)."""

    kind = "easy_to_hard"

    def __init__(self, cfg: CurriculumConfig, pool_levels: Sequence[int], total_steps: int):
        super().__init__(cfg, pool_levels, total_steps)
        if cfg.schedule is None:
            k = len(self.levels)
            self.schedule = [math.floor(i * total_steps / k) for i in range(1, k)]
        else:
            self.schedule = list(cfg.schedule)
            if len(self.schedule) != len(self.levels) - 1 or self.schedule != sorted(self.schedule):
                raise ConfigError(
                    f"invalid config:\n  curriculum.schedule: {self.schedule} must list {len(self.levels) - 1} "
                    f"increasing steps, one per level after the first of {self.levels}"
                )

    def unlocked(self, step: int) -> list[int]:
        return self.levels[: 1 + sum(step >= s for s in self.schedule)]

    def level_weights(self, step: int) -> dict[int, float]:
        return dict.fromkeys(self.unlocked(step), 1.0)

    def metrics(self, step: int) -> dict[str, float]:
        return {"curriculum/max_level": float(self.unlocked(step)[-1])}


@register
class HardOnly(Curriculum):
    """Only levels >= ``hard_min_level`` (default: the top half), for contamination studies."""

    kind = "hard_only"

    def _levels(self) -> list[int]:
        levels = super()._levels()
        low = self.cfg.hard_min_level
        if low is None:
            return levels[len(levels) // 2 :]
        kept = [lv for lv in levels if lv >= low]
        if not kept:
            raise ConfigError(f"invalid config:\n  curriculum.hard_min_level: {low} is above every level {levels}")
        return kept

    def level_weights(self, step: int) -> dict[int, float]:
        return dict.fromkeys(self.levels, 1.0)


@register
class Adaptive(Curriculum):
    """Keep levels and problems whose recent pass rate lies inside ``window`` (DAPO-like dynamic sampling).

    A group whose completions all pass or all fail has zero advantage under GRPO and
    teaches nothing; this curriculum stops drawing such problems and levels.  Unknown
    levels/problems count as inside the window (explore first).  If no level is inside,
    the level closest to the window is drawn.
    """

    kind = "adaptive"
    _KEEP_TAGS = 3  # distinct recent steps kept whole, so any lagged query is answered exactly

    def __init__(self, cfg: CurriculumConfig, pool_levels: Sequence[int], total_steps: int):
        super().__init__(cfg, pool_levels, total_steps)
        self.level_history: dict[int, list[tuple[int, float]]] = {lv: [] for lv in self.levels}
        self.problem_history: dict[int, list[tuple[int, float]]] = {}

    # ---- feedback
    def observe(self, step: int, groups: Sequence[tuple[int, int, float]]) -> None:
        per_problem: dict[int, list[float]] = {}
        for index, level, rate in groups:
            if level in self.level_history:
                self.level_history[level].append((step, float(rate)))
            per_problem.setdefault(int(index), []).append(float(rate))
        for index, rates in per_problem.items():  # one entry per problem and step
            hist = self.problem_history.setdefault(index, [])
            hist.append((step, sum(rates) / len(rates)))
            del hist[: -self._KEEP_TAGS]
        for level, hist in self.level_history.items():
            self.level_history[level] = self._prune(hist)

    def _prune(self, hist: list[tuple[int, float]]) -> list[tuple[int, float]]:
        tags = sorted({t for t, _ in hist})
        if len(tags) <= self._KEEP_TAGS:
            return hist
        cutoff = tags[-self._KEEP_TAGS]
        old = [e for e in hist if e[0] < cutoff][-self.cfg.history :]
        return old + [e for e in hist if e[0] >= cutoff]

    # ---- queries (only feedback tagged <= visible_step)
    def level_rate(self, level: int, visible_step: int) -> float | None:
        seen = [r for t, r in self.level_history.get(level, []) if t <= visible_step][-self.cfg.history :]
        return sum(seen) / len(seen) if seen else None

    def _inside(self, rate: float | None) -> bool:
        lo, hi = self.cfg.window
        return rate is None or lo <= rate <= hi

    def active_levels(self, visible_step: int) -> list[int]:
        rates = {lv: self.level_rate(lv, visible_step) for lv in self.levels}
        inside = [lv for lv, r in rates.items() if self._inside(r)]
        if inside:
            return inside
        lo, hi = self.cfg.window
        distance = {lv: (lo - r if r < lo else r - hi) for lv, r in rates.items() if r is not None}
        best = min(distance.values())
        return [lv for lv, d in distance.items() if d == best]

    def level_weights(self, step: int) -> dict[int, float]:  # pragma: no cover - select() is overridden
        return dict.fromkeys(self.levels, 1.0)

    def _candidates(self, visible_step: int) -> dict[int, np.ndarray]:
        out = {}
        for lv, pool in self.by_level.items():
            keep = []
            for i in pool.tolist():
                seen = [r for t, r in self.problem_history.get(i, []) if t <= visible_step]
                if not seen or self._inside(seen[-1]):
                    keep.append(i)
            out[lv] = np.asarray(keep, dtype=np.int64)
        return out

    def adaptive_weights(self, visible_step: int) -> dict[int, float]:
        """Levels inside the window share ``1 - explore``; the others share ``explore``.

        Without exploration a level judged too hard (or too easy) would never be drawn
        again and its pass rate never re-measured as the policy improves.
        """
        active = self.active_levels(visible_step)
        rest = [lv for lv in self.levels if lv not in active]
        explore = self.cfg.explore if rest else 0.0
        weights = dict.fromkeys(active, (1 - explore) / len(active))
        weights.update(dict.fromkeys(rest, explore / len(rest) if rest else 0.0))
        return weights

    def select(self, block: int, step: int, visible_step: int, n: int, rng: np.random.Generator) -> list[int]:
        return self._draw(self.adaptive_weights(visible_step), n, rng, self._candidates(visible_step))

    def metrics(self, step: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for lv in self.levels:
            rate = self.level_rate(lv, step)
            if rate is not None:
                out[f"curriculum/pass_rate/level_{lv}"] = rate
        out["curriculum/active_levels"] = float(len(self.active_levels(step)))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "level_history": {str(k): v for k, v in self.level_history.items()},
            "problem_history": {str(k): v for k, v in self.problem_history.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.level_history = {lv: [] for lv in self.levels}
        for k, v in state.get("level_history", {}).items():
            self.level_history[int(k)] = [(int(t), float(r)) for t, r in v]
        self.problem_history = {int(k): [(int(t), float(r)) for t, r in v] for k, v in state.get("problem_history", {}).items()}


def build_curriculum(cfg: CurriculumConfig, pool_levels: Sequence[int], total_steps: int) -> Curriculum:
    if cfg.kind not in CURRICULA:
        raise ConfigError(f"invalid config:\n  curriculum.kind: unknown {cfg.kind!r}; allowed: {sorted(CURRICULA)}")
    return CURRICULA[cfg.kind](cfg, pool_levels, total_steps)


class CurriculumSampler:
    """The index stream ``GRPOTrainer`` consumes, with the curriculum choosing the prompts.

    Same layout as TRL's ``RepeatSampler``: per generation block, ``prompts_per_block``
    indices, each repeated ``num_generations`` times, the whole block repeated
    ``repeat_count`` (= num_iterations x steps_per_generation) times.  Block ``g`` is
    trained at optimizer step ``g * repeat_count // grad_accum``.  One pass covers the
    whole run, so the Trainer sees a single epoch.
    """

    def __init__(
        self, curriculum: Curriculum, prompts_per_block: int, num_generations: int, repeat_count: int,
        grad_accum: int, total_steps: int, seed: int,
    ):
        self.curriculum = curriculum
        self.prompts_per_block = prompts_per_block
        self.num_generations = num_generations
        self.repeat_count = repeat_count
        self.grad_accum = grad_accum
        self.seed = seed
        # micro-batches needed: total_steps x grad_accum; one block covers repeat_count of them
        self.num_blocks = math.ceil(total_steps * grad_accum / repeat_count)

    def step_of_block(self, block: int) -> int:
        return block * self.repeat_count // self.grad_accum

    def block_indices(self, block: int) -> list[int]:
        visible = self.step_of_block(block - 2) if block >= 2 else -1
        rng = np.random.default_rng([self.seed, block])
        return self.curriculum.select(block, self.step_of_block(block), visible, self.prompts_per_block, rng)

    def __iter__(self) -> Iterator[int]:
        for block in range(self.num_blocks):
            chosen = self.block_indices(block)
            for _ in range(self.repeat_count):
                for index in chosen:
                    for _ in range(self.num_generations):
                        yield index

    def __len__(self) -> int:
        return self.num_blocks * self.repeat_count * self.prompts_per_block * self.num_generations
