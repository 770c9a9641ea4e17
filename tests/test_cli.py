"""CLI routing and the generated config reference."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from rl_lab.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) for p in COMMANDS])
def test_every_command_routes_to_real_functions(path):
    module_name, add_name, run_name, _ = COMMANDS[path]
    module = importlib.import_module(module_name)
    assert callable(getattr(module, add_name))
    assert callable(getattr(module, run_name))


@pytest.mark.parametrize("path", list(COMMANDS), ids=[" ".join(p) for p in COMMANDS])
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as info:
        main([*path, "--help"])
    assert info.value.code == 0
    assert "usage: rl-lab " + " ".join(path) in capsys.readouterr().out


def test_unknown_command_exits_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "commands:" in capsys.readouterr().err


def test_help_does_not_import_torch():
    code = "import sys; from rl_lab.cli import main; main(['--help']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().endswith("False")


def test_config_reference_is_current():
    from rl_lab.core.config_doc import render

    assert (ROOT / "docs" / "config.md").read_text() == render(), "run: python -m rl_lab.core.config_doc > docs/config.md"
