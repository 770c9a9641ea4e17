"""Checkpoints are checked for what they hold before any command writes (issue 15, part 1).

Malformed headers and indexes are refused naming the file; weights that do not match config.json,
missing tokenizer files and NaN weights are refused by every command with exit 2, nothing written.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import yaml
from test_train_run import micro_model, raw_config  # noqa: F401 - micro_model is a fixture

from rl_lab.cli import main
from rl_lab.core.checkpoints import validate_checkpoint
from rl_lab.core.errors import CheckpointError, ConfigError


def write_safetensors(path: Path, header, data: bytes = b"") -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


HEADER_CASES = {
    "header_is_a_list": (lambda d: write_safetensors(d / "model.safetensors", [1, 2]), "model.safetensors", "list"),
    "header_is_an_int": (lambda d: write_safetensors(d / "model.safetensors", 5), "model.safetensors", "int"),
    "entry_without_offsets": (
        lambda d: write_safetensors(d / "model.safetensors", {"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
        "model.safetensors", "data_offsets",
    ),
    "string_offsets": (
        lambda d: write_safetensors(d / "model.safetensors",
                                    {"w": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}}, b"\0" * 4),
        "model.safetensors", "data_offsets",
    ),
    "config_json_is_a_list": (lambda d: (d / "config.json").write_text("[1, 2]"), "config.json", "list"),
    "weight_map_is_a_list": (
        lambda d: (d / "model.safetensors.index.json").write_text(json.dumps({"weight_map": [1]})),
        "model.safetensors.index.json", "weight_map",
    ),
    "index_is_a_string": (
        lambda d: (d / "model.safetensors.index.json").write_text('"x"'), "model.safetensors.index.json", "str",
    ),
    "no_tokenizer_files": (lambda d: (d / "tokenizer.json").unlink(), "tokenizer", "tokenizer"),
}


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_malformed_checkpoint_is_refused_naming_the_file(micro_model, tmp_path, case):  # noqa: F811
    damage, file, problem = HEADER_CASES[case]
    bad = tmp_path / "ckpt"
    shutil.copytree(micro_model, bad)
    damage(bad)
    with pytest.raises(CheckpointError) as info:
        validate_checkpoint(bad)
    assert file in str(info.value) and problem in str(info.value)


def relabel(src: Path, dest: Path, model_type: str) -> Path:
    """Qwen2 weights under a config.json that names another architecture."""
    shutil.copytree(src, dest)
    conf = json.loads((dest / "config.json").read_text())
    conf.update(model_type=model_type, architectures=[])
    (dest / "config.json").write_text(json.dumps(conf))
    return dest


def nan_weights(src: Path, dest: Path) -> Path:
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dest)
    tensors = load_file(str(dest / "model.safetensors"))
    name = sorted(tensors)[3]
    tensors[name][0] = float("nan")
    save_file(tensors, str(dest / "model.safetensors"), metadata={"format": "pt"})
    return dest


def without_tokenizer(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    (dest / "tokenizer.json").unlink()
    return dest


BAD_CONTENT = {
    "bert_config": (lambda s, d: relabel(s, d, "bert"), "do not match its config.json"),
    "llama_config": (lambda s, d: relabel(s, d, "llama"), "not used by the model"),
    "nan_weights": (nan_weights, "NaN or infinite"),
    "no_tokenizer": (without_tokenizer, "no tokenizer files"),
}


@pytest.fixture(scope="module")
def bad_checkpoints(micro_model, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("bad")
    return {name: make(micro_model, root / name) for name, (make, _) in BAD_CONTENT.items()}


@pytest.mark.parametrize("case", sorted(BAD_CONTENT))
@pytest.mark.parametrize("command", ["train", "eval", "eval passk"])
def test_every_command_refuses_a_checkpoint_by_what_it_holds(bad_checkpoints, micro_model, tmp_path, capsys,  # noqa: F811
                                                             case, command):
    """Before: train, eval and eval passk exited 0 on a bert/llama relabel (a randomly initialised
    model, accuracy 0.00); no tokenizer / NaN weights crashed at generation, run dir half written."""
    bad = bad_checkpoints[case]
    out = tmp_path / "out"
    config = tmp_path / "c.yaml"
    raw = raw_config(bad, out, steps=1, save_steps=[])
    raw["analysis"] = {"passk_n": 2, "passk_problems_per_level": 1}
    raw["eval"] = {"problems_per_level": 1, "max_new_tokens": 4}
    config.write_text(yaml.safe_dump(raw))
    argv = {
        "train": ["train", str(config)],
        "eval": ["eval", str(config), "--model", str(bad), "--out", str(out / "eval")],
        "eval passk": ["eval", "passk", "--config", str(config), "--model", str(bad), "--out", str(out / "passk")],
    }[command]
    before = sorted(p.name for p in bad.iterdir())
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert BAD_CONTENT[case][1] in err and str(bad) in err
    assert not out.exists()
    assert sorted(p.name for p in bad.iterdir()) == before


def test_sweep_refuses_a_base_whose_weights_do_not_match_before_ray_starts(bad_checkpoints, tmp_path):
    from rl_lab.sweep.runner import prepare

    raw = raw_config(bad_checkpoints["llama_config"], tmp_path / "out", steps=1, save_steps=[])
    raw["sweep"] = {"grid": {"seed": [0, 1]}}
    with pytest.raises(ConfigError, match="not used by the model"):
        prepare(raw)
    assert not (tmp_path / "out").exists()


def test_tied_weights_are_accounted_for_and_an_untied_missing_head_is_not(micro_model, tmp_path):  # noqa: F811
    """The micro model ties lm_head to the embeddings: its file has no lm_head.weight, and it loads.
    Untie it in config.json and the same file lacks a tensor the model needs."""
    from safetensors import safe_open

    from rl_lab.core.models import load_model_and_tokenizer

    with safe_open(str(micro_model / "model.safetensors"), "pt") as handle:
        assert "lm_head.weight" not in set(handle.keys())
    load_model_and_tokenizer(micro_model)
    untied = tmp_path / "untied"
    shutil.copytree(micro_model, untied)
    conf = json.loads((untied / "config.json").read_text())
    (untied / "config.json").write_text(json.dumps({**conf, "tie_word_embeddings": False}))
    with pytest.raises(CheckpointError, match="missing from the weights: lm_head.weight"):
        load_model_and_tokenizer(untied)


def test_a_tokenizer_larger_than_the_embedding_is_refused(micro_model, tmp_path):  # noqa: F811
    from rl_lab.core.models import load_model_and_tokenizer
    from rl_lab.core.tokenizer import build_char_tokenizer

    other = tmp_path / "other"
    shutil.copytree(micro_model, other)
    build_char_tokenizer(alphabet="".join(chr(c) for c in range(0x100, 0x300))).save_pretrained(str(other))
    with pytest.raises(CheckpointError, match="tokenizer has"):
        load_model_and_tokenizer(other)
