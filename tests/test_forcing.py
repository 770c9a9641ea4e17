"""Format forcing: a forced prefix or a constrained first token starts the answer in a chosen format."""

from __future__ import annotations

import pytest
from elicitation_fixtures import scripted_model, single_thread  # noqa: F401

from rl_lab.core.errors import ConfigError
from rl_lab.core.forcing import Forcing, check_prefix_encodes, suppressed_first_tokens
from rl_lab.core.generation import sample_completions
from rl_lab.environments.formats import classify_format
from rl_lab.environments.taxonomies import TAXONOMIES, get_taxonomy

PROMPTS = ["1+2=", "12+30=", "5+9=", "47+85="]
CONTROLLED = get_taxonomy("controlled")


def answers_of(completions):
    return [c for row in completions for c in row]


def sample(model, tok, forcing=None, n=2, temperature=1.0):
    return sample_completions(model, tok, PROMPTS, n=n, temperature=temperature, max_new_tokens=24, seed=0,
                              forcing=forcing)


def test_scripted_model_answers_terse_unforced():
    model, tok = scripted_model("terse")
    out = sample(model, tok)
    assert [c for row in out for c in row] == ["3", "3", "42", "42", "14", "14", "132", "132"]


@pytest.mark.parametrize("fmt", ["terse", "steps", "tagged"])
def test_forcing_a_terse_model_yields_the_forced_format(fmt):
    """A model that always answers terse, started in each controlled format, answers in that format,
    and the returned completion holds the forced prefix (so verifiers and classifiers see it whole)."""
    model, tok = scripted_model("terse")
    forcing = CONTROLLED.forcing_for(fmt)
    out = answers_of(sample(model, tok, forcing))
    assert {classify_format(c) for c in out} == {fmt}, out
    assert all(c.startswith(forcing.prefix) for c in out)
    expected = {"terse": "132", "steps": "[47+85=132] 132", "tagged": "<answer>132</answer>"}[fmt]
    assert out[-1] == expected


def test_first_token_constraint_overrides_the_models_first_choice_only():
    """A model that prefers tagged is forced terse by the first-token constraint (its first choice '<'
    is suppressed); after that first token it writes freely (the rest of the terse answer, then EOS)."""
    model, tok = scripted_model("tagged")
    assert {classify_format(c) for c in answers_of(sample(model, tok))} == {"tagged"}
    out = answers_of(sample(model, tok, CONTROLLED.forcing_for("terse")))
    assert out == ["3", "3", "42", "42", "14", "14", "132", "132"]


def test_forcing_is_greedy_and_sampling_alike():
    model, tok = scripted_model("terse")
    forced = CONTROLLED.forcing_for("tagged")
    assert sample(model, tok, forced, n=1, temperature=0) == sample(model, tok, forced, n=1, temperature=0.7)


def test_suppressed_first_tokens_are_the_complement_of_the_allowed_ones():
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    width = len(tok) + 3  # logits wider than the tokenizer: the extra ids are never allowed
    suppressed = set(suppressed_first_tokens(tok, "0123456789-", width))
    allowed = sorted(set(range(width)) - suppressed)
    assert sorted(tok.convert_ids_to_tokens(i) for i in allowed) == sorted("-0123456789")
    assert tok.eos_token_id in suppressed
    with pytest.raises(ConfigError, match="no token"):
        suppressed_first_tokens(tok, "\t", width)


def test_a_prefix_the_tokenizer_cannot_write_is_a_config_error():
    from rl_lab.core.tokenizer import build_char_tokenizer

    with pytest.raises(ConfigError, match="cannot write") as err:
        check_prefix_encodes(build_char_tokenizer(), Forcing(prefix="\\boxed{é"))
    assert err.value.exit_code == 2


# examples of completions in each forceable format, per taxonomy
EXAMPLES = {
    "controlled": {"terse": "132", "steps": "[7+5=12] 132", "tagged": "<answer>132</answer>"},
    "answer_style": {"boxed": "\\boxed{132}", "tagged": "<answer>132</answer>", "hash": "#### 132",
                     "answer_is": "The answer is 132.", "bare_number": "132"},
    "reasoning": {"thinking": "<think>47+85=132</think> 132"},
    "echo_chamber": {"python_function": "def simple_math_problem():\n    return 47 + 85",
                     "tagged_code": "<llm-code>\nprint(47 + 85)\n</llm-code>"},
}


@pytest.mark.parametrize("name", sorted(TAXONOMIES))
def test_every_declared_forcing_starts_its_own_format(name):
    """A completion in the format starts the way its forcing starts it, and is classified as that format."""
    taxonomy = TAXONOMIES[name]
    assert set(taxonomy.forcing) == set(EXAMPLES[name])
    for label, forcing in taxonomy.forcing.items():
        example = EXAMPLES[name][label]
        assert taxonomy.classify(example) == label
        assert example.startswith(forcing.prefix)
        rest = example[len(forcing.prefix):]
        assert not forcing.first_chars or rest[:1] in forcing.first_chars


def test_a_format_without_forcing_names_the_forceable_ones():
    with pytest.raises(ConfigError, match=r"'other'.*\['terse', 'steps', 'tagged'\]"):
        CONTROLLED.forcing_for("other")


def test_rules_taxonomy_declares_forcing_per_rule():
    from pydantic import ValidationError

    from rl_lab.core.config import FormatRule

    taxonomy = get_taxonomy("rules", [FormatRule(label="boxed", pattern=r"\\boxed\{", force_prefix="\\boxed{"),
                                      FormatRule(label="hash", pattern="####")])
    assert taxonomy.forcing_for("boxed") == Forcing(prefix="\\boxed{")
    with pytest.raises(ConfigError, match="'hash'.*cannot be forced"):
        taxonomy.forcing_for("hash")
    with pytest.raises(ValidationError, match="force_prefix"):
        FormatRule(label="x", pattern="x", force_prefix="")
