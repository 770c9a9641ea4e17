"""Format taxonomies (environments/taxonomies.py): known labels on realistic completions, config errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.cli import main
from rl_lab.config import validate_config
from rl_lab.core.errors import ConfigError
from rl_lab.environments import formats
from rl_lab.environments.config_checks import taxonomy_of
from rl_lab.environments.taxonomies import TAXONOMIES, get_taxonomy, taxonomy_names

R1 = "<think>\n47 + 85: 40 + 80 = 120, 7 + 5 = 12, so 132.\n</think>\n<answer>132</answer>"
TINYGSM = ('def simple_math_problem() -> int:\n    """Tom has 47 apples and buys 85 more. How many does he have?"""\n'
           "    apples = 47\n    bought = 85\n    result = apples + bought\n    return result")
OMI1 = ("Let's add the numbers with Python.\n<llm-code>\nprint(47 + 85)\n</llm-code>\n<llm-code-output>\n132\n"
        "</llm-code-output>\nSo the answer is \\boxed{132}.")
OMI2 = "We add the tens and then the ones: $40 + 80 = 120$ and $7 + 5 = 12$, so the total is $\\boxed{132}$."
SMOLLM2_DIRECT = "The answer to this classic math problem is 12."  # SmolLM2-135M-Instruct, greedy
SMOLLM2_WORKED = ("To solve this problem, we need to find the final answer by adding 7 and 5.\n\n"
                  "Let's start by adding 7 and 5:\n7 + 5 = 12\n\nSo, the final answer is 12.")
SMOLLM2_EMPTY_BOX = "7 + 5 = 12\n\nThe answer is \\boxed{}."
SMOLLM2_PRAISE = "4 + 8 = 12\n\nYour answer is correct."


@pytest.mark.parametrize(
    ("name", "completion", "label"),
    [
        # controlled: today's formats, unchanged
        ("controlled", "132", "terse"),
        ("controlled", "[7+5=12;4+8+1=13] 132", "steps"),
        ("controlled", "<answer>132</answer>", "tagged"),
        ("controlled", "The answer is 132.", "other"),
        ("controlled", R1, "other"),
        # answer_style: how the final answer is marked
        ("answer_style", "so the answer is $\\boxed{132}$", "boxed"),
        ("answer_style", OMI2, "boxed"),
        ("answer_style", R1, "tagged"),
        ("answer_style", "<answer>132</answer>", "tagged"),
        ("answer_style", "Tom has 47 + 85 = 132 apples.\n#### 132", "hash"),
        ("answer_style", "The answer is 132.", "answer_is"),
        ("answer_style", SMOLLM2_DIRECT, "answer_is"),
        ("answer_style", SMOLLM2_WORKED, "answer_is"),
        ("answer_style", "**Answer:** 132", "answer_is"),
        ("answer_style", "132", "bare_number"),
        ("answer_style", "47 + 85 = 132", "bare_number"),
        ("answer_style", "[7+5=12;4+8+1=13] 132", "bare_number"),
        ("answer_style", SMOLLM2_EMPTY_BOX, "bare_number"),  # an empty box marks nothing
        ("answer_style", SMOLLM2_PRAISE, "bare_number"),  # "answer is correct" is not an answer
        ("answer_style", "I am not sure.", "other"),
        ("answer_style", "47+85", "other"),  # an echoed expression is no answer
        # reasoning: thinking block, worked steps, or the answer alone
        ("reasoning", R1, "thinking"),
        ("reasoning", "I add the tens first.</think>\nThe answer is 132.", "thinking"),
        ("reasoning", "[7+5=12;4+8+1=13] 132", "worked"),
        ("reasoning", "47 + 85 = 132", "worked"),
        ("reasoning", SMOLLM2_WORKED, "worked"),
        ("reasoning", "First add the tens. Then add the ones and carry.\nThe answer is 132.", "worked"),
        ("reasoning", OMI2, "worked"),
        ("reasoning", "132", "direct"),
        ("reasoning", "The answer is 132.", "direct"),
        ("reasoning", SMOLLM2_DIRECT, "direct"),
        ("reasoning", "\\boxed{132}", "direct"),
        ("reasoning", "<answer>132</answer>", "direct"),
        ("reasoning", "I don't know", "other"),
        ("reasoning", "   ", "other"),
        # echo_chamber: Zhao et al. 2025's three pretraining formats
        ("echo_chamber", TINYGSM, "python_function"),
        ("echo_chamber", f"```python\n{TINYGSM}\n```", "python_function"),
        ("echo_chamber", OMI1, "tagged_code"),
        ("echo_chamber", "```\nprint(47 + 85)\n```", "tagged_code"),
        ("echo_chamber", OMI2, "natural_language"),
        ("echo_chamber", SMOLLM2_WORKED, "natural_language"),
        ("echo_chamber", "132", "other"),
        ("echo_chamber", "\\boxed{132}", "other"),
    ],
)
def test_known_labels(name, completion, label):
    taxonomy = get_taxonomy(name)
    assert label in taxonomy.labels
    assert taxonomy.classify(completion) == label


def test_registry_and_label_order():
    assert taxonomy_names() == ["controlled", "answer_style", "reasoning", "echo_chamber", "rules"]
    for taxonomy in TAXONOMIES.values():
        assert taxonomy.labels[-1] == "other" and len(set(taxonomy.labels)) == len(taxonomy.labels)
    assert get_taxonomy("controlled").labels == formats.ALL_LABELS
    assert get_taxonomy().name == "controlled"


def test_controlled_taxonomy_is_classify_format():
    controlled = get_taxonomy("controlled")
    for text in ("132", " [1+1=2] 2 ", "<answer>x</answer>", "132 apples", "", "[", "1" * (formats.MAX_COMPLETION_CHARS + 1)):
        assert controlled.classify(text) == formats.classify_format(text)


def test_rules_first_match_wins():
    rules = [{"label": "boxed", "pattern": r"\\boxed\{"}, {"label": "code", "pattern": r"(?m)^def "},
             {"label": "boxed", "pattern": r"\\fbox\{"}, {"label": "hash", "pattern": "####"}]
    taxonomy = get_taxonomy("rules", rules)
    assert taxonomy.labels == ("boxed", "code", "hash", "other")
    assert taxonomy.classify("x \\boxed{1} #### 1") == "boxed"
    assert taxonomy.classify("\\fbox{1}") == "boxed"
    assert taxonomy.classify(TINYGSM) == "code"
    assert taxonomy.classify("#### 1") == "hash"
    assert taxonomy.classify("132") == "other"


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"taxonomy": "nope"}, "formats.taxonomy"),
        ({"taxonomy": "rules", "rules": [{"label": "a", "pattern": "ok"}, {"label": "b", "pattern": "(unclosed"}]},
         "formats.rules.1.pattern"),
        ({"taxonomy": "rules"}, "formats.rules"),
        ({"taxonomy": "rules", "rules": [{"label": "other", "pattern": "x"}]}, "formats.rules.0.label"),
        ({"taxonomy": "answer_style", "rules": [{"label": "a", "pattern": "x"}]}, "formats.rules"),
        ({"taxonomy": "rules", "rules": [{"label": "a"}]}, "formats.rules.0.pattern"),
        ({"taxonomy": "rules", "rules": [{"label": "a b", "pattern": "x"}]}, "formats.rules.0.label"),
    ],
)
def test_bad_taxonomy_config_is_a_config_error_naming_the_field(section, field):
    with pytest.raises(ConfigError) as info:
        validate_config({"name": "t", "environments": {"families": [{"name": "addition"}]}, "formats": section})
    assert field in str(info.value) and info.value.exit_code == 2


def test_config_selects_the_taxonomy_and_bad_ones_exit_2(tmp_path, capsys):
    cfg = validate_config({"name": "t", "environments": {"families": [{"name": "addition"}]},
                           "formats": {"taxonomy": "rules", "rules": [{"label": "boxed", "pattern": r"\\boxed"}]}})
    assert taxonomy_of(cfg).classify("\\boxed{3}") == "boxed"
    assert taxonomy_of(validate_config({"name": "t", "environments": {"families": [{"name": "addition"}]}})).name == "controlled"
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps({"name": "t", "output_dir": str(tmp_path / "out"),
                                "environments": {"families": [{"name": "addition"}]}, "formats": {"taxonomy": "shapes"}}))
    assert main(["data", "build", str(path)]) == 2
    assert "formats.taxonomy" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before validation


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="<>/thinkanswerboxed{}\\#*0123456789 +=\n`def():", max_size=300),
                 st.none(), st.integers()))
def test_every_taxonomy_labels_anything_without_raising(text):
    for taxonomy in [*TAXONOMIES.values(), get_taxonomy("rules", [{"label": "x", "pattern": "x+y"}])]:
        assert taxonomy.classify(text) in taxonomy.labels
