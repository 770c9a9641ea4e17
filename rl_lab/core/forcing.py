"""Format forcing: start every answer in a chosen format, the cheapest elicitation (no weights touched).

A ``Forcing`` says how an answer is started:

- ``prefix``: text written for the model after the prompt (``"["`` for steps, ``"<answer>"`` for
  tagged, ``"\\boxed{"`` for a boxed style); the model continues from it;
- ``first_chars``: a constraint on the first generated token: its text must start with one of
  these characters (``"0123456789-"`` for a bare number). Applied after the prefix.

Both can be combined. Which forcing starts which format is declared next to the formats
(``rl_lab.environments`` taxonomies); this module only knows how to apply one. Completions come
back *with* the prefix (``"[7+5=12] 12"``, not ``"7+5=12] 12"``), so verifiers and format
classifiers see the whole answer.

The first-token constraint is transformers' own ``begin_suppress_tokens`` (its
``SuppressTokensAtBeginLogitsProcessor`` masks a token set at exactly the first generated step):
we pass every token whose text does *not* start with an allowed character. transformers'
``prefix_allowed_tokens_fn`` would do the same but calls Python per row and step.

The prefix is appended to the prompt *text* and tokenized with it: for a character tokenizer
that is exact; for BPE tokenizers the boundary may tokenize differently from what the model
would have produced itself (no token healing). For tokenizers that mark word starts inside the
token (SentencePiece ``▁``), a token's text is read as ``decode([id])``, which drops that space.
"""

from __future__ import annotations

from dataclasses import dataclass

from rl_lab.core.errors import ConfigError


@dataclass(frozen=True)
class Forcing:
    """How an answer is started: a forced ``prefix`` and/or allowed ``first_chars`` of the next token."""

    prefix: str = ""
    first_chars: str = ""

    def describe(self) -> str:
        parts = []
        if self.prefix:
            parts.append(f"prefix {self.prefix!r}")
        if self.first_chars:
            parts.append(f"first token starts with one of {self.first_chars!r}")
        return ", ".join(parts) or "none"


def forced_prompts(prompts: list[str], forcing: Forcing | None) -> list[str]:
    """The prompts with the forced prefix appended (what the model conditions on)."""
    if forcing is None or not forcing.prefix:
        return list(prompts)
    return [p + forcing.prefix for p in prompts]


def with_prefix(completion: str, forcing: Forcing | None) -> str:
    """A completion as the answer reads: the forced prefix, then what the model wrote."""
    return completion if forcing is None else forcing.prefix + completion


def check_prefix_encodes(tokenizer, forcing: Forcing) -> None:
    """The prefix must survive tokenization: no unknown token, decodes back to itself."""
    if not forcing.prefix:
        return
    ids = tokenizer(forcing.prefix, add_special_tokens=False)["input_ids"]
    unk = tokenizer.unk_token_id
    if not ids or (unk is not None and unk in ids) or tokenizer.decode(ids) != forcing.prefix:
        raise ConfigError(
            f"forcing prefix {forcing.prefix!r}: the tokenizer cannot write it (it encodes to {ids}, which decodes "
            f"to {tokenizer.decode(ids)!r}); use a prefix made of characters the tokenizer knows"
        )


def suppressed_first_tokens(tokenizer, first_chars: str, logits_width: int) -> list[int]:
    """Ids (of ``logits_width``) the first generated token may NOT be: special tokens, ids past the
    tokenizer, and every token whose text does not start with one of ``first_chars``."""
    if not first_chars:
        return []
    size = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(size)], skip_special_tokens=False)
    special = set(tokenizer.all_special_ids)
    allowed = {i for i, text in enumerate(texts) if i not in special and text[:1] != "" and text[0] in first_chars}
    if not allowed:
        raise ConfigError(f"forcing first_chars {first_chars!r}: no token of the tokenizer starts with one of them")
    return [i for i in range(logits_width) if i not in allowed]
