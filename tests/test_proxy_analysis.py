"""``rl-lab analyze proxy``: another base proxy-tuned with a run's (tuned, base) pair, on the forcing problems."""

from __future__ import annotations

import json

import pytest
from behaviour_fixtures import config_dict, single_thread, write_checkpoints, write_run, write_sweep  # noqa: F401
from elicitation_fixtures import tiny_checkpoint

from rl_lab.analysis import forcing
from rl_lab.cli import main


def _run(path, seed=0, ckpt_seeds=(0, 1)):
    cfg = config_dict(path, seed=seed,
                      environments={"families": [{"name": "addition", "role": "trained", "levels": [1, 2]}]},
                      eval={"problems_per_level": 3, "max_new_tokens": 6, "batch_size": 64, "temperature": 0.0})
    write_run(path, {}, cfg, metrics=[{"step": 4, "reward": 0.0}])
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    for step, s in zip((0, 4), ckpt_seeds, strict=True):
        save_checkpoint(build_model("tiny", tok, seed=s), tok, path / "checkpoints" / f"step_{step}")
    return path


def test_share_of_gain_on_another_base_known_answer():
    # RL: 20 -> 60 of 100 (gain 0.40); the other base 10 -> 30 when proxied (0.20): share 0.5
    base, tuned = [1.0] * 20 + [0.0] * 80, [1.0] * 60 + [0.0] * 40
    other, proxied = [1.0] * 10 + [0.0] * 90, [1.0] * 30 + [0.0] * 70
    out = forcing.share_of_gain(base, tuned, other, proxied)
    assert out["share"] == pytest.approx(0.5) and out["recovered"]["value"] == pytest.approx(0.2)
    assert out["share_interval"]["low"] < 0.5 < out["share_interval"]["high"]
    # with before = base it is forcing's share_recovered
    assert forcing.share_of_gain(base, tuned, base, other)["share"] == forcing.share_recovered(base, other, tuned)["share"]


def test_proxy_onto_the_runs_own_base_is_the_tuned_model(tmp_path):
    """base + (tuned - base) = tuned: proxied onto its own base, the run's tuned model answers exactly as itself."""
    run = _run(tmp_path / "run")
    assert main(["analyze", "proxy", str(run), "--onto", str(run)]) == 0
    p = json.loads((run / "analysis" / "proxy.json").read_text())
    assert p["inputs"]["onto"] == str(run / "checkpoints" / "step_0") and p["inputs"]["problems"] == 6
    assert p["examples"]["other base proxy-tuned"] == p["examples"]["RL-tuned"]
    assert p["accuracy"]["other base proxy-tuned"] == p["accuracy"]["RL-tuned"]
    assert p["examples"]["other base"] == p["examples"]["base"]
    assert p["share_of_rl_gain"]["share"] is None and "includes 0" in p["share_of_rl_gain"]["why_no_share"]
    assert (run / "plots" / "proxy.png").stat().st_size > 0


def test_sweep_proxies_each_trial_onto_another_seeds_base(tmp_path):
    a, b = _run(tmp_path / "a", seed=0, ckpt_seeds=(0, 1)), _run(tmp_path / "b", seed=1, ckpt_seeds=(2, 3))
    sweep = write_sweep(tmp_path / "sweep", [({"seed": 0}, a), ({"seed": 1}, b)])
    assert main(["analyze", "proxy", str(sweep), "--problems-per-level", "1"]) == 0
    assert json.loads((a / "analysis" / "proxy.json").read_text())["inputs"]["onto"] == str(b / "checkpoints" / "step_0")
    assert json.loads((b / "analysis" / "proxy.json").read_text())["inputs"]["onto"] == str(a / "checkpoints" / "step_0")
    assert set(json.loads((sweep / "analysis" / "proxy.json").read_text())["runs"]) == {str(a), str(b)}


def test_proxy_bad_input_exits_2_and_writes_nothing(tmp_path, capsys):
    from rl_lab.core.tokenizer import build_char_tokenizer

    run = _run(tmp_path / "run")
    assert main(["analyze", "proxy", str(run)]) == 2
    assert "--onto is required" in capsys.readouterr().err
    other = tiny_checkpoint(tmp_path / "other", seed=5, tokenizer=build_char_tokenizer("0123456789+=-[]<>/answer "))
    assert main(["analyze", "proxy", str(run), "--onto", str(other)]) == 2
    assert "tokenizer" in capsys.readouterr().err
    assert not (run / "analysis" / "proxy.json").exists()


# --------------------------------------------------------------------------- the report's comparison
def _section(run, tmp_path):
    import re

    out = tmp_path / "page.html"
    assert main(["report", str(run), "--out", str(out)]) == 0
    return re.search(r'<section[^>]*id="choosing".*?</section>', out.read_text(), re.S).group(0)


def test_report_without_elicitation_analyses_says_what_to_run(tmp_path):
    run = _run(tmp_path / "run")
    section = _section(run, tmp_path)
    assert "rl-lab analyze forcing" in section and "every arm" not in section


def test_report_compares_every_arm_and_names_missing_analyses(tmp_path):
    run = _run(tmp_path / "run")
    assert main(["analyze", "proxy", str(run), "--onto", str(tiny_checkpoint(tmp_path / "other", seed=9))]) == 0
    section = _section(run, tmp_path)
    assert "Choosing vs changing: every arm" in section and "other base proxy-tuned" in section
    assert "GRPO (full fine-tuning), trained" in section
    for command in ("rl-lab analyze forcing", "rl-lab analyze steering", "rl-lab analyze contamination",
                    "rl-lab analyze drift"):
        assert f"run: {command} {run}" in section, command
    assert "proxy-tuned onto" in section  # the finding: undefined share, with why
    # after forcing ran, its rows are numbers and the forcing "not run" cells are gone
    assert main(["analyze", "forcing", str(run)]) == 0
    section = _section(run, tmp_path)
    assert f"run: rl-lab analyze forcing {run}" not in section and "(best)" in section


def test_report_names_lora_and_sft_arms(tmp_path):
    from rl_lab.report.context import Context
    from rl_lab.report.sections.arms import arm_name

    lora = _run(tmp_path / "lora")
    cfg = (lora / "config.yaml").read_text().replace("train:\n", "train:\n  peft:\n    r: 4\n", 1)
    (lora / "config.yaml").write_text(cfg)
    sft = _run(tmp_path / "sft")
    (sft / "config.yaml").write_text((sft / "config.yaml").read_text().replace("train:\n", "train:\n  method: sft\n", 1))
    assert arm_name(Context(lora).runs[0]) == "GRPO + LoRA r=4"
    assert arm_name(Context(sft).runs[0]) == "SFT (full fine-tuning)"


def test_sweep_on_one_shared_base_needs_onto(tmp_path, capsys):
    """The quickstart's trials all start from one pretrained base: proxying onto a twin would just be the tuned model."""
    a, b = _run(tmp_path / "a", seed=0, ckpt_seeds=(0, 1)), _run(tmp_path / "b", seed=1, ckpt_seeds=(0, 3))
    sweep = write_sweep(tmp_path / "sweep", [({"seed": 0}, a), ({"seed": 1}, b)])
    assert main(["analyze", "proxy", str(sweep), "--problems-per-level", "1"]) == 2
    assert "no other trial has a different base" in capsys.readouterr().err
    assert not (a / "analysis" / "proxy.json").exists()
