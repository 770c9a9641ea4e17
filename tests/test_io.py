"""Atomic writes: the umask's permissions, no temp file left; JSONL readers name a bad line."""

from __future__ import annotations

import os
import stat

import pytest

from rl_lab.core.errors import InputError
from rl_lab.core.io import (
    atomic_write_json,
    atomic_write_text,
    read_json,
    read_jsonl,
    remove_stale_temp_files,
)


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "report.html", "x")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")  # what open() gives, for comparison
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = atomic_write_json(tmp_path / "status.json", {"state": "running"})

    class Boom:
        pass

    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": Boom()})
    assert read_json(path) == {"state": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_stale_temp_files_are_removed(tmp_path):
    (tmp_path / ".metrics.jsonl.abc123.tmp").write_text("half")
    (tmp_path / "metrics.jsonl").write_text("")
    removed = remove_stale_temp_files(tmp_path)
    assert [p.name for p in removed] == [".metrics.jsonl.abc123.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.jsonl"]


def test_jsonl_torn_last_line_is_ignored_a_bad_line_is_named(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": 2}\n{"step": 3, "rew')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(InputError, match=r"metrics.jsonl line 2"):
        read_jsonl(path)
    path.write_bytes(b'{"step": 1}\n\xff\xfe\n')
    with pytest.raises(InputError, match=r"line 2"):
        read_jsonl(path)
    path.write_text('{"step": 1}\n[1, 2]\n')
    with pytest.raises(InputError, match=r"line 2: expected a JSON object"):
        read_jsonl(path)


def test_read_json_names_the_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="config.json"):
        read_json(path)


def test_checkpoints_get_the_umask_mode_too(tmp_path):
    """safetensors writes 0600 files; a saved checkpoint is readable by the group like every other output."""
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    old = os.umask(0o022)
    try:
        path = save_checkpoint(build_model("tiny", tok), tok, tmp_path / "ckpt")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()}
    assert "model.safetensors" in modes and set(modes.values()) == {0o644}, modes
