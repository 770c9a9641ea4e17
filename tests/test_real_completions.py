"""Scoring completions written the way real models answer (tests/real_completions.py): exact vs math.

``python tests/real_completions.py`` prints the same counts as a table.
"""

from __future__ import annotations

import pytest
from real_completions import CASES, counts

from rl_lab.environments.formats import classify_format
from rl_lab.environments.gsm8k import GSM8K
from rl_lab.environments.problem_sets import (
    build_problem_set,
    read_completion,
    row_scoring,
    spec_metadata,
    verify_completion,
)
from rl_lab.environments.registry import get_family

ADDITION = get_family("addition")
GSM8K_VERIFIER = GSM8K.__new__(GSM8K)  # verification reads no data file


def test_the_fixture_covers_the_styles_and_kinds():
    assert len(CASES) >= 47 and len({c.completion for c in CASES}) == len(CASES)
    by_kind = {kind: [c for c in CASES if c.kind == kind] for kind in ("correct", "wrong", "shortcut")}
    assert len(by_kind["correct"]) >= 22 and by_kind["wrong"] and by_kind["shortcut"]
    styles = " ".join(c.completion for c in by_kind["correct"])
    for marker in ("The answer is", " = ", "####", "\\boxed{", "<think>", "<answer>", "**", "{,}"):
        assert marker in styles, marker


def test_math_pays_every_correct_answer_and_nothing_else():
    assert counts(lambda c, a: ADDITION.verify(c, a, {"scoring": "math"})) == {
        "correct": (28, 28), "wrong": (0, 13), "shortcut": (0, 16)}


def test_exact_pays_only_rl_labs_own_shapes():
    assert counts(lambda c, a: ADDITION.verify(c, a, {"scoring": "exact"})) == {
        "correct": (3, 28), "wrong": (0, 13), "shortcut": (0, 16)}
    paid = {c.completion for c in CASES if ADDITION.verify(c.completion, c.answer, {"scoring": "exact"}) == 1.0}
    assert paid == {"132", "[7+5=12;4+8+1=13] 132", "<answer>132</answer>"}
    assert {classify_format(c) for c in paid} == {"terse", "steps", "tagged"}


@pytest.mark.parametrize("mode", ["exact", "math"])
def test_gsm8k_reads_real_answers_in_both_modes(mode):
    assert counts(lambda c, a: GSM8K_VERIFIER.verify(c, a, {"scoring": mode})) == {
        "correct": (28, 28), "wrong": (0, 13), "shortcut": (0, 16)}


def test_the_mode_reaches_the_verifier_through_the_problem_set_row():
    rows = {mode: build_problem_set([{"name": "addition", "levels": [2], "scoring": mode}], 5, 0)
            for mode in ("exact", "math")}
    for exact_row, math_row in zip(rows["exact"], rows["math"], strict=True):
        assert exact_row["prompt"] == math_row["prompt"]  # the mode changes nothing but verification
        styled = f"<think>carry the one</think>\nThe answer is **{exact_row['answer']}**."
        assert verify_completion(exact_row, styled) == 0.0 and verify_completion(math_row, styled) == 1.0
        assert read_completion(math_row, styled).answer == exact_row["answer"]
        hedge = f"{int(exact_row['answer']) + 1} or {exact_row['answer']}"
        assert verify_completion(math_row, hedge) == 0.0 and read_completion(math_row, hedge).hedged


def test_a_spec_alone_rebuilds_what_a_row_needs():
    """Rollout logs carry family and answer, not metadata: the spec supplies the rest."""
    spec = {"name": "addition", "levels": [2], "scoring": "math"}
    row = build_problem_set([spec], 1, 0)[0]
    fields = {"family": row["family"], "answer": row["answer"], "metadata": spec_metadata(spec)}
    assert row_scoring(fields) == row_scoring(row) == "math" and row_scoring({"family": "addition"}) == "exact"
    text = f"#### {row['answer']}"
    assert verify_completion(fields, text) == verify_completion(row, text) == 1.0
    assert read_completion(fields, text) == read_completion(row, text)
    assert spec_metadata({"name": "gsm8k", "params": {"path": "x"}}) == {"scoring": "exact", "family_params": {"path": "x"}}
