"""The package's layers import only downwards, and one namespace is all that gets installed.

Layers, bottom to top (README "The pieces"):
  0 core: contracts everyone shares       1 environments
  2 pretrain / train / sweep / config     3 analysis
  4 report                                5 cli (with the atlas), demo
Every ``import`` of an rl_lab module, at module level or inside a function, is an edge; an edge
from a module to a higher layer fails the test with the file and line.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folder of each subpackage (pyproject's [tool.setuptools.package-dir]).
SOURCES = {"rl_lab": ROOT / "rl_lab", "rl_lab.environments": ROOT / "environments", "rl_lab.analysis": ROOT / "analysis"}
# Longest matching prefix decides a module's layer.
LAYERS = {
    "rl_lab.core": 0,
    "rl_lab.environments": 1,
    "rl_lab": 2,  # config, corpus, pretrain, evaluate, problem_data, train, sweep, ...
    "rl_lab.analysis": 3,
    "rl_lab.report": 4,
    "rl_lab.cli": 5,
    "rl_lab.demo": 5,
}


def layer_of(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def modules() -> dict[str, Path]:
    out = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            name = ".".join([package, *parts])
            # a file under rl_lab/ that belongs to a mapped subpackage is not ours to count twice
            if package == "rl_lab" and any(name.startswith(p + ".") or name == p for p in SOURCES if p != "rl_lab"):
                continue
            out[name] = path
    return out


def imported(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every rl_lab import in ``tree`` (relative imports resolved)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            out.append((base, node.lineno))
            # `from rl_lab import report` imports the subpackage rl_lab.report
            out += [(f"{base}.{alias.name}", node.lineno) for alias in node.names
                    if f"{base}.{alias.name}" in ALL_MODULES]
    return [(name, line) for name, line in out if name == "rl_lab" or name.startswith("rl_lab.")]


ALL_MODULES = modules()


def test_every_module_is_assigned_a_layer():
    assert len(ALL_MODULES) > 40
    for name in ALL_MODULES:
        assert layer_of(name) in range(6), name


def test_imports_only_point_downwards():
    upward = []
    for name, path in sorted(ALL_MODULES.items()):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = layer_of(name)
        for target, line in imported(tree, name, path.name == "__init__.py"):
            if target == "rl_lab":
                continue  # the package's own __init__ (version, docstring) is importable from anywhere
            if layer_of(target) > here:
                upward.append(f"{path.relative_to(ROOT)}:{line}: {name} (layer {here}) imports {target} "
                              f"(layer {layer_of(target)})")
    assert not upward, "imports that point upwards:\n" + "\n".join(upward)


def test_layer_rule_catches_an_upward_import():
    """The checker itself: a core module importing the report is flagged."""
    tree = ast.parse("def f():\n    from rl_lab.report import build_report\n")
    (target, line), = imported(tree, "rl_lab.core.io", False)
    assert layer_of(target) > layer_of("rl_lab.core.io") and line == 2


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of this checkout (setuptools writes build/ beside the sources)
    and pip-installed into a plain target folder."""
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "runs", "build", "*.egg-info", ".make",
                                                              "__pycache__", ".*_cache", "bench"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out / "dist"), str(src)],
                   check=True, capture_output=True, text=True)
    (whl,) = (out / "dist").glob("rl_lab-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(out / "site"), str(whl)],
                   check=True, capture_output=True, text=True)
    return whl


def test_wheel_installs_one_namespace(wheel: Path):
    with zipfile.ZipFile(wheel) as zf:
        tops = {n.split("/")[0] for n in zf.namelist()}
        names = set(zf.namelist())
    assert {t for t in tops if not t.endswith(".dist-info")} == {"rl_lab"}
    assert "rl_lab/environments/addition.py" in names and "rl_lab/analysis/passk.py" in names
    site = wheel.parent.parent / "site"
    code = (
        "import importlib.util, rl_lab.environments.formats, rl_lab.analysis.passk\n"
        f"assert rl_lab.environments.formats.__file__.startswith({str(site)!r}), rl_lab.environments.formats.__file__\n"
        f"assert rl_lab.analysis.passk.__file__.startswith({str(site)!r})\n"
        "print(importlib.util.find_spec('analysis'), importlib.util.find_spec('environments'))\n"
    )
    # a directory outside the checkout, with the installed wheel first on the path
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run([sys.executable, "-c", code], cwd=wheel.parent, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "None None", done.stdout


def test_wheel_ships_the_report_template_and_sections(wheel: Path):
    """The report renders from package data: a wheel without the template could not write a page."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {"rl_lab/report/templates/report.html.j2", "rl_lab/report/templates/report.css",
            "rl_lab/report/sections/training.py"} <= names


def test_wheel_ships_every_module_of_the_checkout(wheel: Path):
    """The package list in pyproject.toml is explicit (see the comment there): a subpackage left out
    of it installs nothing, and only a wheel user would see the ImportError."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    roots = {"rl_lab": ROOT / "rl_lab", "rl_lab/environments": ROOT / "environments",
             "rl_lab/analysis": ROOT / "analysis"}
    expected = {f"{prefix}/{path.relative_to(folder).as_posix()}"
                for prefix, folder in roots.items() for path in folder.rglob("*.py")
                if "__pycache__" not in path.parts}
    assert expected - names == set()
