"""Absurd and hostile configs are refused with a short message, exit 2, nothing written (issue 15, part 3)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rl_lab.cli import main
from rl_lab.config import load_config
from rl_lab.core.errors import ConfigError

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"

NOT_FINITE = [
    ("train.temperature=.inf", "train.temperature"),
    ("train.format_reward=.inf", "train.format_reward"),
    ("train.beta=.inf", "train.beta"),
    ("train.epsilon=.nan", "train.epsilon"),
    ("eval.temperature=.inf", "eval.temperature"),
    ("pretrain.weight_decay=.inf", "pretrain.weight_decay"),
    ("sweep.cpus_per_trial=.inf", "sweep.cpus_per_trial"),
    ("analysis.passk_temperature=.nan", "analysis.passk_temperature"),
    ("pretrain.family_weights={addition: .nan}", "pretrain.family_weights.addition"),
    ("pretrain.difficulty_weights={1: .inf}", "pretrain.difficulty_weights.1"),
]
ABSURD = [
    ("curriculum.weights=[.nan, 1]", "curriculum.weights.0"),
    ("curriculum.weights=[-1, 2]", "curriculum.weights"),
    ("pretrain.difficulty_weights={1: -1, 2: 1}", "pretrain.difficulty_weights"),
    ("pretrain.difficulty_weights={1: 0, 2: 0}", "pretrain.difficulty_weights"),
    ("seed=100000000000000000000000", "seed"),
    ("seed=1.0e+23", "seed"),
    ("train.steps=100000000000000000000", "train.steps"),
    ("pretrain.steps=1.0e+20", "pretrain.steps"),
    ("name=..", "name"),
    ("name=.", "name"),
    ("name=a/b", "name"),
]


@pytest.mark.parametrize(("override", "field"), NOT_FINITE + ABSURD, ids=[o for o, _ in NOT_FINITE + ABSURD])
def test_non_finite_and_absurd_values_are_refused(tmp_path, capsys, override, field):
    out = tmp_path / "run"
    extra = ["curriculum.kind=fixed", "curriculum.levels=[1, 2]"] if override.startswith("curriculum.weights") else []
    assert main(["data", "build", str(QUICKSTART), f"output_dir={out}", *extra, override]) == 2
    err = capsys.readouterr().err
    assert field in err, err
    assert not out.exists()


def test_weights_that_are_fine_still_load():
    cfg = load_config(QUICKSTART, ["pretrain.difficulty_weights={1: 0, 2: 1}", "seed=2147483647", "train.steps=1000000"])
    assert cfg.pretrain.difficulty_weights == {1: 0.0, 2: 1.0} and cfg.seed == 2**31 - 1


def test_output_dir_naming_a_file_is_refused(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    for out in (target, target / "below"):
        assert main(["data", "build", str(QUICKSTART), f"output_dir={out}"]) == 2
        assert "not a directory" in capsys.readouterr().err
    assert target.read_text() == "x"


def bomb(levels: int = 9) -> str:
    """A billion-laughs YAML value: a list whose last element expands to 9**levels leaves, from 300 bytes."""
    items = ["&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    items += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "[" + ", ".join(items) + "]"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["seed: {}", "sweep:\n  grid:\n    seed: {}"])
def test_alias_bomb_is_refused_quickly_with_a_short_message(tmp_path, capsys, where):
    """Before: under seed the error message echoed the expansion until memory ran out; under
    sweep.grid ``rl-lab train`` never returned."""
    config = tmp_path / "bomb.yaml"
    config.write_text(QUICKSTART.read_text() + where.format(bomb()) + "\n")
    assert main(["train", str(config), f"output_dir={tmp_path / 'run'}"]) == 2
    err = capsys.readouterr().err
    assert "alias" in err and len(err) < 1000
    assert not (tmp_path / "run").exists()


def test_alias_bomb_in_an_override_is_refused():
    with pytest.raises(ConfigError, match="alias"):
        load_config(QUICKSTART, ["seed=" + bomb()])


def test_duplicate_section_is_refused_naming_both_lines(tmp_path):
    config = tmp_path / "dup.yaml"
    config.write_text(QUICKSTART.read_text() + "\ntrain:\n  steps: 3\n")
    with pytest.raises(ConfigError, match="'train' appears twice") as info:
        load_config(config)
    assert "lines" in str(info.value)


def test_merge_keys_and_plain_aliases_still_work(tmp_path):
    """'<<' merges may be overridden (that is not a duplicate), and a plain alias is fine."""
    config = tmp_path / "ok.yaml"
    config.write_text(
        "name: ok\n"
        "environments:\n  families: &fam [{name: addition, levels: [1, 2]}]\n"
        "train:\n  <<: {steps: 7, learning_rate: 0.001}\n  steps: 9\n"
        "curriculum: {kind: fixed, levels: [1, 2]}\n"
    )
    cfg = load_config(config)
    assert cfg.train.steps == 9 and cfg.train.learning_rate == 0.001


@pytest.mark.timeout(60)
def test_deep_nesting_is_refused_without_a_traceback(tmp_path, capsys):
    config = tmp_path / "deep.yaml"
    config.write_text("name: x\nseed: " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert "nested deeper" in err and "Traceback" not in err


@pytest.mark.parametrize("blob", [bytes(range(256)) * 8, b"\x00" * 100, b"\x89PNG\r\n\x1a\n" + os.urandom(64)])
def test_binary_config_file_is_refused(tmp_path, capsys, blob):
    config = tmp_path / "c.yaml"
    config.write_bytes(blob)
    assert main(["train", str(config)]) == 2
    assert str(config) in capsys.readouterr().err


def test_a_directory_as_config_file_is_refused(tmp_path, capsys):
    assert main(["train", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_error_messages_never_echo_more_than_an_excerpt():
    with pytest.raises(ConfigError) as info:
        load_config(QUICKSTART, ["seed=[" + ", ".join(["9999999999"] * 20_000) + "]"])
    assert "seed" in str(info.value) and len(str(info.value)) < 1000


def test_sweep_grid_larger_than_the_cap_is_refused():
    from rl_lab.sweep.grid import validate_grid

    raw = load_config(QUICKSTART).to_dict()
    raw["sweep"]["grid"] = {"seed": list(range(200)), "train.learning_rate": [1e-4 * (i + 1) for i in range(100)]}
    with pytest.raises(ConfigError, match="20,000 trials"):
        validate_grid(raw)


@pytest.mark.parametrize(("overrides", "needle"), [
    ([f"sweep.cpus_per_trial={(os.cpu_count() or 1) + 1}"], "sweep.cpus_per_trial"),
    (["ray.num_cpus=1", "sweep.cpus_per_trial=2"], "ray.num_cpus=1"),
    (["sweep.gpus_per_trial=1"], "sweep.gpus_per_trial"),
])
def test_sweep_resources_the_local_ray_never_has_are_refused_before_ray_starts(tmp_path, overrides, needle):
    import torch

    from rl_lab.core.config import load_raw
    from rl_lab.sweep.runner import prepare

    if "gpus" in needle and torch.cuda.device_count() >= 1:
        pytest.skip("this machine has a GPU")
    raw = load_raw(QUICKSTART, [f"output_dir={tmp_path / 'out'}", "train.base_model=/nonexistent", *overrides])
    with pytest.raises(ConfigError, match="no trial could ever start") as info:
        prepare(raw)
    assert needle in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_config_with_thousands_of_errors_prints_a_screenful(tmp_path, capsys):
    """Before: one line per bad level, 1.9 MB of error text for 20,000 levels."""
    levels = "[" + ",".join(map(str, range(100, 20_000))) + "]"
    assert main(["data", "build", str(QUICKSTART), f"output_dir={tmp_path / 'run'}", f"curriculum.levels={levels}"]) == 2
    err = capsys.readouterr().err
    assert "curriculum.levels: level 100 is not a level" in err and "more lines" in err
    assert len(err) < 5000
