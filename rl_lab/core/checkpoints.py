"""What a checkpoint directory holds, checked before anything uses it: the one place every command asks.

A usable checkpoint is an HF directory with a ``config.json`` naming a causal-LM architecture
and weights in safetensors (``model.safetensors`` or shards listed by
``model.safetensors.index.json``). Weights stored only as pickles are refused: unpickling runs
arbitrary code. The checks here read headers and JSON only (cheap); ``rl_lab.core.models``
checks what loading reports (missing / unexpected keys, finite weights).

Every malformed input raises ``CheckpointError`` naming the file and the problem: never a
traceback from a parser.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from rl_lab.core.errors import CheckpointError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
# Any one of these is a tokenizer AutoTokenizer can load (fast, sentencepiece, BPE, WordPiece).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model")
INDEX_FILE = "model.safetensors.index.json"
WEIGHTS_FILE = "model.safetensors"
MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit
SAFETENSORS_DTYPES = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E5M2", "F8_E4M3",
                      "F16", "BF16", "F32", "F64", "C64", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "U1", "I4", "U4"}


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON file that must hold an object; CheckpointError naming it otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{str(path)!r}: {what} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{str(path)!r}: {what} must hold a JSON object, not a {type(data).__name__}")
    return data


def pickle_error(path: Path, names: list[str]) -> CheckpointError:
    return CheckpointError(
        f"{str(path)!r} holds only pickled weights ({', '.join(names)}); rl_lab never unpickles weights "
        "(loading a pickle runs arbitrary code). Convert them once to safetensors in a trusted environment, "
        "e.g. AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)"
    )


def safetensors_files(path: Path) -> list[Path]:
    """The weight files of checkpoint directory ``path``: the index's shards, or model.safetensors.

    Raises CheckpointError for a broken index, missing shards, pickles only, or no weights.
    """
    path = Path(path)
    index = path / INDEX_FILE
    if index.is_file():
        weight_map = read_json_object(index, INDEX_FILE).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CheckpointError(f"{str(index)!r}: 'weight_map' must map tensor names to shard file names")
        names = sorted(set(weight_map.values()))
        bad = [n for n in names if Path(n).name != n]
        if bad:
            raise CheckpointError(f"{str(index)!r}: shard names must be plain file names, got {bad[:3]}")
        missing = [n for n in names if not (path / n).is_file()]
        if missing:
            raise CheckpointError(f"checkpoint {str(path)!r}: shards listed in {INDEX_FILE} are missing: {missing}")
        return [path / n for n in names]
    if (path / WEIGHTS_FILE).is_file():
        return [path / WEIGHTS_FILE]
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise pickle_error(path, pickles)
    others = sorted(p.name for p in path.glob("*.safetensors"))
    hint = f" (it has {others}: pass one of them as a file)" if others else ""
    raise CheckpointError(f"checkpoint {str(path)!r} has no {WEIGHTS_FILE} nor {INDEX_FILE}{hint}")


def read_safetensors_header(file: Path) -> dict[str, dict[str, Any]]:
    """``{tensor name: {dtype, shape, data_offsets}}`` of a safetensors file, every entry checked.

    Refuses (CheckpointError naming the file): a file shorter than its header, a header that is
    not a JSON object, an entry without a dtype, shape or two integer offsets, offsets that
    overlap or run past the end of the file.
    """
    file = Path(file)
    size = file.stat().st_size
    with open(file, "rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise CheckpointError(f"{str(file)!r} is truncated (shorter than a safetensors header)")
        (header_len,) = struct.unpack("<Q", raw)
        if header_len > min(size - 8, MAX_HEADER_BYTES):
            raise CheckpointError(f"{str(file)!r} is truncated or not safetensors (bad header length)")
        text = handle.read(header_len)
    try:
        header = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{str(file)!r} is corrupt (its safetensors header is not valid JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{str(file)!r} is corrupt: its safetensors header is a {type(header).__name__}, "
                              "not an object of tensors")
    data_len = size - 8 - header_len
    tensors: dict[str, dict[str, Any]] = {}
    spans = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        problem = _entry_problem(entry)
        if problem:
            raise CheckpointError(f"{str(file)!r} is corrupt: tensor {name!r} {problem}")
        start, end = entry["data_offsets"]
        if end > data_len:
            raise CheckpointError(f"{str(file)!r} is truncated: the header describes {8 + header_len + end} bytes, "
                                  f"the file has {size}")
        spans.append((start, end, name))
        tensors[name] = entry
    spans.sort()
    for (_, end_a, a), (start_b, _, b) in zip(spans, spans[1:], strict=False):
        if start_b < end_a:
            raise CheckpointError(f"{str(file)!r} is corrupt: tensors {a!r} and {b!r} overlap")
    return tensors


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict):
        return "is not an object"
    offsets, shape, dtype = entry.get("data_offsets"), entry.get("shape"), entry.get("dtype")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) and o >= 0 for o in offsets)
            and offsets[0] <= offsets[1]):
        return f"has no valid data_offsets (got {offsets!r})"
    if not (isinstance(shape, list) and all(_is_int(d) and d >= 0 for d in shape)):
        return f"has no valid shape (got {shape!r})"
    if dtype not in SAFETENSORS_DTYPES:
        return f"has an unknown dtype {dtype!r}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_model_config(path: Path) -> dict[str, Any]:
    """config.json of checkpoint directory ``path``, as an object."""
    config_file = Path(path) / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} has no config.json")
    return read_json_object(config_file, "config.json")


def check_architecture(path: Path, config: dict[str, Any]) -> None:
    """config.json names a model type transformers can load as a causal LM."""
    from transformers import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    model_type = config.get("model_type")
    if not isinstance(model_type, str) or model_type not in CONFIG_MAPPING:
        raise CheckpointError(f"checkpoint {str(path)!r}: unknown model_type {model_type!r} in config.json")
    if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise CheckpointError(
            f"checkpoint {str(path)!r}: model_type {model_type!r} is not a causal language model "
            "(AutoModelForCausalLM cannot load it)"
        )


def validate_checkpoint(path: str | Path) -> Path:
    """Check that ``path`` is a loadable HF causal-LM checkpoint in safetensors; raise CheckpointError if not.

    Cheap checks only (no weights are read): config.json parses and names a causal-LM
    architecture, every safetensors file has a complete, well-formed header, no weights
    exist only as pickles, and tokenizer files are present. What the weights hold (the
    loading report, finite values) is checked when they are loaded: ``rl_lab.core.models``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if not path.is_dir():
        raise CheckpointError(f"checkpoint {str(path)!r} is not a directory (expected an HF checkpoint directory)")
    check_architecture(path, read_model_config(path))
    for shard in safetensors_files(path):
        read_safetensors_header(shard)
    check_tokenizer_files(path)
    return path


def check_tokenizer_files(path: Path) -> None:
    """A tokenizer vocabulary file is present (without one AutoTokenizer builds an empty tokenizer
    from tokenizer_config.json, and generation fails much later)."""
    if not any((Path(path) / name).is_file() for name in TOKENIZER_FILES):
        raise CheckpointError(f"checkpoint {str(path)!r} has no tokenizer files (none of {', '.join(TOKENIZER_FILES)}); "
                              "copy them from the model the weights came from (tokenizer.save_pretrained(dir))")
