"""Activation steering: add ``strength * vector`` to one decoder layer's output while the model runs.

The vector comes from the base model's own activations: the mean activation at layer ``L`` over
completions of one kind (a format, correct answers) minus the mean over completions of another
(mean difference, as in Turner et al. 2023 "ActAdd" and Rimsky et al. 2024 "CAA"). It is saved as
safetensors (tensor ``vector``, shape ``[hidden]``) with its layer and provenance in the metadata.

Layer ``L`` means the output of ``model.model.layers[L]`` (0-based), i.e. ``hidden_states[L + 1]``
of an ``output_hidden_states`` forward (``hidden_states[-1]`` is after the final norm, not the last
layer's output). The vector is added at every position, prompt and generated tokens alike.

Why a plain forward hook and no library: in transformers 5 a decoder layer returns a plain tensor,
so steering is ``output + strength * vector`` in a hook removed in ``finally``; measured at no cost
over plain ``generate``. The libraries were checked on this stack (docs/elicitation.md):
``steering-vectors`` 0.12 pins ``transformers<5`` (a plain install downgrades transformers) and
needs scikit-learn; ``repeng`` 0.4 pins ``numpy<2`` and fails to import on NumPy 2, and replaces
the layer module inside the model; ``nnsight`` installs cleanly but brings a tracing runtime
(greenlet, httpx, remote execution), an order-sensitive generate API and ~40% overhead per step,
worth it only for interpretability work rl_lab does not do. All three steered identically to the hook.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.core.errors import CheckpointError, ConfigError

TENSOR = "vector"
REDUCTIONS = ("completion_mean", "last")


@dataclass
class SteeringVector:
    """A direction in a model's residual stream at decoder layer ``layer`` (a 1-D float tensor)."""

    vector: Any
    layer: int
    metadata: dict[str, str] = field(default_factory=dict)


def decoder_layers(model) -> Any:
    """The model's list of decoder layers (``model.model.layers`` for Qwen2, Llama, Mistral, ...)."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if layers is None:
        try:
            layers = getattr(model.get_decoder(), "layers", None)
        except (AttributeError, ValueError):
            layers = None
    if layers is None:
        raise ConfigError(f"steering: {type(model).__name__} has no list of decoder layers (model.model.layers); "
                          "steering supports decoder-only transformers with that layout")
    return layers


def check_layer(layer: int, num_layers: int, where: str) -> None:
    if not 0 <= layer < num_layers:
        raise ConfigError(f"steering layer {layer} does not exist: {where} has {num_layers} decoder layers "
                          f"(0-{num_layers - 1}); pick layer=0..{num_layers - 1}")


@contextmanager
def steering(model, vector: SteeringVector, strength: float) -> Iterator[None]:
    """While inside: layer ``vector.layer`` of ``model`` outputs ``output + strength * vector``."""
    layers = decoder_layers(model)
    check_layer(vector.layer, len(layers), type(model).__name__)
    if not math.isfinite(strength):
        raise ConfigError(f"steering strength must be a finite number, got {strength}")

    def hook(_module, _args, output):
        hidden = output[0] if isinstance(output, tuple) else output  # a tuple in transformers 4, a tensor in 5
        steered = hidden + strength * vector.vector.to(device=hidden.device, dtype=hidden.dtype)
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    handle = layers[vector.layer].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def layer_activations(model, tokenizer, pairs: Sequence[tuple[str, str]], layer: int, reduce: str = "completion_mean",
                      batch_size: int = 64) -> Any:
    """One activation per ``(prompt, completion)`` pair at layer ``layer``: ``[len(pairs), hidden]``.

    ``completion_mean``: the mean over the completion's tokens (each text weighs the same, whatever its
    length); ``last``: the last token of prompt + completion.
    """
    import torch

    if reduce not in REDUCTIONS:
        raise ConfigError(f"steering reduce must be one of {REDUCTIONS}, got {reduce!r}")
    layers = decoder_layers(model)
    check_layer(layer, len(layers), type(model).__name__)
    rows: list[Any] = []
    model.eval()
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start : start + batch_size]
        # the completion starts after the prompt's own tokens (exact for the character tokenizer; with
        # BPE a token spanning the boundary counts as the prompt's)
        prompt_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p, _ in chunk]
        full_ids = [tokenizer(p + c, add_special_tokens=False)["input_ids"] for p, c in chunk]
        width = max(len(x) for x in full_ids)
        device = next(model.parameters()).device
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long, device=device)
        mask = torch.zeros((len(chunk), width), dtype=torch.long, device=device)
        for i, x in enumerate(full_ids):  # right padding: positions 0..len-1 without position_ids
            ids[i, : len(x)] = torch.tensor(x)
            mask[i, : len(x)] = 1
        with torch.no_grad():
            hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True).hidden_states[layer + 1]
        for i, (p, x) in enumerate(zip(prompt_ids, full_ids, strict=True)):
            if reduce == "last":
                rows.append(hidden[i, len(x) - 1].float())
                continue
            begin = min(len(p), len(x) - 1)  # an empty completion falls back to the last prompt token
            rows.append(hidden[i, begin : len(x)].float().mean(0))
    return torch.stack(rows)


def compute_steering_vector(model, tokenizer, positive: Sequence[tuple[str, str]], negative: Sequence[tuple[str, str]],
                            layer: int, reduce: str = "completion_mean", batch_size: int = 64,
                            metadata: dict[str, str] | None = None) -> SteeringVector:
    """Mean activation over ``positive`` minus mean over ``negative`` at layer ``layer``.

    Each item is ``(prompt, completion)``: e.g. positive = base completions in format ``tagged``,
    negative = those in ``terse``; or correct vs incorrect ones. ``metadata`` (strings) is stored
    with the vector, next to what this function records (layer, counts, reduction, norm).
    """
    if not positive or not negative:
        raise ConfigError(f"steering: both sets need texts (got {len(positive)} positive, {len(negative)} negative)")
    pos = layer_activations(model, tokenizer, positive, layer, reduce, batch_size).mean(0)
    neg = layer_activations(model, tokenizer, negative, layer, reduce, batch_size).mean(0)
    vector = pos - neg
    meta = {"method": "mean_difference", "reduce": reduce, "n_positive": str(len(positive)),
            "n_negative": str(len(negative)), "hidden_size": str(vector.shape[0]), "norm": f"{float(vector.norm()):.6g}",
            "model_class": type(model).__name__, **(metadata or {})}
    return SteeringVector(vector.cpu(), layer, meta)


def save_steering_vector(vector: SteeringVector, path: str | Path) -> Path:
    """Write safetensors atomically: tensor ``vector``, metadata with ``layer`` and the provenance."""
    from safetensors.torch import save

    from rl_lab.core.io import atomic_write_bytes

    meta = {**{str(k): str(v) for k, v in vector.metadata.items()}, "layer": str(vector.layer)}
    data = save({TENSOR: vector.vector.detach().float().contiguous().cpu()}, metadata=meta)
    return atomic_write_bytes(path, data)


def read_vector_header(path: str | Path) -> tuple[list[int], dict[str, str]]:
    """``(shape of the vector, metadata)`` from the file's header alone; CheckpointError if it is not a
    steering vector file (missing, not safetensors, no 1-D ``vector`` tensor, no integer ``layer``)."""
    from safetensors import safe_open

    from rl_lab.core.checkpoints import read_safetensors_header

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"steering vector {str(path)!r} does not exist (write one with "
                              "rl_lab.core.steering.save_steering_vector)")
    header = read_safetensors_header(path)
    entry = header.get(TENSOR)
    if entry is None or len(entry["shape"]) != 1:
        raise CheckpointError(f"steering vector {str(path)!r} has no 1-D tensor named {TENSOR!r} "
                              f"(it holds {sorted(header)})")
    with safe_open(str(path), framework="pt") as handle:
        meta = dict(handle.metadata() or {})
    try:
        int(meta.get("layer", ""))
    except ValueError:
        raise CheckpointError(f"steering vector {str(path)!r}: its metadata has no integer 'layer' "
                              f"(got {meta.get('layer')!r})") from None
    return entry["shape"], meta


def load_steering_vector(path: str | Path) -> SteeringVector:
    from safetensors.torch import load_file

    shape, meta = read_vector_header(path)
    vector = load_file(str(path))[TENSOR]
    import torch

    if not bool(torch.isfinite(vector).all()):
        raise CheckpointError(f"steering vector {str(path)!r} holds NaN or infinite values")
    layer = int(meta.pop("layer"))
    return SteeringVector(vector, layer, meta)
