"""bf16 rounding decides which updates survive: known answers on hand-picked weights, and the
prediction against a real Adam step on bf16 weights."""

from __future__ import annotations

import pytest
import torch

from rl_lab.analysis.precision import bf16_half_spacing, changeable_counts, predicted_shares


def test_half_spacing_known_answers():
    w = torch.tensor([1.0, -1.0, 1.5, 2.0, 0.75, 1e-3])
    half = bf16_half_spacing(w)
    # bf16 keeps 7 fraction bits: spacing at 1.0 is 2^-7, at 2.0 it is 2^-6, at 0.75 it is 2^-8
    assert half[:5].tolist() == [2**-8, 2**-8, 2**-8, 2**-7, 2**-9]
    assert half[5] == pytest.approx(2 ** (-10 - 8), rel=1e-6)  # 1e-3 lies in [2^-10, 2^-9)


def test_updates_below_half_spacing_vanish_in_bf16():
    torch.manual_seed(0)
    w = torch.randn(10_000) * 0.05
    for step in (1e-5, 1e-4, 1e-3):
        moved = (w.to(torch.bfloat16) + torch.full_like(w, step).to(torch.bfloat16)) != w.to(torch.bfloat16)
        (predicted,) = changeable_counts(w, [step * 1.001])
        # the prediction is exact up to round-half-to-even ties and bf16 rounding of the step itself
        assert abs(int(moved.sum()) - predicted) <= 0.01 * w.numel(), step


def test_predicted_share_matches_one_adam_step_on_bf16_weights():
    """One Adam step of lr changes a bf16 parameter iff lr is at least its half-spacing."""
    torch.manual_seed(1)
    layer = torch.nn.Linear(64, 64).to(torch.bfloat16)
    before = layer.weight.detach().clone()
    lr = 1e-4  # |w| <= 1/8 here: about a third of the weights have half-spacing below 1e-4
    opt = torch.optim.Adam(layer.parameters(), lr=lr)
    layer(torch.randn(8, 64, dtype=torch.bfloat16)).square().sum().backward()
    opt.step()
    measured = float((layer.weight != before).float().mean())
    predicted = predicted_shares([before.float()], [lr])["share"][0]
    assert measured == pytest.approx(predicted, abs=0.05)
    assert 0.05 < predicted < 0.95  # a step size where the answer is neither trivial 0 nor 1


def test_predicted_shares_rise_with_the_step_size():
    w = torch.randn(5000)
    out = predicted_shares([w, torch.arange(3)], [1e-6, 1e-4, 1e-2, 1.0])
    assert out["parameters"] == 5000  # integer tensors are not parameters here
    assert out["share"] == sorted(out["share"]) and out["share"][-1] > 0.99 and out["share"][0] < 0.01
