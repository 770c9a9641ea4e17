"""A character-level tokenizer saved as ordinary Hugging Face tokenizer files.

One token per character keeps arithmetic digit-aligned (BPE merges digits into
irregular chunks, which hides the carry structure from a tiny model) and keeps
the vocabulary small enough that token-level KL can be summed exactly over it.
Built with the ``tokenizers`` library and wrapped in ``PreTrainedTokenizerFast``,
so TRL, vLLM and ``AutoTokenizer.from_pretrained`` take it like any other.
"""

from __future__ import annotations

import string
from pathlib import Path

# Non-ASCII names: no printable-ASCII text a model writes can spell a special token.
PAD, BOS, EOS, UNK = "⟨pad⟩", "⟨bos⟩", "⟨eos⟩", "⟨unk⟩"
SPECIAL_TOKENS = (PAD, BOS, EOS, UNK)
# Printable ASCII plus newline: every character any family or format emits.
ALPHABET = "\n" + "".join(ch for ch in string.printable if ch not in "\t\r\x0b\x0c\n")


def build_char_tokenizer(alphabet: str = ALPHABET):
    """A ``PreTrainedTokenizerFast`` with one id per character of ``alphabet``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # Isolate every character (newline included) as its own pre-token.
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=PAD, bos_token=BOS, eos_token=EOS, unk_token=UNK
    )
    tokenizer.padding_side = "left"  # generation pads on the left
    return tokenizer


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token is None:  # many hub tokenizers (Qwen, Llama) ship without one
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def tokenizer_difference(a, b) -> str | None:
    """Why two tokenizers do not map ids to the same tokens (None when they do): what proxy-tuning needs
    to add logits of different models id by id. Compares the vocabularies (added tokens included) and
    the end-of-sequence id, not file names."""
    vocab_a, vocab_b = a.get_vocab(), b.get_vocab()
    if vocab_a != vocab_b:
        by_id_a = {i: t for t, i in vocab_a.items()}
        by_id_b = {i: t for t, i in vocab_b.items()}
        ids = sorted(set(by_id_a) | set(by_id_b))
        differ = [i for i in ids if by_id_a.get(i) != by_id_b.get(i)]
        first = differ[0]
        return (f"vocabularies differ ({len(vocab_a)} vs {len(vocab_b)} tokens, {len(differ)} ids differ; first: id "
                f"{first} is {by_id_a.get(first)!r} vs {by_id_b.get(first)!r})")
    if a.eos_token_id != b.eos_token_id:
        return f"end-of-sequence ids differ ({a.eos_token_id} vs {b.eos_token_id})"
    return None
