"""The GSM8K family: reads a local jsonl/parquet, levels from solution length, exact final number."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

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
        ("#### 3750", 0.0),
        ("3,75", 0.0),
        ("no number here", 0.0),
        ("", 0.0),
    ],
)
def test_verify_exact_final_number(gsm_file, completion, reward):
    family = get_family("gsm8k", {"path": str(gsm_file)})
    assert family.verify(completion, "375") == reward


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
