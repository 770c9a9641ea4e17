"""Config -> GRPOConfig mapping, reward functions and metrics, safe trainer-state files."""

from __future__ import annotations

import random
import sys

import pytest

from rl_lab.config import validate_config
from rl_lab.core.errors import ConfigError
from rl_lab.train import trl_args
from rl_lab.train.rewards import (
    FormatReward,
    RolloutBuffer,
    VerifierReward,
    batch_metrics,
    group_pass_rates,
    reward_functions,
)

BASE = {"name": "t", "environments": {"families": [{"name": "addition", "levels": [1, 2, 3]}]}}


def config(**sections):
    return validate_config({**BASE, **sections})


# --------------------------------------------------------------------------- GRPOConfig mapping
TRL_PASSTHROUGH = {"top_entropy_quantile": 0.2, "importance_sampling_level": "sequence", "delta": 1.5,
                   "steps_per_generation": 2, "vllm_importance_sampling_correction": False, "max_grad_norm": 0.5,
                   "lr_scheduler_type": "constant", "disable_dropout": True}


def test_any_grpo_config_field_passes_through_train_trl(tmp_path):
    from trl import GRPOConfig

    cfg = config(train={"trl": TRL_PASSTHROUGH, "batch_size": 8, "num_generations": 4})
    args = GRPOConfig(**trl_args.grpo_config_kwargs(cfg, tmp_path / "run"))
    for key, value in TRL_PASSTHROUGH.items():
        got = getattr(args, key)
        assert (got.value if hasattr(got, "value") else got) == value, key


BAD_TRL = [
    ({"top_entropy_quantil": 0.2}, "did you mean top_entropy_quantile"),
    ({"logging_dir": "x"}, "train.trl.logging_dir: not a field of trl.GRPOConfig"),
    ({"learning_rate": 1e-3}, "set train.learning_rate instead"),
    ({"output_dir": "/tmp/x"}, "rl_lab sets it itself"),
    ({"remove_unused_columns": True}, "train.trl.remove_unused_columns: rl_lab owns"),
    ({"delta": "big"}, "train.trl.delta: 'big' does not fit"),
    ({"importance_sampling_level": "tokens"}, "is not one of ['token', 'sequence']"),
]


@pytest.mark.parametrize(("trl", "message"), BAD_TRL, ids=[next(iter(t)) for t, _ in BAD_TRL])
def test_bad_trl_options_are_config_errors(trl, message):
    with pytest.raises(ConfigError) as info:
        config(train={"trl": trl})
    assert message in str(info.value)


def test_bad_trl_option_exits_2_before_writing(tmp_path, capsys):
    from pathlib import Path

    from rl_lab.cli import main

    quickstart = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"
    out = tmp_path / "run"
    assert main(["train", str(quickstart), f"output_dir={out}", "train.trl={betta: 0.1}"]) == 2
    assert "did you mean beta" in capsys.readouterr().err
    assert not out.exists()


def test_report_to_needs_the_tracker_installed_and_goes_to_trl(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match="pip install wandb"):
        config(train={"report_to": ["wandb"]})
    cfg = config(train={"report_to": ["tensorboard"]})
    kwargs = trl_args.grpo_config_kwargs(cfg, tmp_path / "run")
    assert kwargs["report_to"] == ["tensorboard"]
    env = trl_args.tracker_environment(cfg, tmp_path / "run")
    assert env["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "run" / "trackers" / "tensorboard")


NON_DEFAULT_TRAIN = dict(
    loss_type="dr_grpo", beta=0.04, num_generations=4, batch_size=8, temperature=0.7, top_p=0.9, epsilon=0.3,
    epsilon_high=0.28, scale_rewards="batch", mask_truncated_completions=True, num_iterations=2,
    learning_rate=3e-5, max_completion_length=17, gradient_accumulation_steps=2, steps=7, logging_steps=2,
    format_reward=0.5,
)
NON_DEFAULT_ROLLOUT = dict(
    backend="vllm", vllm_mode="server", vllm_server_host="10.1.2.3", vllm_server_port=8123,
    vllm_gpu_memory_utilization=0.55, vllm_tensor_parallel_size=2,
)


def test_every_mapped_option_lands_in_a_real_grpo_config(tmp_path):
    from trl import GRPOConfig

    had_vllm = "vllm" in sys.modules
    cfg = config(train=NON_DEFAULT_TRAIN, rollout=NON_DEFAULT_ROLLOUT, seed=5)
    kwargs = trl_args.grpo_config_kwargs(cfg, tmp_path / "run")
    args = GRPOConfig(**kwargs)
    expected = {
        **{k: v for k, v in NON_DEFAULT_TRAIN.items() if k not in ("batch_size", "steps", "format_reward")},
        "per_device_train_batch_size": 8, "max_steps": 7, "reward_weights": [1.0, 0.5], "seed": 5,
        "use_vllm": True, **{k: v for k, v in NON_DEFAULT_ROLLOUT.items() if k != "backend"},
    }
    for key, value in expected.items():
        assert getattr(args, key) == value, key
    assert set(kwargs) >= set(expected)
    assert args.bf16 is False and args.report_to in ([], "none", ["none"])
    assert args.output_dir == str(tmp_path / "run" / "trainer")
    assert ("vllm" in sys.modules) == had_vllm  # building the config imported no vllm


def test_mapping_is_pure_and_writes_nothing(tmp_path):
    cfg = config()
    assert trl_args.grpo_config_kwargs(cfg, tmp_path / "x") == trl_args.grpo_config_kwargs(cfg, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    assert trl_args.grpo_config_kwargs(cfg, tmp_path)["use_vllm"] is False
    assert trl_args.grpo_config_kwargs(cfg, tmp_path)["reward_weights"] == [1.0]  # format reward off


def test_vllm_backend_without_vllm_is_a_clear_config_error(monkeypatch):
    monkeypatch.setattr(trl_args.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="rollout.backend.*vllm"):
        trl_args.check_rollout_backend(config(rollout={"backend": "vllm"}))
    trl_args.check_rollout_backend(config())  # the transformers backend needs nothing


# --------------------------------------------------------------------------- rewards and metrics
def test_batch_metrics_on_a_known_batch():
    m = batch_metrics([1, 1, 2, 2], [1.0, 0.0, 1.0, 1.0], ["terse", "other", "steps", "steps"])
    assert m["accuracy"] == 0.75
    assert m["accuracy/level_1"] == 0.5 and m["accuracy/level_2"] == 1.0
    assert m["format/steps"] == 0.5 and m["format/terse"] == 0.25 and m["format/other"] == 0.25
    assert m["format/tagged"] == 0.0
    assert m["curriculum/share_level_1"] == 0.5
    assert batch_metrics([], [], []) == {}


def test_group_pass_rates_per_prompt():
    assert group_pass_rates([7, 7, 3, 3], [1, 1, 2, 2], [1.0, 0.0, 1.0, 1.0]) == [(7, 1, 0.5), (3, 2, 1.0)]


def columns(n=4):
    return dict(
        answer=["12"] * n, family=["addition"] * n, difficulty=[2] * n, metadata=["{}"] * n,
        question=["5+7"] * n, role=["trained"] * n, pool_index=[0] * n,
    )


def test_a_raising_verifier_scores_zero_and_is_counted():
    logged = {}

    def broken(fields, completion):
        if completion == "boom":
            raise RuntimeError("verifier bug")
        return 1.0 if completion == fields["answer"] else 0.0

    reward = VerifierReward(verify=broken, buffer=RolloutBuffer())
    out = reward(["5+7="] * 4, ["12", "boom", "13", "12"], log_metric=logged.__setitem__, **columns())
    assert out == [1.0, 0.0, 0.0, 1.0]
    assert logged["verifier_errors"] == 0.25 and logged["accuracy"] == 0.5


def test_rollout_records_carry_the_contract_fields():
    buffer = RolloutBuffer()
    reward = VerifierReward(verify=lambda f, c: float(c == f["answer"]), buffer=buffer, format_weight=0.5)
    reward(["5+7="] * 4, ["12", "x y", "<answer>12</answer>", "13"], **columns())
    rows = buffer.take_sample(3, seed=0)
    assert len(rows) == 3 and buffer.rows == []
    assert set(rows[0]) >= {"step", "prompt", "completion", "reward", "difficulty", "format", "family", "role", "answer"}
    by_completion = {r["completion"]: r for r in buffer.rows + rows}
    if "12" in by_completion:
        assert by_completion["12"]["reward"] == 1.5 and by_completion["12"]["format"] == "terse"


def test_format_reward_and_weights():
    assert FormatReward()(["a"] * 3, ["12", "[1+1=2] 2", "twelve apples"]) == [1.0, 1.0, 0.0]
    verifier = VerifierReward(verify=lambda f, c: 0.0)
    assert reward_functions(verifier, 0.0) == ([verifier], [1.0])
    assert reward_functions(verifier, 0.3)[1] == [1.0, 0.3]


# --------------------------------------------------------------------------- resume state without pickles
def test_optimizer_and_scheduler_round_trip_through_safetensors(tmp_path):
    import torch

    from rl_lab.train import state_io

    def make():
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 3)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 / (1 + s))
        return model, opt, sched

    model, opt, sched = make()
    for _ in range(3):
        model(torch.randn(2, 4)).sum().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    assert state_io.save_optimizer(tmp_path, opt, sched)
    assert not list(tmp_path.glob("*.pt"))
    _, opt2, sched2 = make()
    assert state_io.load_optimizer(tmp_path, opt2, sched2)
    a, b = opt.state_dict(), opt2.state_dict()
    for pid in a["state"]:
        for key, value in a["state"][pid].items():
            assert torch.equal(value, b["state"][pid][key])
    assert sched2.last_epoch == sched.last_epoch == 3 and sched2.get_last_lr() == sched.get_last_lr()


def test_rng_state_round_trip(tmp_path):
    import numpy as np
    import torch

    from rl_lab.train import state_io

    state_io.save_rng(tmp_path)
    first = (random.random(), float(np.random.rand()), float(torch.rand(1)))
    random.random(), np.random.rand(), torch.rand(5)  # move every generator on
    assert state_io.load_rng(tmp_path)
    assert (random.random(), float(np.random.rand()), float(torch.rand(1))) == first


# --------------------------------------------------------------------------- one-success groups
def test_group_update_shares_known_answer():
    from rl_lab.train.group_stats import group_update_shares, lone_success_advantage

    g = 4
    a1 = lone_success_advantage(g)  # (G-1)/sqrt(G) = 1.5 at G = 4
    assert a1 == pytest.approx(1.5)
    others = -a1 / (g - 1)
    # group 1: one success; group 2: two successes (+-0.866 each); group 3: all fail (zero variance)
    advantages = [a1, others, others, others, 0.866, 0.866, -0.866, -0.866, 0, 0, 0, 0]
    rewards = [1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]
    tokens = [10] * 12
    out = group_update_shares(advantages, tokens, rewards, g)
    assert out["groups/one_success_share"] == pytest.approx(1 / 3)
    assert out["groups/zero_variance_share"] == pytest.approx(1 / 3)
    one = 10 * (a1 + 3 * abs(others))
    assert out["groups/one_success_update_share"] == pytest.approx(one / (one + 10 * 4 * 0.866))
    assert group_update_shares(advantages[:5], tokens[:5], rewards[:5], g) == {}  # not whole groups


def test_lone_success_advantage_matches_trl_bessel_normalisation():
    """TRL divides by the Bessel-corrected group std (trl.trainer.utils nanstd): recompute it with torch."""
    import torch

    from rl_lab.train.group_stats import lone_success_advantage

    for g in (2, 4, 8, 16):
        r = torch.zeros(g)
        r[0] = 1.0
        adv = (r - r.mean()) / r.std(unbiased=True)
        assert float(adv[0]) == pytest.approx(lone_success_advantage(g), rel=1e-6)
