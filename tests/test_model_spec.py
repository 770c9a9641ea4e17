"""Model specs (plain / proxy: / steer:) parse and validate in one place; a plain spec samples as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from elicitation_fixtures import PROMPTS, single_thread, tiny_checkpoint  # noqa: F401

from rl_lab.core.errors import CheckpointError, ConfigError
from rl_lab.core.model_spec import (
    PlainSpec,
    ProxySpec,
    SteerSpec,
    base_path,
    is_model_spec,
    parse_model_spec,
    parse_syntax,
)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    # a directory name with the characters a path-based syntax would trip on
    return tiny_checkpoint(tmp_path_factory.mktemp("spec") / "grpo-tiny+lr=1e-3", seed=0)


def test_syntax_of_each_kind():
    assert parse_syntax("runs/a-b+c/base/model") == PlainSpec(Path("runs/a-b+c/base/model"))
    assert parse_syntax("proxy:base=a-1,tuned=b+2,untuned=c,alpha=0.5") == ProxySpec(Path("a-1"), Path("b+2"), Path("c"), 0.5)
    assert parse_syntax("proxy: untuned=c , base=a,tuned=b") == ProxySpec(Path("a"), Path("b"), Path("c"), 1.0)
    assert parse_syntax("steer:base=a,vector=v.safetensors") == SteerSpec(Path("a"), Path("v.safetensors"), 1.0, None)
    assert parse_syntax("steer:base=a,vector=v,strength=-2.5,layer=3") == SteerSpec(Path("a"), Path("v"), -2.5, 3)
    assert parse_syntax("./proxy:dir") == PlainSpec(Path("proxy:dir"))
    assert str(PlainSpec(Path("proxy:dir"))) == "./proxy:dir"


@pytest.mark.parametrize("spec", ["proxy:base=a,tuned=b,untuned=c,alpha=0.5", "steer:base=a,vector=v,strength=2,layer=1",
                                  "steer:base=a,vector=v,strength=2"])
def test_str_round_trips(spec):
    assert str(parse_syntax(spec)) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("proxy:a+b-c", r"'a\+b-c' is not key=value; the syntax is proxy:base=PATH"),
    ("proxy:base=a,tuned=b", "untuned missing"),
    ("proxy:base=a,tuned=b,untuned=c,base=d", "'base' is given twice"),
    ("proxy:base=a,tuned=b,untuned=c,beta=1", "unknown key 'beta'"),
    ("proxy:base=a,tuned=b,untuned=c,alpha=nan", "alpha must be a finite number"),
    ("proxy:base=a,tuned=,untuned=c", "'tuned=' is not key=value"),
    ("steer:base=a", "vector missing"),
    ("steer:base=a,vector=v,strength=1e400", "strength must be a finite number"),
    ("", "model spec is empty"),
])
def test_syntax_errors_are_config_errors(text, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_model_spec(text)
    assert err.value.exit_code == 2


def test_paths_are_validated_as_checkpoints(ckpt, tmp_path):
    assert parse_model_spec(str(ckpt)) == PlainSpec(ckpt)
    assert parse_model_spec(ckpt) == PlainSpec(ckpt)
    with pytest.raises(CheckpointError, match="does not exist"):
        parse_model_spec(f"proxy:base={ckpt},tuned={ckpt},untuned={tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="has no config.json"):
        parse_model_spec(f"steer:base={tmp_path / 'empty'},vector=v")


def test_helpers(ckpt):
    assert is_model_spec("proxy:base=a,tuned=b,untuned=c") and is_model_spec("steer:x")
    assert not is_model_spec("label=runs/a") and not is_model_spec(Path("proxy:x"))
    spec = parse_model_spec(f"proxy:base={ckpt},tuned={ckpt},untuned={ckpt}")
    assert base_path(spec) == ckpt == base_path(PlainSpec(ckpt))


def test_plain_sampler_is_sample_completions(ckpt):
    from rl_lab.core.generation import sample_completions
    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.core.sampler import load_sampler

    model, tok = load_model_and_tokenizer(ckpt)
    kwargs = dict(n=2, temperature=0.8, top_p=0.9, max_new_tokens=10, batch_size=3, seed=5)
    sampler = load_sampler(str(ckpt))
    assert sampler.sample(PROMPTS, **kwargs) == sample_completions(model, tok, PROMPTS, **kwargs)
    assert sampler.describe() == {"spec": str(ckpt), "kind": "plain"}


def test_forced_token_ids_open_the_completion_with_the_prefix(ckpt):
    """Drift scores a forced answer from its first forced token: the prompt's ids are the unforced
    prompt's, the completion starts with the prefix's ids, then what the model wrote."""
    from rl_lab.core.forcing import Forcing
    from rl_lab.core.sampler import load_sampler

    sampler = load_sampler(ckpt)
    tok = sampler.tokenizer
    plain = sampler.sample_ids(PROMPTS, n=2, max_new_tokens=6, seed=1)
    forced = sampler.sample_ids(PROMPTS, n=2, max_new_tokens=6, seed=1, forcing=Forcing(prefix="<answer>"))
    texts = sampler.sample(PROMPTS, n=2, max_new_tokens=6, seed=1, forcing=Forcing(prefix="<answer>"))
    prefix = tok("<answer>", add_special_tokens=False)["input_ids"]
    assert [p for p, _ in forced] == [p for p, _ in plain]
    for (_, completion), text in zip(forced, [t for row in texts for t in row], strict=True):
        assert completion[: len(prefix)] == prefix
        assert tok.decode(completion, skip_special_tokens=True) == text
