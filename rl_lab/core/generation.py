"""Batched sampling with ``transformers`` generate (the CPU path).

Prompts are left-padded and sampled in large batches, each prompt repeated
``n`` times inside the batch: on CPU this is where throughput comes from (one
prompt at a time is ~10-50x slower for tiny models).  On a GPU with vLLM installed,
TRL's own vLLM integration does the RL rollouts (``rollout.backend: vllm``) and pass@k
samples through ``vllm.LLM``; this module is the path that works everywhere.

Elicitation without weight updates plugs in here (``rl_lab.core.sampler`` builds the pieces
from a model spec): ``processors`` makes extra logits processors for each batch (proxy-tuning),
``forcing`` starts every answer in a format (``rl_lab.core.forcing``); steering is a hook on
the model, active around the call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rl_lab.core.forcing import (
    Forcing,
    check_prefix_encodes,
    forced_prompts,
    suppressed_first_tokens,
    with_prefix,
)

# Given one batch's prompt attention mask, the logits processors for that batch's generate() call
# (a processor may hold per-batch state, e.g. the KV caches of proxy-tuning's experts).
ProcessorFactory = Callable[[Any], list[Any]]


def _generate_batches(
    model, tokenizer, flat: Sequence[str], *, temperature: float, top_p: float, max_new_tokens: int,
    batch_size: int, seed: int, progress: bool, processors: ProcessorFactory | None = None,
    first_chars: str = "",
) -> Iterator[tuple[Any, Any]]:
    """``(encoded batch, new token ids)`` per batch of ``flat``, sampled with one seeded torch RNG stream."""
    import torch
    from tqdm.auto import tqdm

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    pad_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    suppress: list[int] = []
    if first_chars:
        suppress = suppressed_first_tokens(tokenizer, first_chars, model.get_output_embeddings().weight.shape[0])
    try:
        bar = tqdm(total=len(flat), desc="sampling", unit="seq", disable=not progress)
        for start in range(0, len(flat), batch_size):
            chunk = flat[start : start + batch_size]
            enc = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
            else:
                kwargs.update(do_sample=False)
            if processors is not None:
                kwargs["logits_processor"] = processors(enc["attention_mask"])
            if suppress:
                kwargs["begin_suppress_tokens"] = suppress
            with torch.no_grad():
                gen = model.generate(**enc, **kwargs)
            yield enc, gen[:, enc["input_ids"].shape[1] :]
            bar.update(len(chunk))
        bar.close()
    finally:
        tokenizer.padding_side = pad_side
        model.train(was_training)


def sample_completions(
    model,
    tokenizer,
    prompts: Sequence[str],
    n: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    batch_size: int = 256,
    seed: int = 0,
    progress: bool = False,
    processors: ProcessorFactory | None = None,
    forcing: Forcing | None = None,
) -> list[list[str]]:
    """``n`` completions for each prompt (decoded, special tokens removed), in prompt order.

    ``temperature == 0`` means greedy decoding (then the n completions are identical).
    With ``forcing``, each completion starts with the forced prefix (see ``rl_lab.core.forcing``).
    """
    if forcing is not None:
        check_prefix_encodes(tokenizer, forcing)
    flat = forced_prompts([p for p in prompts for _ in range(n)], forcing)
    out: list[str] = []
    for _enc, new in _generate_batches(
        model, tokenizer, flat, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
        batch_size=batch_size, seed=seed, progress=progress, processors=processors,
        first_chars=forcing.first_chars if forcing else "",
    ):
        out.extend(with_prefix(text, forcing) for text in tokenizer.batch_decode(new, skip_special_tokens=True))
    return [out[i * n : (i + 1) * n] for i in range(len(prompts))]


def sample_token_ids(
    model,
    tokenizer,
    prompts: Sequence[str],
    n: int = 1,
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    batch_size: int = 256,
    seed: int = 0,
    processors: ProcessorFactory | None = None,
    forcing: Forcing | None = None,
) -> list[tuple[list[int], list[int]]]:
    """``(prompt ids, completion ids)`` for n samples per prompt (prompt-major order), what a token-level
    analysis (drift's KL) scores: the completion keeps its end-of-sequence token and drops padding.
    With ``forcing``, the forced prefix's tokens open the completion (they are the answer's, not the
    prompt's), so a prompt's ids are the same forced or not."""
    eos = tokenizer.eos_token_id
    if forcing is not None:
        check_prefix_encodes(tokenizer, forcing)
    prefix = tokenizer(forcing.prefix, add_special_tokens=False)["input_ids"] if forcing and forcing.prefix else []
    out: list[tuple[list[int], list[int]]] = []
    flat = forced_prompts([p for p in prompts for _ in range(n)], forcing)
    for enc, new in _generate_batches(
        model, tokenizer, flat, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
        batch_size=batch_size, seed=seed, progress=False, processors=processors,
        first_chars=forcing.first_chars if forcing else "",
    ):
        for i, ids in enumerate(new.tolist()):
            row, mask = enc["input_ids"][i].tolist(), enc["attention_mask"][i].tolist()
            prompt_ids = [t for t, m in zip(row, mask, strict=True) if m]
            if eos in ids:
                ids = ids[: ids.index(eos) + 1]
            if prefix:  # exact for the character tokenizer; with BPE see rl_lab.core.forcing
                prompt_ids, ids = prompt_ids[: len(prompt_ids) - len(prefix)], prompt_ids[len(prompt_ids) - len(prefix):] + ids
            out.append((prompt_ids, ids))
    return out
