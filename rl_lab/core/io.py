"""Atomic file writes and small readers for the run-directory contract.

Every file in a run directory is written to a temporary file in the same
directory and renamed into place, so a reader (or a resumed run) never sees
half a file, even after SIGKILL. Written files get the mode the umask gives
(0644 under umask 022), as ``open()`` would: ``mkstemp`` alone makes them 0600,
which hides reports and metrics from colleagues on shared cluster storage.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from rl_lab.core.errors import InputError

TMP_SUFFIX = ".tmp"  # temp files of atomic writes: .<name>.<random>.tmp beside the target


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask both sets and gets)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask



def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TMP_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def apply_umask_mode(folder: str | os.PathLike[str]) -> None:
    """Give every file under ``folder`` the mode the umask gives (libraries such as safetensors
    write 0600 files; checkpoints on shared storage must be readable by colleagues)."""
    mode = 0o666 & ~_umask()
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, mode)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def atomic_write_yaml(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, yaml.safe_dump(obj, sort_keys=False))


def atomic_write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(row, default=_json_default) + "\n" for row in rows)
    return atomic_write_text(path, text)


def append_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    """Append whole lines with one write each; ``read_jsonl`` drops a torn last line."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, default=_json_default) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    return list(iter_jsonl(path))


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file; a torn last line (a crash mid-append) is skipped.

    Any other unreadable line raises ``InputError`` naming the file and the line number.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # a line torn by a crash mid-append
            try:
                line = raw.decode("utf-8").strip()
                row = json.loads(line) if line else None
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InputError(f"could not read {os.fspath(path)} line {number}: {exc}") from None
            if row is None:
                continue
            if not isinstance(row, dict):
                raise InputError(f"could not read {os.fspath(path)} line {number}: expected a JSON object, "
                                 f"got {type(row).__name__}")
            yield row


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file; undecodable or invalid content raises ``InputError`` naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"could not read {os.fspath(path)}: not valid JSON ({exc})") from None


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temp files that interrupted atomic writes left in ``folder`` (not recursive); return them."""
    folder = Path(folder)
    removed = []
    if folder.is_dir():
        for p in folder.glob(f".*{TMP_SUFFIX}"):
            if p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
