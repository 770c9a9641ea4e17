"""Proxy-tuning (Liu et al. 2024, "Tuning Language Models by Proxy", arXiv 2401.08565).

At every decoding step the next-token logits are ``base + alpha * (tuned - untuned)``: an untouched
base model steered by the difference a training run made to another model that shares its
tokenizer (tune ``tiny``, steer ``small``; on real checkpoints, a family's small and large sizes).

Implemented once, as a ``transformers`` logits processor (``ProxyTuningProcessor``) that runs the
tuned and untuned models itself, each with its own KV cache, and adds their difference to the
base's scores. Why a processor and not a wrapper model: ``generate`` keeps doing everything it does
(EOS, padding of finished rows, temperature, top-p, seeds), and transformers 5 merges user
processors *before* its sampling warpers (``GenerationMixin._get_logits_processor``), so
temperature and top-p act on the summed logits, as the method requires. A wrapper
``PreTrainedModel`` would have to fake one cache object for three models and follow
``GenerationMixin``'s private hooks, which change between minor versions; transformers' own
``UnbatchedClassifierFreeGuidanceLogitsProcessor`` uses the same "second model inside a processor"
pattern. ``proxy_logits`` is the same sum for a full forward (token-level KL, e.g. drift).

Limits: greedy and sampling with ``generate`` only; no beam search (beams reorder rows, the
experts' caches would not follow), no assisted decoding, no vLLM, not inside TRL's rollouts.
"""

from __future__ import annotations

from typing import Any


def _combine(scores, tuned, untuned, alpha: float):
    """``scores + alpha * (tuned - untuned)`` over the ids all three models have; ids only some
    models have (padding rows past the shared tokenizer) are masked out."""
    import torch

    width = min(scores.shape[-1], tuned.shape[-1], untuned.shape[-1])
    out = scores.clone()
    out[..., :width] += alpha * (tuned[..., :width] - untuned[..., :width]).to(scores.dtype)
    if width < scores.shape[-1]:
        out[..., width:] = -torch.inf
    return out


class _Expert:
    """One model with its own KV cache, fed only the tokens it has not seen yet."""

    def __init__(self, model) -> None:
        self.model = model
        self.cache: Any = None
        self.seen = 0
        self.mask: Any = None

    def next_logits(self, input_ids, prompt_mask):
        import torch
        from transformers import DynamicCache

        if self.cache is None:  # first step: the whole (left-padded) prompt
            self.cache = DynamicCache(config=self.model.config)
            self.mask, new = prompt_mask, input_ids
        else:
            new = input_ids[:, self.seen :]
            self.mask = torch.cat([self.mask, self.mask.new_ones(new.shape)], dim=1)
        # the positions generate gives the base: cumsum of the mask - 1, pads at 0
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)[:, -new.shape[1] :]
        with torch.no_grad():
            out = self.model(input_ids=new, attention_mask=self.mask, position_ids=positions,
                             past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        self.seen = input_ids.shape[1]
        return out.logits[:, -1].float()


class ProxyTuningProcessor:
    """``scores + alpha * (tuned - untuned)`` at each step of ``generate``.

    Holds the experts' KV caches: build a new one for every ``generate`` call, with that call's
    prompt ``attention_mask`` (the processor never sees it otherwise).
    """

    def __init__(self, tuned, untuned, attention_mask, alpha: float = 1.0) -> None:
        self.tuned, self.untuned = _Expert(tuned), _Expert(untuned)
        self.mask = attention_mask
        self.alpha = alpha

    def __call__(self, input_ids, scores):
        if self.tuned.cache is not None and input_ids.shape[1] <= self.tuned.seen:
            raise RuntimeError("ProxyTuningProcessor reused across generate() calls: build a new one per call")
        if self.mask.shape[0] != input_ids.shape[0]:  # num_return_sequences: generate repeats each row
            self.mask = self.mask.repeat_interleave(input_ids.shape[0] // self.mask.shape[0], dim=0)
        tuned = self.tuned.next_logits(input_ids, self.mask)
        untuned = self.untuned.next_logits(input_ids, self.mask)
        return _combine(scores, tuned, untuned, self.alpha)


def processor_factory(tuned, untuned, alpha: float = 1.0):
    """For ``sample_completions(processors=...)``: a fresh processor per batch."""

    def make(attention_mask) -> list[Any]:
        return [ProxyTuningProcessor(tuned, untuned, attention_mask, alpha)]

    return make


def proxy_logits(base, tuned, untuned, input_ids, attention_mask, alpha: float = 1.0):
    """Full-sequence logits ``base + alpha * (tuned - untuned)`` (float32), for scoring given tokens."""
    import torch

    with torch.no_grad():
        lb, lt, lu = (m(input_ids=input_ids, attention_mask=attention_mask).logits.float()
                      for m in (base, tuned, untuned))
    return _combine(lb, lt, lu, alpha)
