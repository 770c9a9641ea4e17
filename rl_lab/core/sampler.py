"""One object to sample from, whatever the model spec: a checkpoint, proxy-tuning or steering.

```python
from rl_lab.core.sampler import load_sampler

sampler = load_sampler("proxy:base=runs/s/base/model,tuned=runs/t/checkpoints/step_200,untuned=runs/t/base/model")
sampler.sample(prompts, n=8, temperature=0.6, top_p=0.95, max_new_tokens=48, batch_size=256, seed=0)
sampler.sample(prompts, n=8, forcing=Forcing(prefix="<answer>"))      # format forcing, any spec
sampler(input_ids=ids, attention_mask=mask).logits                     # combined logits (drift's KL)
```

``sample`` takes ``sample_completions``' arguments (minus model and tokenizer) and returns what it
returns; for a plain checkpoint it *is* ``sample_completions`` on the loaded model. Calling the
sampler like a model returns an object with ``.logits``: the proxy sum, or the steered base, so
token-level analyses (``analysis.drift.sequence_kls``) take a spec where they took a model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.core.forcing import Forcing
from rl_lab.core.generation import ProcessorFactory, sample_completions, sample_token_ids
from rl_lab.core.model_spec import (
    ModelSpec,
    PlainSpec,
    ProxySpec,
    SteerSpec,
    parse_model_spec,
    steering_layer,
)
from rl_lab.core.steering import SteeringVector


@dataclass
class Output:
    """What a causal LM forward returns, as far as scoring code reads it."""

    logits: Any


class Sampler:
    """A loaded model spec: ``sample``, ``sample_ids`` and a forward returning the combined logits."""

    def __init__(self, spec: ModelSpec, model, tokenizer, tuned=None, untuned=None,
                 vector: SteeringVector | None = None) -> None:
        self.spec, self.model, self.tokenizer = spec, model, tokenizer
        self.tuned, self.untuned, self.vector = tuned, untuned, vector

    # ------------------------------------------------------------------ pieces
    def _processors(self) -> ProcessorFactory | None:
        if isinstance(self.spec, ProxySpec):
            from rl_lab.core.proxy import processor_factory

            return processor_factory(self.tuned, self.untuned, self.spec.alpha)
        return None

    @contextmanager
    def active(self) -> Iterator[None]:
        """While inside, the base model is the spec's model (steered for a steer spec)."""
        if isinstance(self.spec, SteerSpec) and self.vector is not None:
            from rl_lab.core.steering import steering

            with steering(self.model, self.vector, self.spec.strength):
                yield
        else:
            yield

    # ------------------------------------------------------------------ sampling
    def sample(self, prompts: Sequence[str], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
               max_new_tokens: int = 64, batch_size: int = 256, seed: int = 0, progress: bool = False,
               forcing: Forcing | None = None) -> list[list[str]]:
        """``n`` decoded completions per prompt, as ``sample_completions`` (forced prefix included)."""
        with self.active():
            return sample_completions(self.model, self.tokenizer, prompts, n=n, temperature=temperature, top_p=top_p,
                                      max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                                      progress=progress, processors=self._processors(), forcing=forcing)

    def sample_ids(self, prompts: Sequence[str], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                   max_new_tokens: int = 64, batch_size: int = 256, seed: int = 0,
                   forcing: Forcing | None = None) -> list[tuple[list[int], list[int]]]:
        """``(prompt ids, completion ids)`` per sample, as ``sample_token_ids`` (a forced prefix opens the completion)."""
        with self.active():
            return sample_token_ids(self.model, self.tokenizer, prompts, n=n, temperature=temperature, top_p=top_p,
                                    max_new_tokens=max_new_tokens, batch_size=batch_size, seed=seed,
                                    processors=self._processors(), forcing=forcing)

    # ------------------------------------------------------------------ scoring
    def logits(self, input_ids, attention_mask):
        """Float32 next-token logits at every position under the spec's model (no position ids: pad on the right)."""
        import torch

        if isinstance(self.spec, ProxySpec):
            from rl_lab.core.proxy import proxy_logits

            return proxy_logits(self.model, self.tuned, self.untuned, input_ids, attention_mask, self.spec.alpha)
        with self.active(), torch.no_grad():
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()

    def __call__(self, input_ids, attention_mask=None) -> Output:
        return Output(self.logits(input_ids, attention_mask))

    def eval(self) -> Sampler:
        for model in (self.model, self.tuned, self.untuned):
            if model is not None:
                model.eval()
        return self

    def describe(self) -> dict[str, Any]:
        """What was sampled from, for a result file's inputs."""
        out: dict[str, Any] = {"spec": str(self.spec), "kind": type(self.spec).__name__.removesuffix("Spec").lower()}
        if isinstance(self.spec, SteerSpec) and self.vector is not None:
            out.update(layer=self.vector.layer, strength=self.spec.strength, vector_metadata=dict(self.vector.metadata))
        return out


def load_sampler(spec: str | Path | ModelSpec, dtype: str = "float32", device: str = "cpu") -> Sampler:
    """Validate ``spec`` (``rl_lab.core.model_spec``; exit-2 errors before loading), then load its models."""
    from rl_lab.core.models import load_model, load_model_and_tokenizer

    parsed = parse_model_spec(spec)
    if isinstance(parsed, PlainSpec):
        model, tokenizer = load_model_and_tokenizer(parsed.path, dtype, device)
        return Sampler(parsed, model.eval(), tokenizer)
    model, tokenizer = load_model_and_tokenizer(parsed.base, dtype, device)
    if isinstance(parsed, ProxySpec):
        tuned, untuned = (load_model(p, dtype, device).eval() for p in (parsed.tuned, parsed.untuned))
        return Sampler(parsed, model.eval(), tokenizer, tuned=tuned, untuned=untuned)
    from dataclasses import replace

    from rl_lab.core.steering import load_steering_vector

    vector = load_steering_vector(parsed.vector)
    vector = replace(vector, layer=steering_layer(parsed))
    return Sampler(parsed, model.eval(), tokenizer, vector=vector)
