"""The procedural families: level semantics, worked steps, determinism, and verifiers that never raise."""

from __future__ import annotations

import random
import re

import pytest
from adversarial import hedges, malformed_forms, shortcuts
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.environments import formats
from rl_lab.environments.answers import read_number
from rl_lab.environments.formats import FORMATS, classify_format
from rl_lab.environments.registry import family_names, get_family

FAMILIES = ("addition", "multiplication", "chain", "comparison", "modular")
MODES = ("exact", "math")  # the scoring modes of the built-in families
CELLS = [(name, level) for name in FAMILIES for level in get_family(name).levels]
SETTINGS = settings(max_examples=150, deadline=None)
MARKERS = "[]<>;"
# Every question and work step in these families is a Python expression over ints and max().
EXPR = re.compile(r"-?[0-9]+(?:[-+*%][0-9]+)*|max\([0-9]+(?:,[0-9]+)*\)")


def evaluate(expression: str) -> int:
    assert EXPR.fullmatch(expression), expression  # keeps eval to arithmetic on literals
    return eval(expression, {"__builtins__": {}}, {"max": max})


def sample(name: str, level: int, n: int = 30, seed: int = 0):
    family, rng = get_family(name), random.Random(seed)
    return family, [family.generate(level, rng) for _ in range(n)]


def test_registry_lists_every_family_with_five_levels_or_more():
    assert set(FAMILIES) <= set(family_names())
    for name in FAMILIES:
        family = get_family(name)
        assert len(family.levels) >= 5 and family.level_meaning
        assert list(family.levels) == sorted(family.levels)


def test_unknown_family_and_params_are_refused():
    with pytest.raises(KeyError, match="addition"):
        get_family("subtraction")
    with pytest.raises(ValueError, match="params"):
        get_family("addition", {"digits": 3})


@pytest.mark.parametrize(("name", "level"), CELLS)
def test_problems_are_well_formed_and_correct(name, level):
    family, problems = sample(name, level)
    for p in problems:
        assert (p.family, p.difficulty) == (name, level)
        assert p.prompt == p.question + "="
        assert not set(p.question) & set(MARKERS) and not re.search(r"\s", p.question)
        assert evaluate(p.question) == int(p.answer) and p.answer == str(int(p.answer))
        assert p.work, "every procedural problem shows work"
        for step in p.work:  # each step is a true equation with no format markers
            assert not set(step) & set(MARKERS)
            lhs, rhs = step.split("=")
            assert evaluate(lhs) == int(rhs), step
        totals = [int(step.split("=")[1]) for step in p.work]
        if name == "addition":  # one step per digit, least significant first: its last digit, carry out
            rebuilt = sum(t % 10 * 10**i for i, t in enumerate(totals)) + totals[-1] // 10 * 10 ** len(totals)
            assert rebuilt == int(p.answer)
        else:  # running results: the last one is the answer
            assert totals[-1] == int(p.answer)


def _numbers(question: str) -> list[str]:
    return re.findall(r"[0-9]+", question)


@pytest.mark.parametrize(("name", "level"), CELLS)
def test_level_means_what_level_meaning_says(name, level):
    _, problems = sample(name, level, n=60)
    shapes = set()
    for p in problems:
        nums = _numbers(p.question)
        if name in ("addition", "multiplication"):
            shapes.add(tuple(len(x) for x in nums))
        elif name == "chain":
            shapes.add(len(re.findall(r"[-+]", p.question)))
            assert all(int(x) <= 99 for x in nums)
        elif name == "comparison":
            shapes.add(len(nums))
        elif name == "modular":
            shapes.add(len(nums[0]))
            assert 2 <= int(nums[1]) <= 9
    multiplication_shapes = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2), 5: (3, 2)}
    expected = {
        "addition": {(level, level)},
        "multiplication": {multiplication_shapes.get(level)},
        "chain": {level},
        "comparison": {level + 1},
        "modular": {level},
    }[name]
    assert shapes == expected


@pytest.mark.parametrize(("name", "level"), CELLS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_render_round_trip_and_wrong_answers(name, level, fmt):
    family, problems = sample(name, level, n=10, seed=level)
    for p in problems:
        completion = family.render(p, fmt)
        assert classify_format(completion) == fmt
        wrong = str(int(p.answer) + 1)
        for mode in MODES:  # math reads rl_lab's own formats too
            assert family.verify(completion, p.answer, {**p.metadata, "scoring": mode}) == 1.0
            assert family.verify(formats.render(fmt, wrong, p.work), p.answer, {**p.metadata, "scoring": mode}) == 0.0


def test_hardest_worked_completion_stays_short():
    for name in FAMILIES:
        family, problems = sample(name, get_family(name).levels[-1], n=500)
        longest = max(len(family.render(p, "steps")) for p in problems)
        assert longest <= 90, (name, longest)


@pytest.mark.parametrize("name", FAMILIES)
def test_deterministic_for_a_seed_and_seeds_differ(name):
    top = get_family(name).levels[-1]
    assert sample(name, top, seed=7)[1] == sample(name, top, seed=7)[1]
    assert sample(name, top, seed=7)[1] != sample(name, top, seed=8)[1]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("bad", [0, 99, -1, True, 1.0, "1", None])
def test_invalid_level_names_allowed_levels(name, bad):
    family = get_family(name)
    with pytest.raises(ValueError, match=re.escape(str(list(family.levels)))):
        family.generate(bad, random.Random(0))


@pytest.mark.parametrize("name", FAMILIES)
def test_exact_ascii_integers_only(name):
    family = get_family(name)
    p = family.generate(family.levels[-1], random.Random(3))
    assert family.verify(p.answer, p.answer) == 1.0
    fullwidth = p.answer.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    arabic = p.answer.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for fake in (fullwidth, arabic, p.answer[:1] + "_" + p.answer[1:], "+" + p.answer, p.answer + ".0", p.answer + "e0"):
        assert family.verify(fake, p.answer) == 0.0, fake
    for junk in (None, 132, b"1", "", " ", "\x00"):
        assert family.verify(junk, p.answer) == 0.0
    assert family.verify(p.answer, "not a number", None) == 0.0


@st.composite
def truncations(draw):
    name = draw(st.sampled_from(FAMILIES))
    family = get_family(name)
    level = draw(st.sampled_from(family.levels))
    problem = family.generate(level, random.Random(draw(st.integers(0, 10**6))))
    completion = family.render(problem, draw(st.sampled_from(FORMATS)))
    cut = draw(st.integers(0, len(completion)))
    return family, problem, completion, completion[:cut]


@SETTINGS
@given(truncations())
def test_truncated_completions_score_zero_until_complete(case):
    family, problem, completion, prefix = case
    reward = family.verify(prefix, problem.answer, problem.metadata)
    assert reward == (1.0 if prefix.strip() == completion.strip() else 0.0)


ANY_TEXT = st.one_of(
    st.text(),
    st.text(max_size=10_000),
    st.tuples(st.text(min_size=1, max_size=8), st.integers(1, 10_000)).map(lambda t: (t[0] * t[1])[:10_000]),
    st.lists(st.sampled_from(["[", "]", ";", "<answer>", "</answer>", "<", ">", " ", "\n", "1", "2", "-", "=", "+"]),
             max_size=40).map("".join),
)


@SETTINGS
@given(st.sampled_from(FAMILIES), st.integers(0, 10**6), ANY_TEXT, st.sampled_from(MODES))
def test_verify_never_raises_and_credits_only_the_answer(name, seed, text, mode):
    family = get_family(name)
    problem = family.generate(random.Random(seed).choice(family.levels), random.Random(seed))
    reward = family.verify(text, problem.answer, {**problem.metadata, "scoring": mode})
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0
    if reward == 1.0:
        read = formats.extract_answer(text) if mode == "exact" else read_number(text).answer
        assert int(read) == int(problem.answer)


@SETTINGS
@given(st.data(), st.sampled_from(FAMILIES), st.integers(0, 10**6), st.sampled_from(MODES))
def test_shortcuts_earn_nothing_in_any_mode(data, name, seed, mode):
    """Hedging over several numbers that ends on the answer, and number forms that are not ASCII
    digits with an ASCII sign (tests/adversarial.py), score 0."""
    family = get_family(name)
    problem = family.generate(random.Random(seed).choice(family.levels), random.Random(seed))
    text = data.draw(shortcuts(problem.answer))
    assert family.verify(text, problem.answer, {**problem.metadata, "scoring": mode}) == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_every_listed_shortcut_scores_zero(mode):
    family = get_family("chain")
    for answer in ("72", "-45", "7", "0"):
        cases = [*hedges(answer, "70", "71"), *malformed_forms(answer).values()]
        for text in cases:
            assert family.verify(text, answer, {"scoring": mode}) == 0.0, text
        assert family.verify(f"The answer is {answer}.", answer, {"scoring": mode}) == (1.0 if mode == "math" else 0.0)
