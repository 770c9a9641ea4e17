"""The reasoning-gym adapter on real datasets, offline: levels from the library's curricula, exact/math/library scoring."""

from __future__ import annotations

import json
import random

import pytest
from adversarial import malformed_forms, shortcuts
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.environments.formats import FORMATS, classify_format
from rl_lab.environments.problem_sets import build_problem_set, verify_completion
from rl_lab.environments.registry import get_family
from rl_lab.environments.scoring import solved

DATASETS = ("basic_arithmetic", "chain_sum")


def curriculum_levels(dataset: str, attribute: str) -> list:
    from reasoning_gym.factory import create_curriculum

    return list(create_curriculum(dataset).get_attribute(attribute).levels)


@pytest.mark.parametrize("dataset", DATASETS)
def test_round_trip_and_padded_answer_scoring(dataset):
    family = get_family(f"rg:{dataset}")
    library = family
    assert family.name == f"rg:{dataset}" and len(family.levels) >= 2
    rng = random.Random(0)
    for level in (family.levels[0], family.levels[-1]):
        for _ in range(5):
            p = family.generate(level, rng)
            assert p.prompt == p.question + "=" and p.difficulty == level
            meta = json.loads(json.dumps(p.metadata))  # what a problem-set row carries
            assert "scoring" not in meta  # the mode is the spec's, added by build_problem_set
            for fmt in FORMATS:
                completion = family.render(p, fmt)
                assert classify_format(completion) == fmt
                assert family.verify(completion, p.answer, meta) == 1.0
                assert library.verify(completion, p.answer, {**meta, "scoring": "library"}) == 1.0
            padded = f"xx{p.answer}xx"
            assert family.verify(padded, p.answer, meta) == 0.0
            # the library's own scorer gives partial credit to an answer that merely contains the oracle
            assert 0.0 < library.verify(padded, p.answer, {**meta, "scoring": "library"}) < 1.0
            assert family.verify(str(int(p.answer) + 1), p.answer, meta) == 0.0


def test_the_rows_scoring_decides():
    rows = {mode: build_problem_set([{"name": "rg:basic_arithmetic", "scoring": mode, "levels": [1]}], 3, 0)
            for mode in ("exact", "math", "library")}
    for mode, ds in rows.items():
        for row in ds:
            assert json.loads(row["metadata"])["scoring"] == mode
            padded, r1 = f"xx{row['answer']}xx", f"<think>let me add</think><answer>{row['answer']}</answer>"
            assert verify_completion(row, row["answer"]) == 1.0
            # only library pays an answer that merely contains the oracle (partial credit)
            assert (0.0 < verify_completion(row, padded) < 1.0) == (mode == "library")
            # an R1-style answer: exact wants rl_lab's shapes; math and library read the tag
            assert verify_completion(row, r1) == (0.0 if mode == "exact" else 1.0)
            assert verify_completion(row, f"The answer is {row['answer']}.") == (1.0 if mode == "math" else 0.0)


def test_difficulty_param_follows_the_library_curriculum():
    family = get_family("rg:basic_arithmetic", {"difficulty_param": "num_terms", "min_digits": 1, "max_digits": 2})
    terms = curriculum_levels("basic_arithmetic", "num_terms")
    assert family.levels == tuple(range(1, len(terms) + 1))
    assert "num_terms" in family.level_meaning
    rng = random.Random(0)
    for level in family.levels:
        for _ in range(3):
            entry = family.generate(level, rng).metadata["rg"]["entry"]["metadata"]
            assert entry["num_terms"] == terms[level - 1]
            assert 1 <= entry["num_digits"] <= 2  # the fixed knob stays fixed


def test_default_levels_advance_every_curriculum_attribute():
    family = get_family("rg:chain_sum")
    terms, digits = curriculum_levels("chain_sum", "num_terms"), curriculum_levels("chain_sum", "num_digits")
    assert family.levels == tuple(range(1, max(len(terms), len(digits)) + 1))
    for level in (1, family.levels[-1]):
        cfg = family.level_table[level]
        assert cfg["min_terms"] == cfg["max_terms"] == terms[min(level, len(terms)) - 1]
        assert cfg["min_digits"] == cfg["max_digits"] == digits[min(level, len(digits)) - 1]


def test_explicit_level_table():
    family = get_family("rg:chain_sum", {"levels": {"1": {"min_terms": 2, "max_terms": 2}, 3: {"min_terms": 4, "max_terms": 4}}})
    assert family.levels == (1, 3)
    p = family.generate(3, random.Random(0))
    assert p.metadata["rg"]["entry"]["metadata"]["num_terms"] == 4
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        family.generate(2, random.Random(0))


def test_deterministic_for_a_seed():
    family = get_family("rg:basic_arithmetic")
    draw = lambda seed: [family.generate(3, random.Random(seed)) for _ in range(3)]  # noqa: E731
    assert draw(5) == draw(5)
    assert [p.question for p in draw(5)] != [p.question for p in draw(6)]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"no_such_key": 1}, "min_terms"),
        ({"seed": 3}, "seed"),
        ({"scoring": "library"}, "moved"),
        ({"difficulty_param": "colour"}, "num_terms"),
        ({"min_terms": 9, "max_terms": 2}, "level 1"),
        ({"levels": {"x": {}}}, "integer level"),
        ({"levels": {1: {"bogus": 1}}}, "params.levels.1"),
    ],
)
def test_bad_params_are_explained(params, match):
    with pytest.raises(ValueError, match=match):
        get_family("rg:basic_arithmetic", params)


def test_unknown_dataset_suggests_names():
    with pytest.raises(KeyError, match="basic_arithmetic"):
        get_family("rg:basic_arithmetc")


def test_multi_token_answers_are_skipped_or_refused():
    family = get_family("rg:word_sorting", {"single_token_answers": False, "max_tries": 1})
    p = family.generate(1, random.Random(0))
    assert " " in p.answer
    with pytest.raises(ValueError, match="single_token_answers"):
        family.render(p, "terse")
    assert family.verify(p.answer, p.answer, p.metadata) == 0.0  # no format can carry it
    strict = get_family("rg:word_sorting", {"max_tries": 2})
    with pytest.raises(ValueError, match="single-token"):
        strict.generate(1, random.Random(0))


def test_problem_set_rows_verify_with_their_params():
    specs = [{"name": "rg:basic_arithmetic", "params": {"difficulty_param": "num_terms"}, "scoring": "library",
              "levels": [1, 2]}]
    ds = build_problem_set(specs, per_level=4, seed=0)
    assert set(ds["difficulty"]) == {1, 2}
    for row in ds:
        assert verify_completion(row, f"<answer>{row['answer']}</answer>") == 1.0
        assert 0.0 < verify_completion(row, f"xx{row['answer']}xx") < 1.0  # library scoring kept


def test_config_accepts_rg_families():
    from rl_lab.config import validate_config
    from rl_lab.core.errors import ConfigError
    from rl_lab.environments.config_checks import levels_of

    def config(params: dict) -> dict:
        return {"name": "rg", "environments": {"families": [
            {"name": "rg:basic_arithmetic", "params": params, "levels": [1, 2]}]}}

    cfg = validate_config(config({"difficulty_param": "num_terms"}))
    assert levels_of(cfg.environments, "rg:basic_arithmetic") == [1, 2]
    with pytest.raises(ConfigError, match="difficulty_param"):
        validate_config(config({"difficulty_param": "nope"}))


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(), st.text(max_size=10_000)), st.sampled_from(("exact", "library", "math")))
def test_verify_never_raises(text, scoring):
    family = get_family("rg:basic_arithmetic")
    p = family.generate(2, random.Random(0))
    reward = family.verify(text, p.answer, {**p.metadata, "scoring": scoring})
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0


@settings(max_examples=100, deadline=None)
@given(st.data(), st.integers(0, 10**6), st.sampled_from(("exact", "math", "library")))
def test_shortcuts_earn_nothing(data, seed, mode):
    """Hedges score 0 in every mode; malformed numbers score 0 in exact and math, and library's
    containment rule gives them at most partial credit, never a solve."""
    family = get_family("rg:basic_arithmetic")
    p = family.generate(random.Random(seed).choice(family.levels), random.Random(seed))
    text = data.draw(shortcuts(p.answer))
    reward = family.verify(text, p.answer, {**p.metadata, "scoring": mode})
    malformed = any(form in text for form in malformed_forms(p.answer).values())
    assert reward == 0.0 if (mode != "library" or not malformed) else not solved(reward)


def test_library_hedges_score_zero_instead_of_partial_credit():
    family = get_family("rg:basic_arithmetic")
    p = family.generate(1, random.Random(3))
    meta = {**p.metadata, "scoring": "library"}
    other = str(int(p.answer) + 1)
    assert family.verify(f"<answer>{p.answer}</answer>", p.answer, meta) == 1.0
    assert 0.0 < family.verify(f"<answer>{p.answer}0</answer>", p.answer, meta) < 1.0  # containment: documented
    for hedge in (f"<answer>{other} or {p.answer}</answer>", f"<answer>{other}</answer><answer>{p.answer}</answer>",
                  f"<answer>{other}, {p.answer}</answer>"):
        assert family.verify(hedge, p.answer, meta) == 0.0
        assert family.read(hedge, p.answer, meta).hedged
