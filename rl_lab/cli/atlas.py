"""``rl-lab atlas [--only STUDY...] [--analyse-only] [--page-only]``: run the claim studies, then the page (rl_lab.atlas)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from rl_lab.atlas import ATLAS_DIR, STUDIES

    parser.add_argument("--only", nargs="+", choices=[s.name for s in STUDIES], help="run only these studies")
    parser.add_argument("--out", type=Path, default=ATLAS_DIR, help="atlas root (default: runs/atlas)")
    parser.add_argument("--analyse-only", action="store_true", help="skip the sweeps; analyse the finished ones")
    parser.add_argument("--page-only", action="store_true", help="only rebuild atlas.html / atlas.json from results")
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides given to every study's sweep")


def run(args: argparse.Namespace) -> int:
    from rl_lab.atlas import STUDIES, run_atlas
    from rl_lab.report.atlas import build_atlas

    if args.page_only:
        print(build_atlas(args.out, [s.name for s in STUDIES], {s.name: s.title for s in STUDIES}))
        return 0
    run_atlas(args.only, args.out, args.analyse_only, args.overrides)
    return 0
