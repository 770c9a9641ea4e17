"""Sampling behaviour of each curriculum and of the sampler GRPOTrainer consumes."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from rl_lab.core.config import CurriculumConfig
from rl_lab.core.errors import ConfigError
from rl_lab.train.curriculum import CURRICULA, Adaptive, CurriculumSampler, EasyToHard, build_curriculum

LEVELS = [1, 2, 3, 4, 5, 6]
POOL = [lv for lv in LEVELS for _ in range(50)]  # 50 problems per level; index // 50 + 1 is the level


def levels_of_block(cur, block, step=0, visible=-1, n=64):
    idx = cur.select(block, step, visible, n, np.random.default_rng([0, block]))
    return [POOL[i] for i in idx]


def shares(cur, blocks=100, n=64, step=0):
    counts = Counter(lv for b in range(blocks) for lv in levels_of_block(cur, b, step, -1, n))
    total = sum(counts.values())
    return {lv: counts[lv] / total for lv in counts}


def test_registry_has_the_four_curricula():
    assert set(CURRICULA) == {"fixed", "easy_to_hard", "hard_only", "adaptive"}
    with pytest.raises(ConfigError, match="no problems"):
        build_curriculum(CurriculumConfig(levels=[7]), POOL, 10)


def test_fixed_uniform_and_weighted_mixture():
    uniform = shares(build_curriculum(CurriculumConfig(), POOL, 10))
    assert set(uniform) == set(LEVELS)
    assert all(abs(s - 1 / 6) < 0.03 for s in uniform.values())
    mix = shares(build_curriculum(CurriculumConfig(levels=[2, 5], weights=[3, 1]), POOL, 10))
    assert set(mix) == {2, 5}
    assert abs(mix[2] - 0.75) < 0.03


def test_no_prompt_twice_in_a_block():
    cur = build_curriculum(CurriculumConfig(levels=[1]), POOL, 10)
    idx = cur.select(0, 0, -1, 40, np.random.default_rng(0))
    assert len(set(idx)) == 40


def test_easy_to_hard_unlocks_levels_on_schedule():
    cur = build_curriculum(CurriculumConfig(kind="easy_to_hard", levels=[1, 2, 3]), POOL, 30)
    assert isinstance(cur, EasyToHard) and cur.schedule == [10, 20]  # evenly spaced
    assert set(levels_of_block(cur, 0, step=0)) == {1}
    assert set(levels_of_block(cur, 1, step=15)) == {1, 2}
    assert set(levels_of_block(cur, 2, step=25)) == {1, 2, 3}
    explicit = build_curriculum(CurriculumConfig(kind="easy_to_hard", levels=[1, 2, 3], schedule=[2, 4]), POOL, 30)
    assert max(levels_of_block(explicit, 0, step=1)) == 1
    assert max(levels_of_block(explicit, 0, step=3)) == 2
    with pytest.raises(ConfigError, match="schedule"):
        build_curriculum(CurriculumConfig(kind="easy_to_hard", levels=[1, 2, 3], schedule=[5]), POOL, 30)


def test_easy_to_hard_level_distribution_over_steps_never_goes_back():
    cur = build_curriculum(CurriculumConfig(kind="easy_to_hard"), POOL, 60)
    highest = [max(levels_of_block(cur, s, step=s)) for s in range(60)]
    assert highest == sorted(highest) and highest[0] == 1 and highest[-1] == 6


def test_hard_only_defaults_to_top_half():
    assert set(shares(build_curriculum(CurriculumConfig(kind="hard_only"), POOL, 10))) == {4, 5, 6}
    assert set(shares(build_curriculum(CurriculumConfig(kind="hard_only", hard_min_level=5), POOL, 10))) == {5, 6}


def feed(cur: Adaptive, step: int, rate_of_level: dict[int, float], n_per_level: int = 4):
    groups = []
    for lv, rate in rate_of_level.items():
        start = (lv - 1) * 50
        groups += [(start + k, lv, rate) for k in range(n_per_level)]
    cur.observe(step, groups)


def test_adaptive_keeps_levels_inside_the_window():
    cur = build_curriculum(CurriculumConfig(kind="adaptive", levels=[1, 2, 3], window=(0.1, 0.9), explore=0.0), POOL, 50)
    assert set(levels_of_block(cur, 0)) == {1, 2, 3}  # no feedback yet: explore everything
    feed(cur, 0, {1: 1.0, 2: 0.5, 3: 0.0})  # level 1 solved, level 3 hopeless
    assert set(levels_of_block(cur, 2, step=2, visible=0)) == {2}
    # feedback from a step later than the visible one is ignored (the prefetch lag)
    assert set(levels_of_block(cur, 1, step=1, visible=-1)) == {1, 2, 3}


def test_adaptive_drops_zero_variance_problems_inside_a_kept_level():
    cur = build_curriculum(CurriculumConfig(kind="adaptive", levels=[2]), POOL, 50)
    solved = list(range(50, 90))  # 40 of the 50 level-2 problems were solved by every rollout
    cur.observe(0, [(i, 2, 1.0) for i in solved] + [(i, 2, 0.5) for i in range(90, 100)])
    picked = cur.select(2, 2, 0, 10, np.random.default_rng(1))
    assert not set(picked) & set(solved)


def test_adaptive_falls_back_to_the_level_nearest_the_window():
    cur = build_curriculum(CurriculumConfig(kind="adaptive", levels=[1, 2, 3], window=(0.2, 0.8), explore=0.0), POOL, 50)
    feed(cur, 0, {1: 1.0, 2: 0.9, 3: 0.0})  # nothing inside; level 2 is 0.1 away, the others 0.2
    assert set(levels_of_block(cur, 2, step=2, visible=0)) == {2}


def test_adaptive_window_tracks_simulated_learning():
    """Pass rates rise over time: the adaptive curriculum should move to harder levels."""
    cur = build_curriculum(CurriculumConfig(kind="adaptive", window=(0.1, 0.9), history=2), POOL, 100)
    skill = 0.0
    means = []
    for block in range(40):
        chosen = cur.select(block, block, block - 2, 32, np.random.default_rng([3, block]))
        levels = [POOL[i] for i in chosen]
        means.append(np.mean(levels))
        rates = {lv: float(np.clip(skill - lv + 1.5, 0, 1)) for lv in set(levels)}
        cur.observe(block, [(i, POOL[i], rates[POOL[i]]) for i in chosen])
        skill += 0.15
    assert np.mean(means[-5:]) > np.mean(means[:5]) + 1.5


def test_adaptive_choices_do_not_depend_on_prefetch_timing_or_resume():
    cfg = CurriculumConfig(kind="adaptive", window=(0.2, 0.8), history=3)

    def run(prefetch: bool, resume_at: int | None = None):
        cur = build_curriculum(cfg, POOL, 30)
        sampler = CurriculumSampler(cur, prompts_per_block=8, num_generations=2, repeat_count=1, grad_accum=1,
                                    total_steps=30, seed=7)
        rng = np.random.default_rng(0)
        history, pending = [], None
        for block in range(30):
            if resume_at is not None and block == resume_at:  # a restart restores the saved state
                state = json.loads(json.dumps(cur.state_dict()))
                cur = build_curriculum(cfg, POOL, 30)
                cur.load_state_dict(state)
                sampler.curriculum = cur
            chosen = sampler.block_indices(block)
            if prefetch and pending is not None:  # feedback of the previous block arrives after this choice
                cur.observe(*pending)
            groups = [(i, POOL[i], float(rng.random() < 0.5 + 0.1 * (POOL[i] - 3))) for i in chosen]
            pending = (block, groups)
            if not prefetch:
                cur.observe(*pending)
                pending = None
            history.append(chosen)
        return history

    reference = run(prefetch=False)
    assert run(prefetch=True) == reference
    assert run(prefetch=False, resume_at=13) == reference


def test_sampler_layout_matches_trl_repeat_sampler():
    cur = build_curriculum(CurriculumConfig(), POOL, 10)
    sampler = CurriculumSampler(cur, prompts_per_block=3, num_generations=4, repeat_count=2, grad_accum=2,
                                total_steps=10, seed=0)
    stream = list(sampler)
    assert len(stream) == len(sampler) == 10 * 3 * 4 * 2 * 2 // 2
    block = stream[: 3 * 4]
    assert [block[k * 4 : k * 4 + 4] for k in range(3)] == [[i] * 4 for i in block[::4]]  # each prompt 4x in a row
    assert stream[12:24] == block  # the block repeats repeat_count times
    assert stream == list(CurriculumSampler(cur, 3, 4, 2, 2, 10, 0))  # deterministic
    assert stream != list(CurriculumSampler(cur, 3, 4, 2, 2, 10, 1))  # and seeded


def test_adaptive_explore_share_rechecks_levels_outside_the_window():
    cur = build_curriculum(CurriculumConfig(kind="adaptive", levels=[1, 2, 3], explore=0.2), POOL, 50)
    feed(cur, 0, {1: 1.0, 2: 0.5, 3: 0.0})
    counts = Counter(lv for b in range(2, 102) for lv in levels_of_block(cur, b, step=b, visible=0))
    total = sum(counts.values())
    assert abs(counts[2] / total - 0.8) < 0.03
    assert abs(counts[1] / total - 0.1) < 0.03 and abs(counts[3] / total - 0.1) < 0.03
