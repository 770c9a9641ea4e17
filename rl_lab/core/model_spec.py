"""Model specs: what to sample from, as one string, understood here and nowhere else.

- ``PATH``: a checkpoint directory (``runs/x/base/model``, ``runs/x/checkpoints/step_100``).
- ``proxy:base=PATH,tuned=PATH,untuned=PATH[,alpha=A]``: proxy-tuning (``rl_lab.core.proxy``):
  ``base + alpha * (tuned - untuned)`` logits at every step; the three share one tokenizer.
- ``steer:base=PATH,vector=FILE[,strength=S][,layer=L]``: activation steering (``rl_lab.core.steering``):
  ``base`` with ``strength * vector`` added to decoder layer ``L`` (default: the layer stored in FILE).

Why ``key=value`` items separated by commas and not ``proxy:BASE+TUNED-UNTUNED``: checkpoint paths
routinely contain ``-`` and ``+`` (``runs/grpo-tiny/...``), commas almost never; named items also
say which path is which. A path may not contain ``,``. A checkpoint directory whose name starts
with ``proxy:`` or ``steer:`` is written ``./proxy:...``. Format forcing is a *sampling option*
(``rl_lab.core.forcing``), not a spec: it applies to any model, spec'd or plain, and an evaluation
forces several formats in turn with one loaded model.

``parse_model_spec`` validates a spec completely before anything is loaded or written: every path is
a checkpoint (``validate_checkpoint``), proxy's tokenizers map ids to the same tokens, the steering
vector file is well formed, its layer exists in the base and its size is the base's hidden size,
numbers are finite. Paths: ``CheckpointError``; the rest: ``ConfigError`` (both exit 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.core.checkpoints import read_model_config, validate_checkpoint
from rl_lab.core.errors import CheckpointError, ConfigError

PROXY = "proxy:"
STEER = "steer:"
PROXY_SYNTAX = "proxy:base=PATH,tuned=PATH,untuned=PATH[,alpha=1.0]"
STEER_SYNTAX = "steer:base=PATH,vector=FILE.safetensors[,strength=1.0][,layer=L]"


@dataclass(frozen=True)
class PlainSpec:
    path: Path

    def __str__(self) -> str:  # a directory named like a spec keeps its ./ so the string parses back
        text = str(self.path)
        return f"./{text}" if is_model_spec(text) else text


@dataclass(frozen=True)
class ProxySpec:
    base: Path
    tuned: Path
    untuned: Path
    alpha: float = 1.0

    def __str__(self) -> str:
        return f"{PROXY}base={self.base},tuned={self.tuned},untuned={self.untuned},alpha={self.alpha:g}"


@dataclass(frozen=True)
class SteerSpec:
    base: Path
    vector: Path
    strength: float = 1.0
    layer: int | None = None  # None: the layer stored with the vector

    def __str__(self) -> str:
        layer = "" if self.layer is None else f",layer={self.layer}"
        return f"{STEER}base={self.base},vector={self.vector},strength={self.strength:g}{layer}"


ModelSpec = PlainSpec | ProxySpec | SteerSpec


def is_model_spec(text: str | Path) -> bool:
    """True for ``proxy:`` / ``steer:`` strings (what a LABEL=PATH parser must not split on ``=``)."""
    return isinstance(text, str) and text.startswith((PROXY, STEER))


def base_path(spec: ModelSpec) -> Path:
    """The checkpoint whose tokenizer (and prompt support) the spec samples with."""
    return spec.path if isinstance(spec, PlainSpec) else spec.base


def _items(body: str, kind: str, syntax: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str]:
    items: dict[str, str] = {}
    for part in body.split(","):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise ConfigError(f"model spec {kind}: {part!r} is not key=value; the syntax is {syntax} "
                              "(paths may not contain ',')")
        if key not in required + optional:
            raise ConfigError(f"model spec {kind}: unknown key {key!r}; the syntax is {syntax}")
        if key in items:
            raise ConfigError(f"model spec {kind}: {key!r} is given twice")
        items[key] = value
    missing = [k for k in required if k not in items]
    if missing:
        raise ConfigError(f"model spec {kind}: {', '.join(missing)} missing; the syntax is {syntax}")
    return items


def _finite(kind: str, key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"model spec {kind}: {key}={value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"model spec {kind}: {key} must be a finite number, got {value!r}")
    return number


def parse_syntax(text: str) -> ModelSpec:
    """The spec a string names, checked for syntax only (no file is read: ``parse_model_spec`` validates)."""
    if text.startswith(PROXY):
        items = _items(text[len(PROXY):], "proxy", PROXY_SYNTAX, ("base", "tuned", "untuned"), ("alpha",))
        alpha = _finite("proxy", "alpha", items.get("alpha", "1"))
        return ProxySpec(Path(items["base"]), Path(items["tuned"]), Path(items["untuned"]), alpha)
    if text.startswith(STEER):
        items = _items(text[len(STEER):], "steer", STEER_SYNTAX, ("base", "vector"), ("strength", "layer"))
        strength = _finite("steer", "strength", items.get("strength", "1"))
        layer = None
        if "layer" in items:
            try:
                layer = int(items["layer"])
            except ValueError:
                raise ConfigError(f"model spec steer: layer={items['layer']!r} is not an integer") from None
        return SteerSpec(Path(items["base"]), Path(items["vector"]), strength, layer)
    if not text:
        raise ConfigError("model spec is empty: give a checkpoint directory, a proxy: or a steer: spec")
    return PlainSpec(Path(text))


def text_config(path: Path) -> dict[str, Any]:
    """config.json of a checkpoint, its text model's part for multimodal configs (``text_config``)."""
    config = read_model_config(path)
    nested = config.get("text_config")
    return nested if isinstance(nested, dict) and "num_hidden_layers" not in config else config


def _check_proxy(spec: ProxySpec) -> None:
    from rl_lab.core.tokenizer import load_tokenizer, tokenizer_difference

    def tokenizer_of(path: Path):
        try:
            return load_tokenizer(path)
        except Exception as exc:
            raise CheckpointError(f"checkpoint {str(path)!r} has no usable tokenizer files: {exc}") from exc

    base = tokenizer_of(spec.base)
    for role, path in (("tuned", spec.tuned), ("untuned", spec.untuned)):
        problem = tokenizer_difference(base, tokenizer_of(path))
        if problem:
            raise ConfigError(
                f"model spec proxy: the {role} model {str(path)!r} does not share the base's tokenizer "
                f"({str(spec.base)!r}): {problem}. Proxy-tuning adds logits id by id, so all three models need "
                "the same tokenizer (the controlled presets share one; on real checkpoints, one model family)"
            )


def steering_layer(spec: SteerSpec) -> int:
    """The layer a steer spec acts on (checked): the spec's, else the vector file's; ConfigError when
    the base has no such layer or the vector's size is not the base's hidden size."""
    from rl_lab.core.steering import check_layer, read_vector_header

    shape, meta = read_vector_header(spec.vector)
    layer = spec.layer if spec.layer is not None else int(meta["layer"])
    config = text_config(spec.base)
    layers, hidden = config.get("num_hidden_layers"), config.get("hidden_size")
    if not isinstance(layers, int) or not isinstance(hidden, int):
        raise ConfigError(f"model spec steer: {str(spec.base)!r}'s config.json has no integer num_hidden_layers "
                          "and hidden_size; steering needs a decoder-only transformer")
    check_layer(layer, layers, f"the base {str(spec.base)!r}")
    if shape != [hidden]:
        raise ConfigError(f"model spec steer: the vector {str(spec.vector)!r} has shape {shape} but the base "
                          f"{str(spec.base)!r} has hidden size {hidden}; compute the vector on this base")
    return layer


def validate_model_spec(spec: ModelSpec) -> ModelSpec:
    """Every check of the module doc, from config.json, tokenizer files and headers (no weights read)."""
    if isinstance(spec, PlainSpec):
        validate_checkpoint(spec.path)
    elif isinstance(spec, ProxySpec):
        for path in (spec.base, spec.tuned, spec.untuned):
            validate_checkpoint(path)
        _check_proxy(spec)
    else:
        validate_checkpoint(spec.base)
        steering_layer(spec)
    return spec


def parse_model_spec(text: str | Path | ModelSpec) -> ModelSpec:
    """A validated spec from its string (a ``Path`` is a plain checkpoint); raises before anything is loaded."""
    if isinstance(text, PlainSpec | ProxySpec | SteerSpec):
        return validate_model_spec(text)
    if isinstance(text, Path):
        return validate_model_spec(PlainSpec(text))
    return validate_model_spec(parse_syntax(text.strip()))
