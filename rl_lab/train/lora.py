"""LoRA through PEFT for either arm: the ``peft.LoraConfig`` TRL's ``peft_config`` takes, the check of its
target modules, and full-weight checkpoints of an adapted model.

Why merged checkpoints: every analysis (updates, drift, pass@k, contamination) and every loader in rl_lab
reads ``checkpoints/step_N`` as a full safetensors model. A PeftModel's ``save_pretrained`` writes the
adapter only, so a LoRA checkpoint holds both: the adapter files PEFT writes (``adapter_model.safetensors``,
``adapter_config.json``: what a resume loads, and what a PEFT user wants) and the merged weights
(``config.json`` + ``model.safetensors``). The merge is PEFT's ``merge_and_unload`` on a deep copy: merging
in place and unmerging after would leave float round-off in the frozen base weights of the live model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_lab.core.config import PeftSpec
from rl_lab.core.errors import CheckpointError, ConfigError

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def lora_config(spec: PeftSpec | None):
    """``peft.LoraConfig`` for ``train.peft`` (None: full fine-tuning). ConfigError when peft is missing."""
    if spec is None:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise ConfigError("invalid config:\n  train.peft: LoRA needs the peft package, which is not installed "
                          "(pip install 'rl-lab[peft]' or pip install peft); or set train.peft=null") from None
    targets: Any = spec.target_modules if isinstance(spec.target_modules, str) else list(spec.target_modules)
    return LoraConfig(r=spec.r, lora_alpha=spec.alpha, lora_dropout=spec.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")


def missing_targets(model, target_modules: str | list[str]) -> list[str]:
    """Target names no module of ``model`` has (PEFT's rule: the full name or a ``.``-suffix of it).

    PEFT raises only when *no* name matches; a typo beside a good name is silently dropped. 'all-linear'
    always resolves (PEFT picks the linear layers)."""
    if isinstance(target_modules, str):
        return []
    names = [n for n, _ in model.named_modules()]
    return [t for t in target_modules if not any(n == t or n.endswith("." + t) for n in names)]


def check_targets(model, spec: PeftSpec | None) -> None:
    """ConfigError naming ``train.peft.target_modules`` when the model lacks a target (before any write)."""
    if spec is None:
        return
    missing = missing_targets(model, spec.target_modules)
    if missing:
        leaves = sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if type(m).__name__ == "Linear"})
        raise ConfigError(f"invalid config:\n  train.peft.target_modules: {missing} name no module of "
                          f"{type(model).__name__}; its linear layers are {leaves} (or use 'all-linear')")


def is_peft(model) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def plain_model(model):
    """``model`` itself, or for a PeftModel a merged deep copy (a plain transformers model)."""
    import copy

    if not is_peft(model):
        return model
    return copy.deepcopy(model).merge_and_unload()


def save_merged(model, dest: str | Path) -> None:
    """Write the merged full weights of a PeftModel (config.json, model.safetensors) into ``dest``."""
    plain_model(model).save_pretrained(str(dest), safe_serialization=True)


def load_adapter(model, checkpoint: str | Path) -> None:
    """Load a checkpoint's adapter weights into the PeftModel being trained (a resume).

    The HF Trainer prefers ``model.safetensors`` when a checkpoint holds one, and would load the merged
    weights into the PeftModel with ``strict=False``: no key matches, nothing is restored, and it only
    warns. So a LoRA resume reads the adapter file, and refuses one that does not fit."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    file = Path(checkpoint) / ADAPTER_WEIGHTS
    if not file.is_file():
        raise CheckpointError(f"checkpoint {str(checkpoint)!r} has no {ADAPTER_WEIGHTS}: it was not written by a "
                              "LoRA run, and train.peft must match the run being resumed")
    result = set_peft_model_state_dict(model, load_file(str(file), device="cpu"))
    unexpected = list(getattr(result, "unexpected_keys", []) or [])
    lora_missing = [k for k in getattr(result, "missing_keys", []) or [] if "lora_" in k]
    if unexpected or lora_missing:
        raise CheckpointError(f"checkpoint {str(checkpoint)!r}: {ADAPTER_WEIGHTS} does not fit this LoRA model "
                              f"(unexpected {unexpected[:4]}, missing {lora_missing[:4]})")


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
