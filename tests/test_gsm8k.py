"""The GSM8K family: reads a local jsonl/parquet, levels from solution length, exact final number, no shortcuts."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from adversarial import shortcuts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rl_lab.config import load_config
from rl_lab.core.errors import ConfigError
from rl_lab.environments import formats
from rl_lab.environments.registry import get_family

ROWS = [
    {"question": "Tom has 3 apples and buys 4 more. How many apples does he have?",
     "answer": "Tom has 3+4=<<3+4=7>>7 apples.\n#### 7"},
    {"question": "A box holds 1,000 pens. 250 are sold, then half of the rest. How many are left?",
     "answer": "1000-250=<<1000-250=750>>750 remain.\nHalf of them: 750/2=<<750/2=375>>375.\n#### 375"},
    {"question": "Ann saves $1,200 a month; how much in 2 months?",
     "answer": "1200*2=<<1200*2=2400>>2400\n#### 2,400"},
    {"question": "A debt of 5 dollars grows by 3. What is the balance?",
     "answer": "The balance is -5-3=<<-5-3=-8>>-8.\n#### -8"},
]


@pytest.fixture()
def gsm_file(tmp_path) -> Path:
    path = tmp_path / "gsm8k_small.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_loads_jsonl_levels_from_solution_lines(gsm_file):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    # rows with 1 worked line -> level 1, the 2-line row -> level 2
    assert family.levels == (1, 2)
    problem = family.generate(2, random.Random(0))
    assert problem.answer == "375"
    assert problem.question.startswith("A box holds")
    assert problem.prompt == f"Question: {problem.question}\nAnswer:"
    assert all("<<" not in line for line in problem.work)


def test_loads_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "g.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    family = get_family("gsm8k", {"path": str(path), "max_problems": 2})
    answers = {family.generate(lv, random.Random(s)).answer for lv in family.levels for s in range(10)}
    assert answers == {"7", "375"}


def test_answers_are_canonical_numbers(gsm_file):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    answers = {family.generate(1, random.Random(s)).answer for s in range(30)}
    assert answers == {"7", "2400", "-8"}


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("375", 1.0),  # terse
        ("<answer>375</answer>", 1.0),  # tagged
        ("[1000-250=750;750/2=375] 375", 1.0),  # steps
        ("1000-250 = 750, half is 375.\n#### 375", 1.0),  # GSM8K's own layout
        ("So the answer is 375.", 1.0),  # last number in free text
        ("#### 375.0", 1.0),  # same value
        ("375 is wrong, it is 374", 0.0),  # the final number decides
        ("The answer is 375. Step 2 confirms it.", 1.0),  # a marked answer is not overridden by a later number
        ("The answer is 374. Step 375 confirms it.", 0.0),
        ("<think>375? no.</think><answer>374</answer>", 0.0),
        ("<think>Half of 750.</think><answer>375</answer>", 1.0),
        ("Half of 750 is \\boxed{375}.", 1.0),
        ("$375", 1.0),
        ("The answer is $\\boxed{375}$.", 1.0),
        ("#### 3750", 0.0),
        ("3,75", 0.0),
        ("no number here", 0.0),
        ("", 0.0),
    ],
)
def test_verify_exact_final_number(gsm_file, completion, reward):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    assert family.verify(completion, "375") == reward


# Issue 15, GSM8K answer 72: each was paid (reward 1.0) by the last-number fallback with Decimal.
SHORTCUTS_PAID_BEFORE = [
    "I guess 70, 71 or 72", "72 73 74 72", "#### 72 or 73",  # hedging that ends on the answer
    "\u221272",  # -72 written with a Unicode minus (the minus was skipped)
    "0x72", "72apples",  # a number glued to letters
    "\u0667\u0662", "\uff17\uff12", "\U0001d7d5\U0001d7d0", "7_2", "72e0",  # forms Decimal accepts
    "The answer is 70. Step 72 confirms it.",  # a later number overrode the answer
]


@pytest.mark.parametrize("completion", SHORTCUTS_PAID_BEFORE)
@pytest.mark.parametrize("mode", ["exact", "math"])
def test_issue_15_shortcuts_score_zero(gsm_file, completion, mode):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    assert family.verify(completion, "72", {"scoring": mode}) == 0.0
    assert family.verify("The answer is 72. Step 2 confirms it.", "72", {"scoring": mode}) == 1.0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # file is read-only
@given(st.data(), st.integers(-10**7, 10**7), st.sampled_from(["exact", "math"]))
def test_shortcuts_earn_nothing(gsm_file, data, value, mode):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    answer = str(value)
    assert family.verify(f"So the answer is {value:,}.", answer, {"scoring": mode}) == 1.0
    assert family.verify(data.draw(shortcuts(answer)), answer, {"scoring": mode}) == 0.0


def test_verify_never_raises_and_handles_commas(gsm_file):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    assert family.verify("The total is $2,400.", "2400") == 1.0
    assert family.verify(None, "2400") == 0.0
    assert family.verify("9" * (formats.MAX_COMPLETION_CHARS + 1), "9") == 0.0
    assert family.verify("-8", "-8") == 1.0


def test_rendered_steps_completion_verifies(gsm_file):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    problem = family.generate(2, random.Random(1))
    for fmt in formats.FORMATS:
        text = family.render(problem, fmt)
        assert formats.classify_format(text) == fmt
        assert family.verify(text, problem.answer) == 1.0


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({}, "path"),
        ({"path": "/nonexistent/gsm8k.jsonl"}, "does not exist"),
        ({"path": "PLACEHOLDER", "shuffle": True}, "shuffle"),
    ],
)
def test_bad_params_are_config_errors(tmp_path, gsm_file, params, needle):
    params = {k: (str(gsm_file) if v == "PLACEHOLDER" else v) for k, v in params.items()}
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(json.dumps({"name": "g", "environments": {"families": [
        {"name": "gsm8k", "params": params}]}}))
    with pytest.raises(ConfigError) as info:
        load_config(cfg_file)
    assert "environments.families.0" in str(info.value)
    assert needle in str(info.value)


def test_row_without_final_answer_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "no marker"}) + "\n")
    with pytest.raises(ValueError, match="row 0.*####"):
        get_family("gsm8k", {"path": str(path)})


def test_problem_set_rows_verify_through_the_dispatcher(gsm_file):
    from rl_lab.environments.problem_sets import build_problem_set, verify_completion

    dataset = build_problem_set([{"name": "gsm8k", "role": "trained", "params": {"path": str(gsm_file)}}], 3, 0)
    assert set(dataset["difficulty"]) == {1, 2}
    for row in dataset:
        assert row["prompt"].startswith("Question: ") and row["prompt"].endswith("\nAnswer:")
        assert verify_completion(row, f"so it is {row['answer']}") == 1.0
        assert verify_completion(row, f"so it is {row['answer']}1") == 0.0
