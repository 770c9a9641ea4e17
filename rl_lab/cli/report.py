"""``rl-lab report RUN_OR_SWEEP [--out FILE]``: one self-contained HTML page (see rl_lab.report)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="RUN_OR_SWEEP",
                        help="a run dir (config.yaml, metrics.jsonl) or a sweep dir (sweep_summary.json)")
    parser.add_argument("--out", type=Path, default=None, help="HTML file to write (default: RUN_OR_SWEEP/report.html)")
    parser.add_argument("--title", default=None, help="page title (default: 'rl_lab report: <experiment name>')")


def run(args: argparse.Namespace) -> int:
    from rl_lab.report import build_report

    print(f"wrote {build_report(args.path, args.out, title=args.title)}")
    return 0
