"""The ``rl-lab`` command: the top layer. It parses arguments, builds typed settings, calls one
library function, and maps errors to exit codes in one place.

Each command lives in a module of this package exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported when their command is chosen, so ``rl-lab --help``
stays fast (no torch import). Every ``RlLabError`` is caught here once: bad input of any kind
(config field, checkpoint, run dir, file) exits 2, a failure of the work itself exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

# command path -> (module, add_arguments name, run name, help)
COMMANDS: dict[tuple[str, ...], tuple[str, str, str, str]] = {
    ("pretrain",): ("rl_lab.cli.pretrain", "add_arguments", "run", "pretrain a base model on a controlled format mixture"),
    ("data", "build"): ("rl_lab.cli.data", "add_arguments", "run", "generate a config's problem sets and save them"),
    ("eval",): ("rl_lab.cli.evaluate", "add_arguments", "run", "accuracy per family x difficulty and format shares"),
    ("eval", "passk"): ("rl_lab.cli.passk", "add_arguments", "run", "pass@k curves of several models"),
    ("train",): ("rl_lab.cli.train", "add_arguments", "run", "GRPO/RLVR (or SFT, LoRA) training on TRL with a difficulty curriculum"),
    ("sweep",): ("rl_lab.cli.sweep", "add_arguments", "run", "a Ray Tune sweep over seeds x curricula x any key"),
    ("analyze", "updates"): ("rl_lab.cli.updates", "add_arguments", "run", "parameter-update sparsity, rank, seed overlap"),
    ("analyze", "formats"): ("rl_lab.cli.analyze", "add_arguments_formats", "run_formats", "format-collapse curves"),
    ("analyze", "forcing"): (
        "rl_lab.cli.analyze", "add_arguments_forcing", "run_forcing",
        "share of RL's gain that forcing a format in the base recovers",
    ),
    ("analyze", "steering"): (
        "rl_lab.cli.analyze", "add_arguments_steering", "run_steering",
        "accuracy and formats of the base steered by an activation vector",
    ),
    ("analyze", "proxy"): (
        "rl_lab.cli.analyze", "add_arguments_proxy", "run_proxy",
        "share of RL's gain that proxy-tuning another base with the run's change recovers",
    ),
    ("steer", "vector"): (
        "rl_lab.cli.steer", "add_arguments", "run", "a steering vector from the base's own activations (safetensors)",
    ),
    ("analyze", "contamination"): (
        "rl_lab.cli.analyze", "add_arguments_contamination", "run_contamination", "prior-skill change and shortcuts",
    ),
    ("analyze", "drift"): ("rl_lab.cli.analyze", "add_arguments_drift", "run_drift", "KL drift from the base model"),
    ("atlas",): ("rl_lab.cli.atlas", "add_arguments", "run", "run the claim studies of configs/studies and write the atlas page"),
    ("report",): ("rl_lab.cli.report", "add_arguments", "run", "one self-contained HTML report of a run or sweep"),
    ("model", "import"): ("rl_lab.cli.model", "add_arguments", "run", "a GGUF file as a safetensors HF checkpoint"),
}


def _match(argv: Sequence[str]) -> tuple[tuple[str, ...], list[str]] | None:
    """The longest command path that prefixes argv (``eval passk`` beats ``eval``)."""
    for length in (2, 1):
        path = tuple(argv[:length])
        if path in COMMANDS:
            return path, list(argv[length:])
    return None


def _usage() -> str:
    width = max(len(" ".join(p)) for p in COMMANDS)
    rows = "\n".join(f"  {' '.join(p):<{width}}  {spec[3]}" for p, spec in COMMANDS.items())
    return f"usage: rl-lab COMMAND [...]\n\ncommands:\n{rows}\n\nrl-lab COMMAND --help for a command's options"


def main(argv: Sequence[str] | None = None) -> int:
    from rl_lab.core.errors import RlLabError

    argv = list(sys.argv[1:] if argv is None else argv)
    found = _match(argv)
    if found is None:
        print(_usage(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if not argv or argv[0] in ("-h", "--help") else 2
    path, rest = found
    module_name, add_name, run_name, help_text = COMMANDS[path]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog="rl-lab " + " ".join(path), description=help_text)
    getattr(module, add_name)(parser)
    # intermixed: flags may sit between CONFIG and the overrides (rl-lab sweep CONFIG --resume k=v)
    args = parser.parse_intermixed_args(join_negative_lists(rest))
    try:
        return int(getattr(module, run_name)(args) or 0)
    except RlLabError as exc:
        print(f"error: {bounded(str(exc))}", file=sys.stderr)
        return exc.exit_code


_NEGATIVE_LIST = re.compile(r"^-\d*\.?\d+(,\s*-?\d*\.?\d+)+,?$")


def join_negative_lists(argv: list[str]) -> list[str]:
    """``--strengths -2,-1,0`` as ``--strengths=-2,-1,0``: argparse reads an argument starting with
    ``-`` as an option unless it is one plain negative number, so a comma list of numbers led by a
    negative one would be refused ("expected one argument"). Only such lists after a ``--flag`` are
    joined; argparse rejects every one of these inputs otherwise, so no valid parse changes."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and _NEGATIVE_LIST.match(arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def bounded(message: str, max_lines: int = 25, max_chars: int = 4000) -> str:
    """An error message cut to a screenful: one bad value repeated 20,000 times is one line's worth of news."""
    lines = message.splitlines()
    text = "\n".join(lines[:max_lines])
    if len(text) > max_chars:
        text = text[:max_chars] + "..."
    if len(lines) > max_lines:
        text += f"\n  ... and {len(lines) - max_lines} more lines"
    return text


if __name__ == "__main__":
    sys.exit(main())
