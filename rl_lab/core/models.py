"""Tiny causal LMs built from a ``transformers`` config, and safe checkpoint loading.

The tiny models are ordinary Qwen2 (or Llama) models with small dimensions, saved
as normal HF checkpoints (config.json + model.safetensors + tokenizer files), so
TRL, vLLM and ``AutoModelForCausalLM.from_pretrained`` take them as they take Qwen.
Any local HF checkpoint directory can stand in for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.core.checkpoints import validate_checkpoint
from rl_lab.core.errors import CheckpointError

# hidden size, layers, attention heads, key/value heads, MLP width
PRESETS: dict[str, dict[str, int]] = {
    "nano": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, intermediate_size=256),
    "tiny": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, intermediate_size=512),
    "small": dict(hidden_size=256, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=1024),
    "medium": dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=4, intermediate_size=2048),
}
# A Qwen2-0.5B-shaped config (random weights, no download) for GPU throughput checks.
QWEN2_0_5B_SHAPE = dict(
    hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    intermediate_size=4864, vocab_size=151936, tie_word_embeddings=True, rope_theta=1_000_000.0,
)


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


def load_model(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    """Load a validated checkpoint with safetensors only (never a pickle), checked for what it holds.

    CheckpointError when loading reports a missing, unexpected or mismatched tensor (transformers
    only logs these, then trains a randomly initialised model), or when a weight is NaN or inf.
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = validate_checkpoint(path)
    try:
        model, report = AutoModelForCausalLM.from_pretrained(
            str(path), dtype=getattr(torch, dtype), use_safetensors=True, output_loading_info=True
        )
    except Exception as exc:  # a header can be fine while the weights do not fit the config
        raise CheckpointError(f"checkpoint {str(path)!r} could not be loaded: {exc}") from exc
    check_loading_report(path, type(model).__name__, report)
    check_finite(path, model)
    return model.to(device)


def check_loading_report(path: Path, model_class: str, report: dict[str, Any]) -> None:
    """No tensor missing, unexpected or of the wrong shape: the weights are the model config.json names.

    ``report`` is ``from_pretrained(..., output_loading_info=True)``'s, taken after transformers
    ties weights, so a tied ``lm_head.weight`` absent from the file is not "missing".
    """
    problems = []
    for key, what in (("missing_keys", "missing from the weights"), ("unexpected_keys", "not used by the model"),
                      ("mismatched_keys", "of the wrong shape"), ("error_msgs", "errors")):
        items = sorted(str(k[0] if isinstance(k, tuple) else k) for k in report.get(key) or ())
        if items:
            shown = ", ".join(items[:4]) + (f", ... ({len(items)} in all)" if len(items) > 4 else "")
            problems.append(f"{what}: {shown}")
    if problems:
        raise CheckpointError(
            f"checkpoint {str(path)!r}: its weights do not match its config.json (loaded as {model_class}); "
            + "; ".join(problems)
            + ". Fix model_type / architectures in config.json, or use the checkpoint the weights came from"
        )


def check_finite(path: Path, model) -> None:
    """Every parameter and buffer finite: a NaN weight turns every sampled token into an error later."""
    import torch

    bad = [name for name, t in (*model.named_parameters(), *model.named_buffers())
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        shown = ", ".join(bad[:4]) + (f", ... ({len(bad)} in all)" if len(bad) > 4 else "")
        raise CheckpointError(f"checkpoint {str(path)!r} holds NaN or infinite weights in {shown}")


def load_model_and_tokenizer(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    """The model and tokenizer of a checkpoint, each checked (CheckpointError before anything is written)."""
    from rl_lab.core.tokenizer import load_tokenizer

    model = load_model(path, dtype, device)
    try:
        tokenizer = load_tokenizer(path)
    except Exception as exc:
        raise CheckpointError(f"checkpoint {str(path)!r} has no usable tokenizer files: {exc}") from exc
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) == 0 or len(tokenizer) > vocab:
        raise CheckpointError(f"checkpoint {str(path)!r}: its tokenizer has {len(tokenizer)} tokens but the model "
                              f"embeds {vocab}; the tokenizer files do not belong to these weights")
    return model, tokenizer


def check_loadable(path: str | Path, dtype: str = "float32") -> None:
    """Load the checkpoint once and drop it: for a driver (a sweep) that checks before its workers load."""
    model, _tokenizer = load_model_and_tokenizer(path, dtype)
    del model


def save_checkpoint(model, tokenizer, path: str | Path, extra_files: dict[str, Any] | None = None) -> Path:
    """Write an HF checkpoint (safetensors) atomically: into a temp dir, then rename."""
    import os
    import shutil

    from rl_lab.core.io import apply_umask_mode, atomic_write_json

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    for name, obj in (extra_files or {}).items():
        atomic_write_json(tmp / name, obj)
    apply_umask_mode(tmp)
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
