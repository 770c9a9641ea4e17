"""Answer formats: the classifier's labels, answer extraction, rendering round trips, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.environments import formats
from rl_lab.environments.formats import (
    ALL_LABELS,
    FORMATS,
    OTHER,
    classify_format,
    extract_answer,
    parse,
    render,
)

SETTINGS = settings(max_examples=150, deadline=None)

# Whitespace-free tokens without the markers [ ] < > ; : what an answer can be.
TOKENS = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]<>;"), min_size=1,
                 max_size=20).filter(lambda s: formats.is_answer_token(s))
# Work steps: no brackets or semicolons inside, and something left after stripping.
STEPS = st.lists(st.text(alphabet="0123456789+-*%=max(),", min_size=1, max_size=12), max_size=8)
MARKER_SOUP = st.lists(
    st.sampled_from(["[", "]", ";", "<answer>", "</answer>", "<", ">", "/", " ", "\n", "12", "-3", "x", "=", ""]),
    max_size=30,
).map("".join)
HUGE = st.tuples(st.text(min_size=1, max_size=8), st.integers(1, 10_000)).map(lambda t: (t[0] * t[1])[:10_000])


@pytest.mark.parametrize(
    ("completion", "label", "answer"),
    [
        ("132", "terse", "132"),
        ("  132 \n", "terse", "132"),
        ("[7+5=12;4+8+1=13] 132", "steps", "132"),
        ("[] 132", "steps", "132"),
        ("<answer>132</answer>", "tagged", "132"),
        ("<answer> -4 </answer>\n", "tagged", "-4"),
        ("132 apples", "other", None),
        ("<answer>132</answer> 7", "other", None),
        ("[1;2] [3] 4", "other", None),
        ("[7+5=12] ", "other", None),
        ("<answer>13", "other", None),
        ("", "other", None),
        ("1" * (formats.MAX_COMPLETION_CHARS + 1), "other", None),
    ],
)
def test_known_shapes(completion, label, answer):
    assert classify_format(completion) == label
    assert extract_answer(completion) == answer


@pytest.mark.parametrize("obj", [None, 132, 1.5, b"132", ["132"], {"a": 1}])
def test_non_strings_are_other(obj):
    assert parse(obj) == (OTHER, None, [])


@SETTINGS
@given(st.one_of(st.text(), st.text(max_size=10_000), HUGE, MARKER_SOUP))
def test_classify_any_text_returns_a_label(text):
    label, answer, work = parse(text)
    assert label in ALL_LABELS
    assert classify_format(text) == label
    assert (answer is None) == (label == OTHER)
    if answer is not None:
        assert formats.is_answer_token(answer)
        assert answer in text


@SETTINGS
@given(TOKENS, STEPS, st.sampled_from(FORMATS))
def test_render_round_trip(answer, work, fmt):
    completion = render(fmt, answer, work)
    label, got, steps = parse(completion)
    assert label == fmt
    assert got == answer
    if fmt == "steps":
        assert steps == [w.strip() for w in work if w.strip()]


@SETTINGS
@given(st.text(max_size=50))
def test_answer_token_is_a_terse_completion(text):
    assert formats.is_answer_token(text) == (classify_format(text) == "terse" and extract_answer(text) == text)


def test_render_unknown_format_names_the_choices():
    with pytest.raises(ValueError, match="terse"):
        render("latex", "1", [])
