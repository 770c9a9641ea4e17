"""Tokenizer, tiny models, checkpoint safety, the controlled corpus and pretraining."""

from __future__ import annotations

import json
import string
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rl_lab.config import load_config
from rl_lab.core.checkpoints import validate_checkpoint
from rl_lab.core.errors import CheckpointError
from rl_lab.core.models import build_model, save_checkpoint
from rl_lab.core.tokenizer import build_char_tokenizer, load_tokenizer
from rl_lab.corpus import build_corpus
from rl_lab.environments.config_checks import spec_levels
from tests.conftest import QUICKSTART, micro_overrides

TOKENIZER = build_char_tokenizer()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=string.printable.replace("\t", "").replace("\r", "").replace("\x0b", "").replace("\x0c", "")))
def test_char_tokenizer_round_trips_printable_text(text):
    ids = TOKENIZER(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)  # one token per character
    assert TOKENIZER.decode(ids) == text


def test_tokenizer_saves_as_hf_files(tmp_path):
    TOKENIZER.save_pretrained(tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    again = load_tokenizer(tmp_path)
    assert again("12+7=")["input_ids"] == TOKENIZER("12+7=")["input_ids"]
    assert again.eos_token_id == TOKENIZER.eos_token_id


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_presets_sizes(preset):
    from rl_lab.core.models import count_parameters

    n = count_parameters(build_model(preset, TOKENIZER))
    assert {"tiny": 0.5e6 < n < 2e6, "small": 5e6 < n < 15e6}[preset]


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_checkpoint_loads_with_auto_class(tmp_path, arch):
    from transformers import AutoModelForCausalLM

    model = build_model("tiny", TOKENIZER, architecture=arch)
    save_checkpoint(model, TOKENIZER, tmp_path / "ck")
    assert (tmp_path / "ck" / "model.safetensors").is_file()
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "ck")
    assert loaded.config.model_type == arch


def test_checkpoint_refusals(tmp_path):
    model = build_model("tiny", TOKENIZER)
    good = save_checkpoint(model, TOKENIZER, tmp_path / "good")
    validate_checkpoint(good)

    with pytest.raises(CheckpointError, match="does not exist"):
        validate_checkpoint(tmp_path / "missing")

    truncated = save_checkpoint(model, TOKENIZER, tmp_path / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        validate_checkpoint(truncated)

    wrong = save_checkpoint(model, TOKENIZER, tmp_path / "wrong")
    config = json.loads((wrong / "config.json").read_text())
    config["model_type"] = "vit"
    (wrong / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="not a causal language model"):
        validate_checkpoint(wrong)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((good / "config.json").read_text())
    (pickled / "pytorch_model.bin").write_bytes(b"not unpickled")
    with pytest.raises(CheckpointError, match="never unpickles"):
        validate_checkpoint(pickled)


def test_corpus_holds_declared_mixture_exactly(tmp_path):
    cfg = load_config(QUICKSTART, [f"output_dir={tmp_path}", "pretrain.num_examples=1000",
                                   "pretrain.format_mixture={terse: 0.5, steps: 0.3, tagged: 0.2}"])
    corpus, manifest = build_corpus(cfg)
    counts = Counter(corpus["format"])
    assert counts == {"terse": 500, "steps": 300, "tagged": 200}
    assert manifest["format_counts"] == dict(counts)
    assert manifest["documents"] == len(corpus) == 1000
    # every document's completion is in the format it is labelled with
    from rl_lab.environments.formats import classify_format

    assert all(classify_format(c) == f for c, f in zip(corpus["completion"], corpus["format"], strict=True))
    again, manifest2 = build_corpus(cfg)
    assert manifest2["sha256"] == manifest["sha256"]
    other, manifest3 = build_corpus(load_config(QUICKSTART, [f"output_dir={tmp_path}", "pretrain.num_examples=1000", "seed=1"]))
    assert manifest3["sha256"] != manifest["sha256"]


def test_corpus_family_weights_set_family_quotas(tmp_path):
    cfg = load_config(QUICKSTART, [f"output_dir={tmp_path}", "pretrain.num_examples=900",
                                   "pretrain.family_weights={addition: 2, comparison: 1}"])
    corpus, manifest = build_corpus(cfg)
    assert Counter(corpus["family"]) == {"addition": 600, "comparison": 300}
    assert manifest["family_counts"] == {"addition": 600, "comparison": 300}
    even, _ = build_corpus(load_config(QUICKSTART, [f"output_dir={tmp_path}", "pretrain.num_examples=900",
                                                    "pretrain.family_weights=null"]))
    assert Counter(even["family"]) == {"addition": 450, "comparison": 450}


def test_pretrain_writes_a_complete_base_run(micro_base: Path):
    base = micro_base / "base"
    for name in ("config.yaml", "corpus_manifest.json", "metrics.jsonl", "model/model.safetensors",
                 "model/config.json", "model/tokenizer.json"):
        assert (base / name).is_file(), name
    assert list((base / "tensorboard").glob("events.out.tfevents.*"))
    rows = [json.loads(line) for line in (base / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses and all(loss == loss for loss in losses)  # logged and finite
    validate_checkpoint(base / "model")


def test_pretrain_tensorboard_tags_equal_metrics_keys(micro_base: Path):
    """TensorBoard shows the same scalar names as metrics.jsonl (HF's own callback would prefix train/)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rl_lab.core.io import read_jsonl

    base = micro_base / "base"
    keys = {k for row in read_jsonl(base / "metrics.jsonl") for k in row if k != "step"}
    events = EventAccumulator(str(base / "tensorboard"))
    events.Reload()
    assert "loss" in keys
    assert set(events.Tags()["scalars"]) == keys


def test_eval_reports_cells_and_shares(micro_base: Path, tmp_path: Path):
    from rl_lab.cli import main

    code = main(["eval", str(QUICKSTART), *micro_overrides(micro_base), "--model", str(micro_base / "base" / "model"),
                 "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "eval.json").read_text())
    cfg = load_config(QUICKSTART, micro_overrides(micro_base))
    levels = spec_levels(cfg.environments.families[0])
    assert {c["difficulty"] for c in report["cells"] if c["family"] == cfg.environments.families[0].name} == set(levels)
    assert sum(report["format_shares"].values()) == pytest.approx(1.0)
    assert all(0 <= c["accuracy"] <= 1 for c in report["cells"])


def test_pretrain_refuses_to_overwrite_and_checkpoint_errors_exit_2(micro_base: Path, capsys):
    """One error policy (rl_lab.core.errors): bad input exits 2 with the message on stderr, in every command."""
    from rl_lab.cli import main

    assert main(["pretrain", str(QUICKSTART), *micro_overrides(micro_base)]) == 2
    assert "already exists" in capsys.readouterr().err
    code = main(["eval", str(QUICKSTART), *micro_overrides(micro_base), "--model", str(micro_base / "nope")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_any_hf_checkpoint_replaces_the_tiny_model(tmp_path: Path):
    """model.path: continue pretraining from a local HF checkpoint of another architecture."""
    from rl_lab.pretrain import pretrain

    start = save_checkpoint(build_model("tiny", TOKENIZER, architecture="llama"), TOKENIZER, tmp_path / "llama")
    cfg = load_config(QUICKSTART, [*micro_overrides(tmp_path / "exp"), f"model.path={start}", "pretrain.steps=2"])
    result = pretrain(cfg)
    config = json.loads((Path(result["model_dir"]) / "config.json").read_text())
    assert config["model_type"] == "llama"


def test_a_base_pretrained_with_another_config_is_named_stale(micro_base: Path):
    """The demo reuses runs/<name>/base only when it was pretrained with the same pretraining config."""
    from rl_lab.pretrain import pretraining_differences

    same = load_config(QUICKSTART, micro_overrides(micro_base))
    assert pretraining_differences(same, micro_base / "base") == []
    other = load_config(QUICKSTART, [*micro_overrides(micro_base), "pretrain.steps=13", "train.steps=5"])
    assert pretraining_differences(other, micro_base / "base") == ["pretrain.steps"]  # train.* does not matter
    assert pretraining_differences(same, micro_base) == ["config.yaml"]  # not a base dir


def test_pretrain_hands_each_logged_row_to_on_log(tmp_path: Path):
    """A sweep's base trial shows pretraining progress: every row of metrics.jsonl also reaches on_log."""
    from rl_lab.pretrain import pretrain

    cfg = load_config(QUICKSTART, micro_overrides(tmp_path / "exp"))
    rows: list[dict] = []
    pretrain(cfg, on_log=rows.append)
    logged = [json.loads(line) for line in (cfg.base_dir / "metrics.jsonl").read_text().splitlines()]
    assert rows == logged
    assert [r["step"] for r in rows if "loss" in r] == [4, 8, 12]
