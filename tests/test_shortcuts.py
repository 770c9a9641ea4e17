"""Shortcut detectors on hand-written completions, with and without each shortcut."""

from __future__ import annotations

import random

import pytest

from rl_lab.analysis import shortcuts as sc


def test_a_repeats_a_prompt_number():
    assert sc.repeats_prompt_number("47+85=", "85", "132")
    assert sc.repeats_prompt_number("47+85=", "<answer>47</answer>", "132")
    assert sc.repeats_prompt_number("47+85=", "[7+5=12] 47", "132")
    assert not sc.repeats_prompt_number("47+85=", "132", "132")
    assert not sc.repeats_prompt_number("47+85=", "131", "132")  # wrong, but not a copy
    assert not sc.repeats_prompt_number("0+7=", "7", "7")  # the copy is the right answer
    assert not sc.repeats_prompt_number("47+85=", "garbage here", "132")


def test_b_no_work_in_a_format_that_requires_work():
    assert sc.no_work("[] 132")
    assert sc.no_work("[ ; ] 132")
    assert sc.no_work("[132] 132")  # the answer restated is not work
    assert sc.no_work("[carry] 132")  # no digit
    assert not sc.no_work("[7+5=12;4+8+1=13] 132")
    assert not sc.no_work("132")  # terse does not promise work
    assert sc.skipped_work("[] 132") and not sc.skipped_work("<answer>132</answer>")


def test_b_work_that_does_not_give_the_answer():
    good = "[7+5=12;4+8+1=13] 132"
    assert sc.work_mismatch(good, "addition") is False
    assert sc.work_mismatch("[7+5=13;4+8+1=13] 132", "addition") is True  # wrong arithmetic
    assert sc.work_mismatch("[7+5=12;4+8+1=13] 131", "addition") is True  # answer not from the work
    assert sc.work_mismatch("[7+5=12;4+8+1=13] 131", None) is False  # no rule: only arithmetic checked
    assert sc.work_mismatch("[foo=bar] 1", None) is None  # nothing checkable
    assert sc.work_mismatch("[12%7=5;53%7=4] 4", "modular") is False
    assert sc.work_mismatch("[max(3,9)=9;max(9,4)=9] 4", "comparison") is True
    assert sc.work_mismatch("[7-52=-45;-45+8=-37] -37", "chain") is False
    assert sc.skipped_work("[7+5=12;4+8+1=13] 131", "addition")


@pytest.mark.parametrize("family", ["addition", "multiplication", "chain", "comparison", "modular"])
def test_correct_renders_of_every_family_raise_no_flag(family):
    from rl_lab.environments.registry import get_family

    fam, rng = get_family(family), random.Random(1)
    for level in fam.levels:
        for _ in range(10):
            p = fam.generate(level, rng)
            for fmt in ("terse", "steps", "tagged"):
                flags = sc.flags({"prompt": p.prompt, "completion": fam.render(p, fmt), "answer": p.answer,
                                  "family": family})
                assert not flags["repeat_prompt_number"] and not flags["skipped_work"]
                assert not flags["oracle_containment"]
                if fmt == "steps":
                    assert flags["work_mismatch"] is False


def test_c_length_collapse():
    assert sc.length_collapse("12", 10) is True
    assert sc.length_collapse("123456", 10) is False
    assert sc.length_collapse("1234", 10, fraction=0.3) is False
    assert sc.length_collapse("12", None) is None


def test_d_oracle_containment_and_reasoning_gym_partial_credit():
    from reasoning_gym.dataset import ProceduralDataset

    assert sc.oracle_containment("1321", "132")
    assert sc.oracle_containment("<answer>x132</answer>", "132")
    assert sc.oracle_containment("the answer is 132 or 133", "132")  # unparseable: the whole text
    assert not sc.oracle_containment("132", "132")
    assert not sc.oracle_containment("131", "132")
    for answer, oracle in [("1321", "132"), ("132", "132"), ("13", "132"), ("xx132xx", "132")]:
        # the library's own scorer (it never touches self) gives the same partial credit
        assert sc.partial_credit(answer, oracle) == ProceduralDataset.score_answer(None, answer, {"answer": oracle})


def test_rates_over_rows():
    rows = [
        {"prompt": "47+85=", "completion": "85", "answer": "132", "difficulty": 2, "family": "addition"},
        {"prompt": "47+85=", "completion": "[] 132", "answer": "132", "difficulty": 2, "family": "addition"},
        {"prompt": "47+85=", "completion": "[7+5=12;4+8+1=13] 132", "answer": "132", "difficulty": 2,
         "family": "addition"},
        {"prompt": "47+85=", "completion": "1322", "answer": "132", "difficulty": 2, "family": "addition"},
    ]
    medians = sc.median_lengths(rows)
    assert medians == {2: 5.0}  # lengths 2, 6, 21, 4
    rates = sc.rates(rows, medians)
    assert rates["repeat_prompt_number"] == 0.25
    assert rates["skipped_work"] == 0.25 and rates["no_work"] == 0.25
    assert rates["work_mismatch"] == 0.0  # only the full steps row is checkable
    assert rates["length_collapse"] == 0.25  # "85": 2 < 2.5
    assert rates["oracle_containment"] == 0.25
    assert rates["steps_share"] == 0.5 and rates["rows"] == 4
    # the rows each detector checked: what an interval of its rate rests on
    assert rates["checked"]["work_mismatch"] == 1 and rates["checked"]["skipped_work"] == 4
    assert rates["checked"]["length_collapse"] == 4
    assert sc.rates(rows)["length_collapse"] is None  # no base reference
    assert sc.rates(rows)["checked"]["length_collapse"] == 0


def test_detectors_read_answers_in_the_rows_scoring_mode():
    """Real-model outputs: in math mode the committed answer is what the verifier reads, so a copied
    operand in prose and a hedge are both counted; in exact mode the same prose has no answer."""
    from rl_lab.environments.problem_sets import spec_metadata

    math_meta = spec_metadata({"name": "addition", "scoring": "math"})
    copied = {"family": "addition", "answer": "132", "prompt": "What is 47+85?", "metadata": math_meta,
              "completion": "Adding them gives 85, so the answer is \\boxed{85}."}
    hedge = {**copied, "completion": "I think it is 131, or maybe 132."}
    right = {**copied, "completion": "47 + 85 = 132. The answer is \\boxed{132}."}
    assert sc.flags(copied)["repeat_prompt_number"] and not sc.flags(copied)["hedging"]
    assert sc.flags(hedge)["hedging"] and not sc.flags(hedge)["repeat_prompt_number"]
    assert not any(v for k, v in sc.flags(right).items() if k != "length_collapse")
    exact = {**copied, "metadata": spec_metadata({"name": "addition"})}
    assert not sc.flags(exact)["repeat_prompt_number"]  # prose is no answer in rl_lab's own shapes
    assert sc.rates([copied, hedge, right])["hedging"] == pytest.approx(1 / 3)
