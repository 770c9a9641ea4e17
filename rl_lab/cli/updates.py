"""``rl-lab analyze updates --base BASE --tuned T ...``: update sparsity, rank and seed overlap of
base -> tuned checkpoints (see rl_lab.analysis.updates_run; keys in docs/updates.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rl_lab.cli.numbers import nonnegative_int, positive_float, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, metavar="BASE",
                        help="base checkpoint: HF directory, .safetensors file, or run directory (its step_0)")
    parser.add_argument("--tuned", required=True, nargs="+", metavar="T",
                        help="tuned checkpoints (seeds); a run directory expands to each of its step_<N>, N > 0")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON result file (default: RUN/analysis/updates.json when an input is in a run directory)")
    parser.add_argument("--tol", type=positive_float, default=None,
                        help="the 'tol' criterion: updated if |delta| > tol (float32); default: analysis.updates_tol "
                        "of the inputs' run dir, else the schema's")
    parser.add_argument("--rank", action="store_true", help="also the numerical rank of every 2-D non-norm delta (SVD)")
    parser.add_argument("--device", default=None, help="cpu (default) or cuda[:i]: where chunks and SVDs are computed")
    parser.add_argument("--plots", type=Path, default=None,
                        help="write PNG plots here (default: RUN/plots when the JSON goes to a run directory)")
    parser.add_argument("--strict", action="store_true",
                        help="dtype mismatches and tensors missing from an input are errors (default: compare in "
                        "float32 / skip, and report)")
    parser.add_argument("--skip-mismatched", action="store_true",
                        help="skip tensors whose shapes differ (listed in 'skipped') instead of refusing")
    parser.add_argument("--chunk-elements", type=positive_int, default=None,
                        help="elements per streamed row chunk, default 8M (work memory ~ 16 bytes x this per bf16 "
                        "tuned input)")
    parser.add_argument("--threads", type=nonnegative_int, default=None,
                        help="torch CPU threads for the streamed comparison (default 1: its passes are memory-bound "
                        "and multi-threaded ops stall on a busy machine; 0: torch's default). SVDs use torch's default")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from rl_lab.analysis.settings import run_section, updates_settings
    from rl_lab.analysis.updates_run import default_run_dir, run_updates
    from rl_lab.core.config import AnalysisConfig

    run_dir = default_run_dir(args.base, args.tuned)
    analysis = run_section(run_dir, "analysis", AnalysisConfig) if run_dir is not None else AnalysisConfig()
    settings = updates_settings(
        analysis, tol=args.tol, rank=args.rank, device=args.device, strict=args.strict,
        skip_mismatched=args.skip_mismatched, chunk_elements=args.chunk_elements, threads=args.threads,
    )
    out = run_updates(args.base, args.tuned, settings, args.out, args.plots, progress=not args.no_progress, run=run_dir)
    print_tables(out.result)
    print(f"wrote {out.json_path}" if out.json_path else "(no --out given: result not saved)")
    for path in out.plots:
        print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------- tables
def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _num(x: float | None, fmt: str = ".2f") -> str:
    return "-" if x is None else format(x, fmt)


def print_tables(result: dict[str, Any], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    t = Table(title=f"update sparsity vs {result['inputs']['base']['label']}")
    for col in ("tuned", "params", "compared in", "exact", f"|d|>{result['settings']['tol']:g}",
                "bf16", "paper (not close)", "paper layer mean", "rank share"):
        t.add_column(col, justify="right" if col != "tuned" else "left")
    for e in result["tuned"]:
        t.add_row(
            e["label"], f"{e['parameters']:,}", ", ".join(e["compared_in"]),
            _pct(e["share"]["exact"]), _pct(e["share"]["tol"]), _pct(e["share"]["bf16"]),
            _pct(e["share"]["paper"]), _pct(e["paper"]["mean_over_layers"]["paper"]),
            _pct(e["rank"]["mean_share"]) if e["rank"] else "-",
        )
    console.print(t)

    modules = list(dict.fromkeys(m for e in result["tuned"] for m in e["by_module"]))
    mt = Table(title="share updated per module type: exact / beyond tol")
    mt.add_column("module")
    for e in result["tuned"]:
        mt.add_column(e["label"], justify="right")
    for m in modules:
        cells = []
        for e in result["tuned"]:
            block = e["by_module"].get(m)
            cells.append(f"{_pct(block['share']['exact'])} / {_pct(block['share']['tol'])}" if block else "-")
        mt.add_row(m, *cells)
    console.print(mt)

    if result["pairs"]:
        pt = Table(title="seed overlap of updated sets (exact criterion): observed (chance, ratio)")
        for col in ("a", "b", "IoU", "o1 = |I1∩I2|/|I1|", "o2 = |I1∩I2|/|I2|", "cosine"):
            pt.add_column(col)
        for p in result["pairs"]:
            s = p["criteria"]["exact"]
            pt.add_row(
                p["a"], p["b"],
                f"{_pct(s['iou'])} ({_pct(s['iou_chance'])}, {_num(s['iou_ratio'])}x)",
                f"{_pct(s['o1'])} ({_pct(s['o1_chance'])}, {_num(s['o1_ratio'])}x)",
                f"{_pct(s['o2'])} ({_pct(s['o2_chance'])}, {_num(s['o2_ratio'])}x)",
                _num(p["cosine"], ".3f"),
            )
        console.print(pt)
    for key in ("tied", "skipped", "dtype_mismatches"):
        for item in result[key]:
            console.print(f"[dim]{key}:[/dim] {item['name']}: " + ", ".join(
                f"{k}={v}" for k, v in item.items() if k != "name"), markup=True, highlight=False)
