"""End-to-end GRPO runs on a micro random model: run-dir contract, resume, fault injection, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rl_lab.config import validate_config
from rl_lab.core.errors import CheckpointError, ConfigError
from rl_lab.core.io import read_json, read_jsonl

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def micro_model(tmp_path_factory) -> Path:
    return build_micro_model(tmp_path_factory)


def build_micro_model(tmp_path_factory) -> Path:
    """A random 2-layer Qwen2 with the char tokenizer: fast enough for several short runs."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from rl_lab.core.models import save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        intermediate_size=64, max_position_embeddings=64, tie_word_embeddings=True,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
    )
    import torch

    torch.manual_seed(0)
    return save_checkpoint(Qwen2ForCausalLM(config), tok, tmp_path_factory.mktemp("base") / "model")


def raw_config(base: Path, out: Path, **train) -> dict:
    return {
        "name": "micro", "seed": 1, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "levels": [1, 2, 3]}]},
        "train": {
            "base_model": str(base), "steps": 4, "batch_size": 8, "num_generations": 4, "max_completion_length": 8,
            "problems": 30, "save_steps": [2], "rollouts_per_step": 3, "format_reward": 1.0,
            "learning_rate": 1e-2, **train,
        },
        "curriculum": {"kind": "adaptive"},
    }


def weights(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


@pytest.fixture(scope="module")
def finished(micro_model, tmp_path_factory):
    from rl_lab.train import run_training

    out = tmp_path_factory.mktemp("a")
    cfg = validate_config(raw_config(micro_model, out))
    rows: list[dict] = []
    final = run_training(cfg, reporter=rows.append)
    return cfg.train_dir, final, rows


def test_run_directory_contract(finished, micro_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run, final, reported = finished
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [r["step"] for r in metrics] == [1, 2, 3, 4]
    assert [r["step"] for r in reported] == [1, 2, 3, 4] and final["step"] == 4
    for key in ("reward", "reward_std", "entropy", "completions/mean_length", "accuracy", "format/terse",
                "format/other", "verifier_errors"):
        assert all(key in r for r in metrics), key
    assert any(k.startswith("accuracy/level_") for k in metrics[0])
    assert "kl" not in metrics[0]  # beta = 0: TRL computes no KL
    shares = sum(metrics[0][f"format/{f}"] for f in ("terse", "steps", "tagged", "other"))
    assert shares == pytest.approx(1.0)

    for step in (1, 2, 3, 4):
        rows = read_jsonl(run / "rollouts" / f"step_{step}.jsonl")
        assert len(rows) == 3 and all(r["step"] == step for r in rows)
        assert set(rows[0]) >= {"step", "prompt", "completion", "reward", "difficulty", "format", "family", "role",
                                "answer"}

    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_0", "step_2", "step_4"]
    base, last = weights(micro_model), weights(run / "checkpoints" / "step_4")
    assert all((weights(run / "checkpoints" / "step_0")[k] == base[k]).all() for k in base)
    assert any(not (last[k] == base[k]).all() for k in base)  # training moved the weights
    model = AutoModelForCausalLM.from_pretrained(run / "checkpoints" / "step_4")
    assert AutoTokenizer.from_pretrained(run / "checkpoints" / "step_4").eos_token_id == model.config.eos_token_id
    ck = run / "checkpoints" / "step_2"
    assert (ck / "optimizer.safetensors").is_file() and (ck / "curriculum_state.json").is_file()
    assert not list(ck.glob("*.pt")) + list(ck.glob("*.pth")) + list(ck.glob("*.bin"))  # no pickles

    status = read_json(run / "status.json")
    assert status["state"] == "done" and status["step"] == 4
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["steps"] == 4

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert {"reward", "entropy", "format/terse"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("reward")] == [1, 2, 3, 4]


def test_group_update_shares_are_logged_every_step(finished):
    """groups/*: share of groups with one success and of the update from them (rl_lab.train.group_stats)."""
    run, _final, _reported = finished
    for row in read_jsonl(run / "metrics.jsonl"):
        for key in ("groups/one_success_share", "groups/one_success_update_share", "groups/zero_variance_share"):
            assert 0.0 <= row[key] <= 1.0, key
        # zero variance in correctness (TRL's frac_reward_zero_std is about the total reward, format reward included)
        assert row["groups/one_success_share"] + row["groups/zero_variance_share"] <= 1.0 + 1e-9


def test_injected_failure_then_resume_matches_the_uninterrupted_run(finished, micro_model, tmp_path):
    from rl_lab.train import run_training
    from rl_lab.train.callbacks import InjectedFailure

    raw = raw_config(micro_model, tmp_path)
    raw["debug"] = {"fail_at_step": 4}  # step 3 is logged, then lost: resume must log it again, once
    cfg = validate_config(raw)
    with pytest.raises(InjectedFailure):
        run_training(cfg)
    status = read_json(cfg.train_dir / "status.json")
    assert status["state"] == "failed" and status["last_checkpoint"] == 2 and status["step"] == 3
    final = run_training(cfg, resume=True)  # the failure fires once per run dir
    assert final["step"] == 4 and final["resumed_from"] == 2
    assert [r["step"] for r in read_jsonl(cfg.train_dir / "metrics.jsonl")] == [1, 2, 3, 4]
    reference, resumed = weights(finished[0] / "checkpoints" / "step_4"), weights(cfg.train_dir / "checkpoints" / "step_4")
    assert all((reference[k] == resumed[k]).all() for k in reference)  # bit-identical
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(cfg.train_dir / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("reward")] == [1, 2, 3, 4]  # the lost attempt's step 3 is purged
    # resuming a finished run does nothing
    assert run_training(cfg, resume=True)["step"] == 4
    assert len(read_jsonl(cfg.train_dir / "metrics.jsonl")) == 4


def test_a_raising_verifier_never_takes_the_run_down(micro_model, tmp_path, monkeypatch):
    import rl_lab.environments.problem_sets as problem_sets
    from rl_lab.train import run_training

    def broken(fields, completion):
        raise ZeroDivisionError("verifier bug")

    monkeypatch.setattr(problem_sets, "verify_completion", broken)
    cfg = validate_config(raw_config(micro_model, tmp_path, steps=2, save_steps=[]))
    final = run_training(cfg)
    assert final["step"] == 2 and final["verifier_errors"] == 1.0 and final["accuracy"] == 0.0


@pytest.mark.parametrize("damage", ["missing", "truncated", "wrong_architecture"])
def test_bad_base_checkpoint_is_refused_before_anything_is_written(micro_model, tmp_path, damage):
    from rl_lab.train import run_training

    bad = tmp_path / "bad"
    if damage != "missing":
        shutil.copytree(micro_model, bad)
    if damage == "truncated":
        blob = (bad / "model.safetensors").read_bytes()
        (bad / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    if damage == "wrong_architecture":
        conf = json.loads((bad / "config.json").read_text())
        (bad / "config.json").write_text(json.dumps({**conf, "model_type": "t5"}))
    out = tmp_path / "out"
    cfg = validate_config(raw_config(bad, out))
    with pytest.raises(CheckpointError, match=str(bad)):
        run_training(cfg)
    assert not out.exists()


def write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["train.batch_size=6"], "num_generations"),
        (["curriculum.levels=[1,9]"], "curriculum.levels"),
        (["rollout.backend=vllm"], "rollout.backend"),
    ],
)
def test_config_errors_exit_2_and_write_nothing(micro_model, tmp_path, capsys, monkeypatch, overrides, message):
    from rl_lab.cli import main
    from rl_lab.train import trl_args

    monkeypatch.setattr(trl_args.importlib.util, "find_spec", lambda name: None)  # as if vllm were absent
    out = tmp_path / "out"
    config = write_yaml(tmp_path / "c.yaml", raw_config(micro_model, out))
    assert main(["train", str(config), *overrides]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_existing_run_needs_resume(finished, tmp_path):
    from rl_lab.core.config import Config
    from rl_lab.train import run_training

    run, _, _ = finished
    cfg = Config.model_validate(yaml.safe_load((run / "config.yaml").read_text()))
    before = (run / "metrics.jsonl").read_bytes()
    with pytest.raises(ConfigError, match="--resume"):
        run_training(cfg, run_dir=run)
    assert (run / "metrics.jsonl").read_bytes() == before


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(micro_model, tmp_path):
    """A real SIGKILL of the CLI process between checkpoints, then ``--resume`` finishes the run."""
    from rl_lab.train import run_training

    raw = raw_config(micro_model, tmp_path, steps=8, save_steps=[], save_every=2)
    config = write_yaml(tmp_path / "c.yaml", raw)
    run = tmp_path / "train"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "rl_lab.cli", "train", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while not (run / "checkpoints" / "step_2").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    status = read_json(run / "status.json")
    assert status["state"] == "running" and status["step"] < 8

    final = run_training(validate_config(raw), resume=True)
    steps = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    assert final["step"] == 8 and steps == list(range(1, 9))
    assert read_json(run / "status.json")["state"] == "done"
