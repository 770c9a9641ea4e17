"""Problem sets: columns, determinism, distinct prompts, the dispatching verifier, the summary."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.core.config import FamilySpec
from rl_lab.environments.formats import FORMATS, render
from rl_lab.environments.problem_sets import (
    COLUMNS,
    build_problem_set,
    problem_set_summary,
    verify_completion,
)
from rl_lab.environments.registry import get_family

SPECS = [
    FamilySpec(name="addition", levels=[3, 4]),
    FamilySpec(name="chain"),
    FamilySpec(name="comparison", role="prior_skill", levels=[1, 6]),
]


def test_columns_and_counts():
    ds = build_problem_set(SPECS, per_level=7, seed=0)
    assert set(COLUMNS) <= set(ds.column_names)
    cells = Counter(zip(ds["family"], ds["difficulty"], strict=True))
    expected = {("addition", lv) for lv in (3, 4)} | {("chain", lv) for lv in get_family("chain").levels}
    expected |= {("comparison", 1), ("comparison", 6)}
    assert set(cells) == expected and set(cells.values()) == {7}
    for row in ds:
        assert row["prompt"] == row["question"] + "="
        assert isinstance(json.loads(row["metadata"]), dict)
        assert row["role"] == ("prior_skill" if row["family"] == "comparison" else "trained")


def test_deterministic_for_a_seed_and_seeds_differ():
    first = build_problem_set(SPECS, per_level=5, seed=3).to_list()
    assert first == build_problem_set(SPECS, per_level=5, seed=3).to_list()
    assert first != build_problem_set(SPECS, per_level=5, seed=4).to_list()


def test_prompts_are_distinct_when_the_level_allows():
    ds = build_problem_set([FamilySpec(name="addition", levels=[2, 3])], per_level=300, seed=0)
    assert len(set(ds["prompt"])) == len(ds) == 600


def test_small_levels_fill_their_quota_with_repeats():
    # modular level 1 has 10 values of a x 8 moduli = 80 distinct problems
    ds = build_problem_set([FamilySpec(name="modular", levels=[1])], per_level=100, seed=0)
    assert len(ds) == 100
    assert len(set(ds["prompt"])) == 80


def test_levels_override_and_dict_specs():
    specs = [{"name": "multiplication", "role": "trained", "levels": None, "params": {}}]
    ds = build_problem_set(specs, per_level=2, seed=0, levels={"multiplication": [5]})
    assert set(ds["difficulty"]) == {5}


@pytest.mark.parametrize(
    ("specs", "per_level", "error"),
    [
        ([FamilySpec(name="addition", levels=[9])], 2, ValueError),
        ([FamilySpec(name="addition")], 0, ValueError),
        ([{"name": "nosuchfamily"}], 2, KeyError),
        ([], 2, ValueError),
    ],
)
def test_bad_requests_raise(specs, per_level, error):
    with pytest.raises(error):
        build_problem_set(specs, per_level=per_level, seed=0)


def test_verify_completion_dispatches_to_the_family():
    ds = build_problem_set(SPECS, per_level=3, seed=1)
    for row in ds:
        for fmt in FORMATS:
            assert verify_completion(row, render(fmt, row["answer"], [])) == 1.0
            assert verify_completion(row, render(fmt, str(int(row["answer"]) + 1), [])) == 0.0
        # the reward function's field subset (TRL columns) is enough
        fields = {"family": row["family"], "answer": row["answer"], "metadata": row["metadata"]}
        assert verify_completion(fields, row["answer"]) == 1.0


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"family": "nosuchfamily", "answer": "1"},
        {"family": "addition"},
        {"family": "addition", "answer": "1", "metadata": "{not json"},
        {"family": "addition", "answer": "1", "metadata": "[1, 2]"},
        {"family": "rg:no_such_dataset", "answer": "1"},
        {"family": "addition", "answer": "1", "metadata": json.dumps({"family_params": {"digits": 3}})},
        None,
    ],
)
def test_verify_completion_scores_junk_zero(fields):
    assert verify_completion(fields, "1") == 0.0


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries({
        "family": st.one_of(st.sampled_from(["addition", "chain", "modular"]), st.text(max_size=10)),
        "answer": st.one_of(st.text(max_size=5), st.integers(), st.none()),
        "metadata": st.one_of(st.none(), st.text(max_size=20), st.just("{}")),
    }),
    st.one_of(st.text(), st.none(), st.integers()),
)
def test_verify_completion_never_raises(fields, completion):
    reward = verify_completion(fields, completion)
    assert isinstance(reward, float) and 0.0 <= reward <= 1.0


def test_summary_counts_match_the_rows():
    ds = build_problem_set(SPECS, per_level=4, seed=2)
    summary = problem_set_summary(ds)
    assert summary["problems"] == len(ds)
    assert sum(n for levels in summary["counts"].values() for n in levels.values()) == len(ds)
    rows = ds.to_list()
    for family, levels in summary["counts"].items():
        for level, n in levels.items():
            assert n == sum(1 for r in rows if r["family"] == family and str(r["difficulty"]) == level)
    assert summary["roles"] == {"addition": "trained", "chain": "trained", "comparison": "prior_skill"}
    assert summary["distinct_prompts"] == len({r["prompt"] for r in rows})
    json.dumps(summary)  # JSON-ready
