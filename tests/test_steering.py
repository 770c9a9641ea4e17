"""Activation steering: a mean-difference vector from the base's own activations, added at one layer."""

from __future__ import annotations

import math

import pytest
import torch
from elicitation_fixtures import PROMPTS, single_thread, tiny_checkpoint  # noqa: F401

from rl_lab.core.errors import CheckpointError, ConfigError
from rl_lab.core.models import load_model_and_tokenizer
from rl_lab.core.sampler import load_sampler
from rl_lab.core.steering import (
    SteeringVector,
    compute_steering_vector,
    load_steering_vector,
    save_steering_vector,
    steering,
)

LAYER = 2
TAGGED = [("1+2=", "<answer>3</answer>"), ("12+30=", "<answer>42</answer>"), ("5+9=", "<answer>14</answer>")]
TERSE = [("1+2=", "3"), ("47+85=", "132")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("steer")
    base = tiny_checkpoint(root / "base", seed=0)
    model, tok = load_model_and_tokenizer(base)
    vector = compute_steering_vector(model, tok, TAGGED, TERSE, LAYER, metadata={"positive": "tagged"})
    path = save_steering_vector(vector, root / "tagged_vs_terse.safetensors")
    small = tiny_checkpoint(root / "small", seed=0, preset="small")
    return {"root": root, "base": base, "model": model, "tok": tok, "vector": vector, "path": path, "small": small}


def steer(setup, strength, extra=""):
    return f"steer:base={setup['base']},vector={setup['path']},strength={strength}{extra}"


def mean_activation(model, tok, pairs, layer, reduce):
    rows = []
    for prompt, completion in pairs:
        ids = tok(prompt + completion, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[layer + 1][0]
        start = len(tok(prompt, add_special_tokens=False)["input_ids"])
        rows.append(hidden[-1] if reduce == "last" else hidden[start:].mean(0))
    return torch.stack(rows).mean(0)


@pytest.mark.parametrize("reduce", ["completion_mean", "last"])
def test_vector_is_the_mean_difference_of_layer_activations(setup, reduce):
    """Padded batches give what one unpadded forward per text gives, reduced as asked."""
    model, tok = setup["model"], setup["tok"]
    vector = compute_steering_vector(model, tok, TAGGED, TERSE, LAYER, reduce=reduce, batch_size=2)
    expected = mean_activation(model, tok, TAGGED, LAYER, reduce) - mean_activation(model, tok, TERSE, LAYER, reduce)
    assert torch.allclose(vector.vector, expected, atol=1e-5)
    assert vector.layer == LAYER and vector.metadata["reduce"] == reduce and vector.metadata["n_negative"] == "2"


def test_the_hook_adds_strength_times_the_vector_to_that_layer_only(setup):
    model, tok = setup["model"], setup["tok"]
    enc = tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    layer = model.model.layers[LAYER]
    seen = []

    def run():  # the layer's output as the next layer receives it (a hook registered after the steering one)
        handle = layer.register_forward_hook(lambda _m, _a, out: seen.append(out))
        try:
            with torch.no_grad():
                return model(**enc, output_hidden_states=True).hidden_states
        finally:
            handle.remove()

    plain = run()
    with steering(model, setup["vector"], 3.0):
        steered = run()
    after = run()  # the hook is gone
    assert torch.allclose(seen[1] - seen[0], 3.0 * setup["vector"].vector.expand_as(seen[0]), atol=1e-5)
    assert all(torch.equal(steered[i], plain[i]) for i in range(LAYER + 1))
    assert not torch.allclose(steered[LAYER + 2], plain[LAYER + 2])
    assert torch.equal(seen[2], seen[0]) and all(torch.equal(a, p) for a, p in zip(after, plain, strict=True))


def test_strength_zero_reproduces_the_unsteered_samples_exactly(setup):
    kwargs = dict(n=3, temperature=1.0, top_p=0.95, max_new_tokens=12, batch_size=5, seed=3)
    plain = load_sampler(setup["base"]).sample(PROMPTS, **kwargs)
    assert load_sampler(steer(setup, 0)).sample(PROMPTS, **kwargs) == plain
    assert load_sampler(steer(setup, 8)).sample(PROMPTS, **kwargs) != plain


def test_steered_forward_is_the_hooked_model(setup):
    from rl_lab.analysis.drift import sequence_kls

    sampler = load_sampler(steer(setup, 4))
    ids = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad(), steering(setup["model"], setup["vector"], 4.0):
        expected = setup["model"](input_ids=ids).logits
    assert torch.allclose(sampler(input_ids=ids).logits, expected, atol=1e-5)
    seqs = sampler.sample_ids(PROMPTS, n=1, max_new_tokens=6)
    zero = load_sampler(steer(setup, 0))
    assert all(v == 0.0 for s in sequence_kls(setup["model"], zero, seqs, pad_id=0) for v in s)
    assert max(v for s in sequence_kls(setup["model"], sampler, seqs, pad_id=0) for v in s) > 1e-3


def test_a_saved_vector_keeps_its_layer_and_provenance(setup):
    loaded = load_steering_vector(setup["path"])
    assert loaded.layer == LAYER and torch.equal(loaded.vector, setup["vector"].vector)
    assert loaded.metadata["positive"] == "tagged" and loaded.metadata["method"] == "mean_difference"
    assert load_sampler(steer(setup, 2)).describe()["layer"] == LAYER
    assert load_sampler(steer(setup, 2, ",layer=0")).describe()["layer"] == 0


@pytest.mark.parametrize(("extra", "message"), [
    (",layer=4", r"layer 4 does not exist: the base .* has 4 decoder layers \(0-3\)"),
    (",layer=-1", "layer -1 does not exist"),
    (",layer=two", "layer='two' is not an integer"),
])
def test_a_layer_the_base_does_not_have_is_a_config_error(setup, extra, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_sampler(steer(setup, 1, extra))
    assert err.value.exit_code == 2


@pytest.mark.parametrize("strength", ["inf", "nan", "-inf", "lots"])
def test_strength_must_be_a_finite_number(setup, strength):
    with pytest.raises(ConfigError, match="strength"):
        load_sampler(steer(setup, strength))


def test_a_vector_for_another_hidden_size_is_a_config_error(setup):
    text = f"steer:base={setup['small']},vector={setup['path']}"
    with pytest.raises(ConfigError, match=r"shape \[128\] but the base .* has hidden size 256"):
        load_sampler(text)


def test_bad_vector_files_are_checkpoint_errors(setup):
    from safetensors.torch import save_file

    root = setup["root"]
    with pytest.raises(CheckpointError, match="does not exist"):
        load_sampler(f"steer:base={setup['base']},vector={root / 'missing.safetensors'}")
    save_file({"other": torch.zeros(128)}, str(root / "unnamed.safetensors"), metadata={"layer": "1"})
    with pytest.raises(CheckpointError, match="no 1-D tensor named 'vector'"):
        load_sampler(f"steer:base={setup['base']},vector={root / 'unnamed.safetensors'}")
    save_file({"vector": torch.zeros(128)}, str(root / "nolayer.safetensors"))
    with pytest.raises(CheckpointError, match="no integer 'layer'"):
        load_sampler(f"steer:base={setup['base']},vector={root / 'nolayer.safetensors'}")
    (root / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError):
        load_sampler(f"steer:base={setup['base']},vector={root / 'junk.safetensors'}")


def test_steering_refuses_a_layer_and_strength_it_cannot_apply(setup):
    model = setup["model"]
    with pytest.raises(ConfigError, match="layer 9 does not exist"), steering(model, SteeringVector(torch.zeros(128), 9), 1.0):
        pass
    with pytest.raises(ConfigError, match="finite"), steering(model, setup["vector"], math.nan):
        pass
    with pytest.raises(ConfigError, match="both sets"):
        compute_steering_vector(model, setup["tok"], TAGGED, [], LAYER)
