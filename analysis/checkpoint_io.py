"""Resolve checkpoint inputs and stream their tensors from safetensors, never from pickles.

An input is one of:

* an HF checkpoint directory: ``model.safetensors``, or shards listed by
  ``model.safetensors.index.json`` (its ``weight_map``);
* a single ``.safetensors`` file (a ``config.json`` beside it is read for tying);
* an rl_lab run directory (it has ``checkpoints/step_<N>/``): as ``--base`` it means
  its ``step_0``; as ``--tuned`` it expands to every ``step_<N>`` with N > 0, in step
  order. ``RUN/checkpoints/step_<N>`` names one step explicitly.

Directories holding only ``pytorch_model.bin`` / ``*.pt`` / ``*.pth`` / ``*.ckpt`` are
refused: unpickling weights runs arbitrary code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_lab.core.checkpoints import PICKLE_SUFFIXES, pickle_error, read_json_object, safetensors_files
from rl_lab.core.errors import CheckpointError
from rl_lab.core.rundir import RunDir, checkpoint_step_dir

# Input embeddings whose transpose-free copy is the LM head when tie_word_embeddings is set.
EMBED_SUFFIXES = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "embed_in.weight")
LM_HEAD_NAMES = ("lm_head.weight", "embed_out.weight")


@dataclass(frozen=True)
class TensorInfo:
    file: Path
    key: str  # the name stored in the file (differs from the logical name for a tied alias)
    dtype: str  # safetensors dtype string: "BF16", "F32", ...
    shape: tuple[int, ...]
    order: int  # position by data offset in its file: reading in this order is sequential

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass
class Checkpoint:
    """One resolved input: logical tensor name -> where its bytes are."""

    label: str
    path: Path
    kind: str  # "hf_dir" | "file" | "run_step"
    tensors: dict[str, TensorInfo]
    files: list[Path]
    tie_word_embeddings: bool | None  # None: no config.json to say
    aliases: dict[str, str] = field(default_factory=dict)  # tied name -> stored name it reads

    def describe(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "path": str(self.path),
            "kind": self.kind,
            "files": [str(f) for f in self.files],
            "tensors": len(self.tensors),
            "tie_word_embeddings": self.tie_word_embeddings,
            "tied_aliases": dict(self.aliases),
        }


# --------------------------------------------------------------------------- resolution
def is_run_dir(path: Path) -> bool:
    """A run directory with at least one checkpoints/step_<N>."""
    return Path(path).is_dir() and bool(RunDir(path).checkpoints())


def resolve_base(path: str | Path) -> Checkpoint:
    path = Path(path)
    if is_run_dir(path):
        steps = RunDir(path).checkpoints()
        if 0 not in steps:
            raise CheckpointError(
                f"run directory {str(path)!r} has no checkpoints/step_0 to use as the base "
                f"(steps: {sorted(steps)}); pass --base RUN/checkpoints/step_<N> or the base model directory"
            )
        return open_checkpoint(steps[0], label=f"{path.name}/step_0", kind="run_step")
    return open_checkpoint(path)


def resolve_tuned(paths: list[str | Path]) -> list[Checkpoint]:
    out: list[Checkpoint] = []
    for raw in paths:
        path = Path(raw)
        if is_run_dir(path):
            steps = {n: p for n, p in RunDir(path).checkpoints().items() if n > 0}
            if not steps:
                raise CheckpointError(
                    f"run directory {str(path)!r} has no checkpoint after step_0 to compare; "
                    "train it further or pass a checkpoint directory"
                )
            out += [open_checkpoint(p, label=f"{path.name}/step_{n}", kind="run_step") for n, p in steps.items()]
        else:
            out.append(open_checkpoint(path))
    return _unique_labels(out)


def _unique_labels(ckpts: list[Checkpoint]) -> list[Checkpoint]:
    seen: dict[str, int] = {}
    for c in ckpts:
        if c.label in seen:
            seen[c.label] += 1
            c.label = f"{c.label}#{seen[c.label]}"
        else:
            seen[c.label] = 1
    return ckpts


def open_checkpoint(path: str | Path, label: str | None = None, kind: str | None = None) -> Checkpoint:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {str(path)!r} does not exist")
    if path.is_file():
        if path.suffix in PICKLE_SUFFIXES:
            raise pickle_error(path, [path.name])
        if path.suffix != ".safetensors":
            raise CheckpointError(f"{str(path)!r} is not a .safetensors file nor a checkpoint directory")
        files, config_dir = [path], path.parent
        kind = kind or "file"
        label = label or (_dir_label(path.parent) if path.name == "model.safetensors" else path.stem)
    else:
        files, config_dir = safetensors_files(path), path
        kind = kind or ("run_step" if checkpoint_step_dir(path) else "hf_dir")
        label = label or _dir_label(path)
    tie = _tie_word_embeddings(config_dir / "config.json")
    tensors: dict[str, TensorInfo] = {}
    for file in files:
        for name, info in read_header(file).items():
            if name in tensors:
                raise CheckpointError(f"checkpoint {str(path)!r}: tensor {name!r} is stored in two files")
            tensors[name] = info
    ckpt = Checkpoint(label=label, path=path, kind=kind, tensors=tensors, files=files, tie_word_embeddings=tie)
    _add_tied_alias(ckpt)
    return ckpt


def _dir_label(path: Path) -> str:
    """``RUN/checkpoints/step_N`` reads as ``RUN/step_N`` (seeds' steps share a directory name)."""
    path = path.resolve()
    if checkpoint_step_dir(path):
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def _tie_word_embeddings(config_file: Path) -> bool | None:
    if not config_file.is_file():
        return None
    config = read_json_object(config_file, "config.json")
    if "tie_word_embeddings" in config:
        return bool(config["tie_word_embeddings"])
    text = config.get("text_config")
    if isinstance(text, dict) and "tie_word_embeddings" in text:
        return bool(text["tie_word_embeddings"])
    return True  # transformers' PretrainedConfig default


def _add_tied_alias(ckpt: Checkpoint) -> None:
    """A tied LM head is stored once (safetensors cannot hold shared storage): alias it to the embedding."""
    if not ckpt.tie_word_embeddings:
        return
    embed = next((n for n in ckpt.tensors if n.endswith(EMBED_SUFFIXES)), None)
    if embed is None:
        return
    for head in LM_HEAD_NAMES:
        if head in ckpt.tensors:
            # Both stored although tied: transformers loads the embedding into both, so does rl_lab.
            ckpt.aliases[head] = embed
            ckpt.tensors[head] = ckpt.tensors[embed]
            return
    ckpt.aliases[LM_HEAD_NAMES[0]] = embed
    ckpt.tensors[LM_HEAD_NAMES[0]] = ckpt.tensors[embed]


def read_header(file: Path) -> dict[str, TensorInfo]:
    """Names, dtypes and shapes from the safetensors header (no tensor bytes are read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            out = {}
            # offset_keys (storage order) is recent; older safetensors list names sorted
            names = handle.offset_keys() if hasattr(handle, "offset_keys") else handle.keys()
            for order, name in enumerate(names):
                view = handle.get_slice(name)
                out[name] = TensorInfo(file, name, view.get_dtype(), tuple(view.get_shape()), order)
    except SafetensorError as exc:
        raise CheckpointError(f"{str(file)!r} is not a readable safetensors file ({exc}); is it truncated or corrupt?") from None
    return out


class TensorReader:
    """Reads tensors, or row ranges of them, through ``safe_open``.

    safetensors (mmap backend) hands out views of the mapped file; pages a process has
    touched count in its RSS for as long as the mapping lives. Opening the file for each
    read and dropping the view after use unmaps it, so RSS holds only the chunks being
    compared, whatever the model size. Reopening costs one header parse (~0.1 ms).
    """

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def read(self, info: TensorInfo, start: int | None = None, stop: int | None = None):
        """The tensor, or rows ``start:stop`` along dim 0 of it (a view of the file: copy what you keep)."""
        from safetensors import safe_open

        with safe_open(str(info.file), framework="pt") as handle:
            if start is None or not info.shape:
                return handle.get_tensor(info.key)
            return handle.get_slice(info.key)[start:stop]


def row_chunks(shape: tuple[int, ...], chunk_elements: int) -> Iterator[tuple[int, int] | None]:
    """Row ranges along dim 0 of about ``chunk_elements`` elements each (None: read whole)."""
    if len(shape) == 0:
        yield None
        return
    row = 1
    for s in shape[1:]:
        row *= s
    step = max(1, chunk_elements // max(row, 1))
    for start in range(0, shape[0], step):
        yield start, min(shape[0], start + step)
