"""Proxy-tuning: base + alpha * (tuned - untuned) logits at every decoding step, from a model spec."""

from __future__ import annotations

import pytest
import torch
from elicitation_fixtures import PROMPTS, single_thread, tiny_checkpoint  # noqa: F401

from rl_lab.core.errors import ConfigError
from rl_lab.core.models import load_model, load_model_and_tokenizer
from rl_lab.core.proxy import ProxyTuningProcessor, _combine, processor_factory, proxy_logits
from rl_lab.core.sampler import load_sampler
from rl_lab.core.tokenizer import ALPHABET, build_char_tokenizer


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    root = tmp_path_factory.mktemp("proxy")
    return {
        "base": tiny_checkpoint(root / "base", seed=0),
        "small": tiny_checkpoint(root / "small", seed=3, preset="small"),
        "untuned": tiny_checkpoint(root / "untuned", seed=1),
        "tuned": tiny_checkpoint(root / "tuned", seed=1, noise=0.05),
        # same characters, two of them swapped: same size and files, different ids
        "swapped": tiny_checkpoint(root / "swapped", seed=1,
                                   tokenizer=build_char_tokenizer(ALPHABET.replace("ab", "ba"))),
    }


def spec(ckpts, base="base", tuned="tuned", untuned="untuned", alpha=None):
    extra = "" if alpha is None else f",alpha={alpha}"
    return f"proxy:base={ckpts[base]},tuned={ckpts[tuned]},untuned={ckpts[untuned]}{extra}"


def hand_logits(models, ids: list[int], alpha: float) -> torch.Tensor:
    """base + alpha * (tuned - untuned) at the last position of an unpadded sequence, no cache."""
    x = torch.tensor([ids])
    with torch.no_grad():
        lb, lt, lu = (m(input_ids=x).logits[0, -1].float() for m in models)
    return lb + alpha * (lt - lu)


@pytest.mark.parametrize(("base_name", "alpha"), [("base", 1.0), ("small", 0.5)])
def test_proxy_distribution_is_the_softmax_of_summed_logits(ckpts, base_name, alpha):
    """At every sampled step, the distribution generate samples from (after temperature) equals
    softmax((l_base + alpha (l_tuned - l_untuned)) / T), computed by hand per row without padding."""
    base, tok = load_model_and_tokenizer(ckpts[base_name])
    tuned, untuned = load_model(ckpts["tuned"]), load_model(ckpts["untuned"])
    enc = tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(0)
    out = base.generate(**enc, max_new_tokens=6, do_sample=True, temperature=0.7, top_p=1.0, top_k=0,
                        pad_token_id=tok.pad_token_id, output_scores=True, return_dict_in_generate=True,
                        logits_processor=processor_factory(tuned, untuned, alpha)(enc["attention_mask"]))
    width = enc["input_ids"].shape[1]
    worst, changed = 0.0, False
    for row, prompt in enumerate(PROMPTS):
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        for step, scores in enumerate(out.scores):
            hand = hand_logits((base, tuned, untuned), ids, alpha)
            p_hand = torch.softmax(hand / 0.7, -1)
            worst = max(worst, float((torch.softmax(scores[row], -1) - p_hand).abs().max()))
            changed |= not torch.allclose(p_hand, torch.softmax(hand_logits((base,) * 3, ids, alpha) / 0.7, -1))
            token = int(out.sequences[row, width + step])
            if token == tok.eos_token_id:
                break
            ids = ids + [token]
    assert worst < 1e-5
    assert changed  # the experts moved the distribution: the comparison is not base vs base


def test_tuned_equal_to_untuned_reproduces_the_base_samples(ckpts):
    plain = load_sampler(ckpts["base"])
    proxy = load_sampler(spec(ckpts, tuned="untuned"))
    kwargs = dict(n=3, temperature=1.0, top_p=0.9, max_new_tokens=12, batch_size=5, seed=7)
    assert proxy.sample(PROMPTS, **kwargs) == plain.sample(PROMPTS, **kwargs)
    different = load_sampler(spec(ckpts, alpha=4))
    assert different.sample(PROMPTS, **kwargs) != plain.sample(PROMPTS, **kwargs)


def test_proxy_forward_gives_the_combined_logits_for_scoring(ckpts):
    """Calling the sampler like a model returns the proxy sum; drift's KL takes it where it took a model."""
    from rl_lab.analysis.drift import sequence_kls

    proxy = load_sampler(spec(ckpts, alpha=2))
    base, tuned, untuned = proxy.model, proxy.tuned, proxy.untuned
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    expected = proxy_logits(base, tuned, untuned, ids, mask, 2.0)
    with torch.no_grad():
        by_hand = (base(input_ids=ids, attention_mask=mask).logits
                   + 2 * (tuned(input_ids=ids, attention_mask=mask).logits
                          - untuned(input_ids=ids, attention_mask=mask).logits))
    assert torch.allclose(proxy(input_ids=ids, attention_mask=mask).logits, expected)
    assert torch.allclose(expected, by_hand, atol=1e-5)
    same = load_sampler(spec(ckpts, tuned="untuned"))
    seqs = proxy.sample_ids(PROMPTS, n=2, max_new_tokens=6, seed=1)
    assert all(v == 0.0 for s in sequence_kls(base, same, seqs, pad_id=0) for v in s)
    assert max(v for s in sequence_kls(base, proxy, seqs, pad_id=0) for v in s) > 1e-4


def test_combine_masks_ids_that_only_the_wider_model_has():
    scores = torch.zeros(1, 6)
    tuned, untuned = torch.arange(4.0)[None], torch.ones(1, 4)
    out = _combine(scores, tuned, untuned, 0.5)
    assert out[0, :4].tolist() == [-0.5, 0.0, 0.5, 1.0]
    assert torch.isinf(out[0, 4:]).all() and (out[0, 4:] < 0).all()


def test_a_processor_reused_across_generate_calls_is_refused(ckpts):
    base, tok = load_model_and_tokenizer(ckpts["base"])
    enc = tok(PROMPTS, return_tensors="pt", padding=True, add_special_tokens=False)
    proc = ProxyTuningProcessor(base, base, enc["attention_mask"])
    kwargs = dict(max_new_tokens=2, do_sample=False, pad_token_id=tok.pad_token_id, logits_processor=[proc])
    base.generate(**enc, **kwargs)
    with pytest.raises(RuntimeError, match="build a new one per call"):
        base.generate(**enc, **kwargs)


@pytest.mark.parametrize("role", ["tuned", "untuned"])
def test_tokenizers_that_map_ids_differently_are_a_config_error(ckpts, role, monkeypatch):
    """Same size, same file names, two ids swapped: refused before any weights are loaded."""
    import rl_lab.core.models as models

    def no_loading(*_args, **_kwargs):
        raise AssertionError("weights were loaded before the spec was validated")

    monkeypatch.setattr(models, "load_model", no_loading)
    monkeypatch.setattr(models, "load_model_and_tokenizer", no_loading)
    text = spec(ckpts, **{role: "swapped"})
    with pytest.raises(ConfigError, match=rf"the {role} model .*swapped.* does not share the base's tokenizer.*"
                                          r"id \d+ is 'a' vs 'b'") as err:
        load_sampler(text)
    assert err.value.exit_code == 2


def test_forcing_composes_with_proxy_tuning(ckpts):
    """A forced prefix and a first-token constraint act on the proxy-tuned distribution too."""
    from rl_lab.core.forcing import Forcing

    proxy = load_sampler(spec(ckpts, alpha=2))
    terse = proxy.sample(PROMPTS, n=4, max_new_tokens=6, seed=0, forcing=Forcing(first_chars="0123456789-"))
    assert all(c[:1] in "0123456789-" for row in terse for c in row)
    tagged = proxy.sample(PROMPTS, n=2, max_new_tokens=6, seed=0, forcing=Forcing(prefix="<answer>"))
    assert all(c.startswith("<answer>") and len(c) > len("<answer>") for row in tagged for c in row)
