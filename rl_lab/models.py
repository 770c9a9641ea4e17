"""Tiny causal LMs built from a ``transformers`` config, and safe checkpoint loading.

The tiny models are ordinary Qwen2 (or Llama) models with small dimensions, saved
as normal HF checkpoints (config.json + model.safetensors + tokenizer files), so
TRL, vLLM and ``AutoModelForCausalLM.from_pretrained`` take them as they take Qwen.
Any local HF checkpoint directory can stand in for them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

# hidden size, layers, attention heads, key/value heads, MLP width
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=512),
    "small": dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=1024),
    "medium": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=2048),
}
# A Qwen2-0.5B-shaped config (random weights, no download) for GPU throughput checks.
QWEN2_0_5B_SHAPE = dict(
    hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, rope_theta=1_000_000.0,
)


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, pickled or of an unusable architecture."""


def build_config(preset: str, vocab_size: int, architecture: str = "qwen2", max_positions: int = 512, **extra: Any):
    from transformers import LlamaConfig, Qwen2Config

    dims = dict(PRESETS[preset])
    cls = {"qwen2": Qwen2Config, "llama": LlamaConfig}[architecture]
    return cls(
        vocab_size=vocab_size, max_position_embeddings=max_positions, tie_word_embeddings=True,
        rms_norm_eps=1e-6, **dims, **extra,
    )


def build_model(preset: str, tokenizer, architecture: str = "qwen2", seed: int = 0, max_positions: int = 512):
    import torch
    from transformers import AutoModelForCausalLM

    config = build_config(
        preset, len(tokenizer), architecture, max_positions,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def validate_checkpoint(path: str | Path) -> Path:
    """Check that ``path`` is a loadable HF causal-LM checkpoint in safetensors; raise CheckpointError if not.

    Cheap checks only (no weights are read): config.json parses and names a causal-LM
    architecture, every safetensors file has a complete header and the file is as long
    as the header says, and no weights exist only as pickles.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a directory (expected an HF checkpoint directory)")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} has no config.json")
    try:
        config = json.loads(config_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {str(path)!r}: config.json is not valid JSON ({exc})") from None
    _check_architecture(path, config)
    shards = _safetensors_files(path)
    if not shards:
        pickles = sorted(p.name for p in path.glob("*.bin")) + sorted(p.name for p in path.glob("*.pt"))
        if pickles:
            raise CheckpointError(
                f"checkpoint {str(path)!r} holds only pickled weights ({', '.join(pickles)}); rl_lab never unpickles "
                "weights: convert them to safetensors first"
            )
        raise CheckpointError(f"checkpoint {str(path)!r} has no model.safetensors (nor a sharded index)")
    for shard in shards:
        check_safetensors_file(shard)
    return path


def _check_architecture(path: Path, config: dict[str, Any]) -> None:
    from transformers import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING:
        raise CheckpointError(f"checkpoint {str(path)!r}: unknown model_type {model_type!r} in config.json")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise CheckpointError(
            f"checkpoint {str(path)!r}: model_type {model_type!r} is not a causal language model "
            "(AutoModelForCausalLM cannot load it)"
        )


def _safetensors_files(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError) as exc:
            raise CheckpointError(f"checkpoint {str(path)!r}: broken {index.name} ({exc})") from None
        missing = [n for n in names if not (path / n).is_file()]
        if missing:
            raise CheckpointError(f"checkpoint {str(path)!r}: shards listed in {index.name} are missing: {missing}")
        return [path / n for n in names]
    single = path / "model.safetensors"
    return [single] if single.is_file() else []


def check_safetensors_file(file: Path) -> None:
    """Refuse a truncated or corrupt safetensors file by its header alone."""
    size = file.stat().st_size
    try:
        with open(file, "rb") as handle:
            raw = handle.read(8)
            if len(raw) < 8:
                raise CheckpointError(f"{str(file)!r} is truncated (shorter than a safetensors header)")
            (header_len,) = struct.unpack("<Q", raw)
            if header_len > min(size - 8, 100_000_000):
                raise CheckpointError(f"{str(file)!r} is truncated or not safetensors (bad header length)")
            header = json.loads(handle.read(header_len))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{str(file)!r} is corrupt (its safetensors header is not valid JSON)") from None
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + header_len + end > size:
        raise CheckpointError(
            f"{str(file)!r} is truncated: the header describes {8 + header_len + end} bytes, the file has {size}"
        )


def load_model(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    """Load a validated checkpoint with safetensors only (never a pickle)."""
    import torch
    from transformers import AutoModelForCausalLM

    path = validate_checkpoint(path)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=getattr(torch, dtype), use_safetensors=True
        )
    except Exception as exc:  # a header can be fine while the weights do not fit the config
        raise CheckpointError(f"checkpoint {str(path)!r} could not be loaded: {exc}") from exc
    return model.to(device)


def load_model_and_tokenizer(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    from rl_lab.tokenizer import load_tokenizer

    model = load_model(path, dtype, device)
    try:
        tokenizer = load_tokenizer(path)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has no usable tokenizer files: {exc}") from exc
    return model, tokenizer


def save_checkpoint(model, tokenizer, path: str | Path, extra_files: dict[str, Any] | None = None) -> Path:
    """Write an HF checkpoint (safetensors) atomically: into a temp dir, then rename."""
    import os
    import shutil

    from rl_lab.io import atomic_write_json

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    for name, obj in (extra_files or {}).items():
        atomic_write_json(tmp / name, obj)
    if path.exists():
        old = path.with_name(f".{path.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)
    return path
