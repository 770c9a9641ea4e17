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
