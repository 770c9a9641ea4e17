"""Config validation: every bad config exits 2, names the field, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rl_lab.cli import main
from rl_lab.config import load_config
from rl_lab.core.config import set_dotted
from rl_lab.core.errors import ConfigError

QUICKSTART = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"

BAD_OVERRIDES = [
    # (overrides, text that must appear in the message)
    (["pretrian.steps=3"], "pretrian"),
    (["pretrain.steps=abc"], "pretrain.steps"),
    (["pretrain.steps=0"], "pretrain.steps"),
    (["pretrain.learning_rate=-1"], "pretrain.learning_rate"),
    (["pretrain.format_mixture={terse: 0.5, steps: 0.4}"], "pretrain.format_mixture"),
    (["pretrain.format_mixture={terse: 0.5, essay: 0.5}"], "pretrain.format_mixture"),
    (["model.preset=huge"], "model.preset"),
    (["environments.families.0.name=nosuchfamily"], "environments.families.0.name"),
    (["environments.families.0.levels=[1, 99]"], "environments.families.0.levels"),
    (["environments.families.0.role=teacher"], "environments.families.0.role"),
    (["environments.families.0.role=prior_skill"], "environments.families"),
    (["train.batch_size=30", "train.num_generations=8"], "train.num_generations"),
    (["curriculum.levels=[42]"], "curriculum.levels"),
    (["curriculum.window=[0.9, 0.1]"], "curriculum.window"),
    (["pretrain.family_weights={addition: 1, nosuch: 1}"], "pretrain.family_weights"),
    (["pretrain.family_weights={addition: 0, comparison: 0}"], "pretrain.family_weights"),
    (["seed=-1"], "seed"),
    (["name=has space"], "name"),
    (["pretrain.steps"], "KEY=VALUE"),
]


@pytest.mark.parametrize("command", [["pretrain"], ["data", "build"]])
@pytest.mark.parametrize(("overrides", "field"), BAD_OVERRIDES, ids=[o[0][0] for o in BAD_OVERRIDES])
def test_bad_config_exits_2_names_field_writes_nothing(tmp_path, capsys, command, overrides, field):
    out = tmp_path / "run"
    code = main([*command, str(QUICKSTART), f"output_dir={out}", *overrides])
    err = capsys.readouterr().err
    assert code == 2
    assert field in err, err
    assert not out.exists()


def test_eval_with_bad_config_exits_2(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["eval", str(QUICKSTART), f"output_dir={out}", "eval.temperature=-1", "--model", str(tmp_path)])
    assert code == 2
    assert "eval.temperature" in capsys.readouterr().err
    assert not out.exists()


def test_unknown_key_lists_allowed_keys(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(QUICKSTART, ["pretrain.stepz=3"])
    assert "pretrain.stepz" in str(info.value)
    assert "steps" in str(info.value)  # the allowed keys are listed


def test_literal_error_lists_allowed_values():
    with pytest.raises(ConfigError) as info:
        load_config(QUICKSTART, ["train.loss_type=ppo"])
    for allowed in ("grpo", "dr_grpo", "dapo", "bnpo"):
        assert allowed in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_overrides_are_typed_and_dotted():
    cfg = load_config(QUICKSTART, ["pretrain.steps=200", "seed=3", "pretrain.format_mixture={terse: 1.0}"])
    assert cfg.pretrain.steps == 200 and cfg.seed == 3
    assert cfg.pretrain.format_mixture == {"terse": 1.0}


def test_set_dotted_into_lists():
    data = {"a": [{"b": 1}, {"b": 2}]}
    set_dotted(data, "a.1.b", 5)
    assert data == {"a": [{"b": 1}, {"b": 5}]}
    with pytest.raises(ConfigError, match="out of range"):
        set_dotted(data, "a.7.b", 1)


def test_every_shipped_config_validates():
    configs = sorted((QUICKSTART.parent).glob("*.yaml"))
    assert configs
    for path in configs:
        raw = yaml.safe_load(path.read_text())
        if "cluster" in path.name:
            continue  # needs local checkpoint paths; tested with the sweep
        load_config(path)
        assert raw["name"]
