"""Tiny checkpoints and a scripted model for the elicitation tests (proxy-tuning, steering, forcing)."""

from __future__ import annotations

from pathlib import Path

import torch
from behaviour_fixtures import single_thread  # noqa: F401 - re-exported: one torch thread per test module

from rl_lab.core.models import build_model, save_checkpoint
from rl_lab.core.tokenizer import build_char_tokenizer

PROMPTS = ["1+2=", "12+30=", "5+9=", "47+85="]  # different lengths: left padding matters


def tiny_checkpoint(path: Path, seed: int, preset: str = "tiny", noise: float = 0.0, tokenizer=None) -> Path:
    """A random ``preset`` model saved as an rl_lab checkpoint; ``noise`` perturbs every weight
    (a stand-in for "the same model after training": it shares the untuned model's weights otherwise)."""
    tok = tokenizer or build_char_tokenizer()
    model = build_model(preset, tok, seed=seed)
    if noise:
        gen = torch.Generator().manual_seed(seed + 1000)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(noise * torch.randn(p.shape, generator=gen))
    save_checkpoint(model, tok, path)
    return path


# --------------------------------------------------------------------------- a scripted "model"
def _target(question: str, completion: str, prefers: str) -> str:
    """The whole completion the scripted model writes, given how it has started: it knows every
    controlled format, answers ``prefers`` when nothing is started, and finishes what was started."""
    left, right = question.split("+")
    answer = str(int(left) + int(right))
    formats = {"terse": answer, "steps": f"[{question}={answer}] {answer}", "tagged": f"<answer>{answer}</answer>"}
    if completion.startswith("<"):
        return formats["tagged"]
    if completion.startswith("["):
        return formats["steps"]
    if completion[:1].isdigit() or completion[:1] == "-":
        return formats["terse"]
    return formats[prefers]


def scripted_model(prefers: str, seed: int = 0):
    """A tiny Qwen2 whose next-token logits follow ``_target`` (+50 on the scripted token, +25 on the
    terse answer's next digit: the model "knows" terse as a second choice), for prompts ``a+b=``.
    Runs without a KV cache so its forward sees the whole text each step."""
    tok = build_char_tokenizer()
    model = build_model("tiny", tok, seed=seed).eval()
    model.generation_config.use_cache = False
    forward = model.forward

    def scripted(*args, **kwargs):
        out = forward(*args, **kwargs)
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        logits = torch.zeros_like(out.logits)
        for row in range(ids.shape[0]):
            text = tok.decode(ids[row][mask[row].bool()].tolist())
            question, _, completion = text.partition("=")
            target = _target(question, completion, prefers)
            nxt = target[len(completion)] if target.startswith(completion) and len(completion) < len(target) else None
            logits[row, -1, tok.convert_tokens_to_ids(nxt) if nxt else tok.eos_token_id] += 50.0
            if not completion:  # the terse answer's first digit is the second choice
                first_digit = _target(question, "", "terse")[0]
                logits[row, -1, tok.convert_tokens_to_ids(first_digit)] += 25.0
        out.logits = logits
        return out

    model.forward = scripted
    return model, tok
