"""Token-level KL: the exact per-token sum against closed forms, and the drift CLI end to end."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from behaviour_fixtures import config_dict, rollout_rows, single_thread, write_checkpoints, write_run  # noqa: F401

from rl_lab.analysis import drift, drift_run
from rl_lab.core.io import read_json


class Bigram(torch.nn.Module):
    """A fake causal LM: next-token log-probs depend on the current token only (table row)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table

    def forward(self, input_ids, attention_mask=None):
        class Out:
            pass

        out = Out()
        out.logits = self.table[input_ids]
        return out


def kl_closed(p: list[float], q: list[float]) -> float:
    return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True) if a > 0)


def test_token_kl_bernoulli_closed_form():
    a, b = 0.3, 0.8
    logp = torch.log(torch.tensor([[a, 1 - a]]))
    logq = torch.log(torch.tensor([[b, 1 - b]]))
    expected = a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))
    assert drift.token_kl(logp, logq).item() == pytest.approx(expected, rel=1e-6)
    assert drift.token_kl(logp, logp).item() == pytest.approx(0.0, abs=1e-7)


def test_sequence_kls_sum_the_right_positions():
    gen = torch.Generator().manual_seed(0)
    vocab = 5
    p = torch.softmax(torch.randn(vocab, vocab, generator=gen), dim=-1)
    q = torch.softmax(torch.randn(vocab, vocab, generator=gen), dim=-1)
    model_p, model_q = Bigram(torch.log(p)), Bigram(torch.log(q))
    # (prompt ids, completion ids) of different lengths: right padding must not leak in
    seqs = [([1, 2], [3, 4, 0]), ([4], [2]), ([0, 1, 2, 3], [1, 1])]
    got = drift.sequence_kls(model_p, model_q, seqs, pad_id=0, batch_size=2)
    for (prompt, completion), kls in zip(seqs, got, strict=True):
        full = prompt + completion
        # the token at position t was drawn from the distribution conditioned on token t-1
        expected = [kl_closed(p[full[t - 1]].tolist(), q[full[t - 1]].tolist())
                    for t in range(len(prompt), len(full))]
        assert kls == pytest.approx(expected, rel=1e-5)
    summary = drift.summarise(got)
    total = sum(sum(k) for k in got)
    assert summary["tokens"] == 6 and summary["sequences"] == 3
    assert summary["per_token"] == pytest.approx(total / 6)
    assert summary["per_sequence"] == pytest.approx(total / 3)


def test_sampled_sequences_and_self_kl_with_a_tiny_model():
    from rl_lab.core.model_spec import PlainSpec
    from rl_lab.core.models import build_model
    from rl_lab.core.sampler import Sampler
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    a, b = build_model("tiny", tok, seed=0).eval(), build_model("tiny", tok, seed=1).eval()
    seqs = drift_run.sample_sequences(Sampler(PlainSpec(Path("a")), a, tok), ["12+34=", "5+6="], n=3,
                                      max_new_tokens=6, seed=0)
    assert len(seqs) == 6
    for prompt, completion in seqs:
        assert tok.decode(prompt) in ("12+34=", "5+6=")
        assert 1 <= len(completion) <= 6 and tok.pad_token_id not in completion[:-1]
        assert tok.eos_token_id not in completion[:-1]  # cut after the first end-of-sequence
    same = drift.summarise(drift.sequence_kls(a, a, seqs, tok.pad_token_id))
    assert same["per_token"] == pytest.approx(0.0, abs=1e-6)
    other = drift.drift_between(a, b, seqs, seqs, tok.pad_token_id)
    assert other["forward_kl_base_tuned_on_base_samples"]["per_token"] > 0
    assert other["reverse_kl_tuned_base_on_tuned_samples"]["per_token"] > 0


def test_drift_cli_on_a_run_dir(tmp_path):
    from rl_lab.cli import main

    run = write_run(tmp_path / "run", {1: rollout_rows(1, {"steps": 4})}, config_dict(tmp_path / "run"))
    write_checkpoints(run, (0, 4))
    assert main(["analyze", "drift", str(run), "--prompts", "3", "--samples-per-prompt", "2"]) == 0
    out = read_json(run / "analysis" / "drift.json")
    assert out["inputs"]["prompts"] == 3 and out["inputs"]["samples_per_prompt"] == 2
    assert set(out["inputs"]["checkpoints"]) == {"0", "4"}
    assert out["by_step"]["0"]["forward_kl_base_tuned_on_base_samples"]["per_token"] == 0.0
    fin = out["final"]
    assert out["final_step"] == 4
    assert fin["forward_kl_base_tuned_on_base_samples"]["per_token"] > 0
    assert fin["reverse_kl_tuned_base_on_tuned_samples"]["sequences"] == 6
    assert (run / "plots" / "drift.png").is_file()


def test_per_token_interval_groups_the_samples_of_a_prompt():
    """Per-sequence records as summarise keeps them; prompts are consecutive runs of
    samples_per_prompt sequences, and the statistic is total KL / total tokens."""
    block = drift.summarise([[0.1, 0.1], [0.3, 0.1, 0.0, 0.0], [0.2], [0.0, 0.0, 0.0]])
    assert block["sequence_kl"] == pytest.approx([0.2, 0.4, 0.2, 0.0]) and block["sequence_tokens"] == [2, 4, 1, 3]
    values, weights = drift.per_prompt(block, 2)
    assert values == pytest.approx([0.6 / 6, 0.2 / 4]) and weights == [6.0, 4.0]
    est = drift.per_token_interval([block], 2)
    assert est["value"] == pytest.approx(block["per_token"]) == pytest.approx(0.8 / 10)
    assert est["n"] == 2 and est["seeds"] == 1 and est["low"] <= est["value"] <= est["high"]
    even = drift.summarise([[0.1] * 3] * 8)  # the same KL per token everywhere: no spread
    flat = drift.per_token_interval([even, even], 4)
    assert flat["seeds"] == 2 and flat["low"] == pytest.approx(0.1) and flat["high"] == pytest.approx(0.1)
    assert drift.per_token_interval([{"per_token": 0.1}], 2) is None  # a block written before the records
