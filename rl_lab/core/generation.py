"""Batched sampling with ``transformers`` generate (the CPU path).

Prompts are left-padded and sampled in large batches, each prompt repeated
``n`` times inside the batch: on CPU this is where throughput comes from (one
prompt at a time is ~10-50x slower for tiny models).  On a GPU with vLLM installed,
TRL's own vLLM integration does the RL rollouts (``rollout.backend: vllm``) and pass@k
samples through ``vllm.LLM``; this module is the path that works everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence


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
) -> list[list[str]]:
    """``n`` completions for each prompt (decoded, special tokens removed), in prompt order.

    ``temperature == 0`` means greedy decoding (then the n completions are identical).
    """
    import torch
    from tqdm.auto import tqdm

    flat = [p for p in prompts for _ in range(n)]
    out: list[str] = []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    torch.manual_seed(seed)
    pad_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        bar = tqdm(total=len(flat), desc="sampling", unit="seq", disable=not progress)
        for start in range(0, len(flat), batch_size):
            chunk = flat[start : start + batch_size]
            enc = tokenizer(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            kwargs = dict(max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id)
            if temperature > 0:
                kwargs.update(do_sample=True, temperature=temperature, top_p=top_p, top_k=0)
            else:
                kwargs.update(do_sample=False)
            with torch.no_grad():
                gen = model.generate(**enc, **kwargs)
            new = gen[:, enc["input_ids"].shape[1] :]
            out.extend(tokenizer.batch_decode(new, skip_special_tokens=True))
            bar.update(len(chunk))
        bar.close()
    finally:
        tokenizer.padding_side = pad_side
        model.train(was_training)
    return [out[i * n : (i + 1) * n] for i in range(len(prompts))]
