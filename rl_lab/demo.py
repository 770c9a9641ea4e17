"""``make demo``: the quickstart study end to end, on 2 CPU cores, in minutes.

pretrain the base model on a known format mixture -> Ray sweep of seeds x curricula
(matched difficulty vs hard-only) -> every analysis -> one HTML report.
Each stage is the same ``rl-lab`` command a researcher would type; this file only
chains them and times them.  A stage whose output already exists is reused unless
``--fresh`` is given, so an interrupted demo continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rl_lab.cli import main as rl_lab

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def _stage(title: str, argv: list[str], timings: dict[str, float]) -> None:
    print(f"\n=== {title}\n$ rl-lab {' '.join(argv)}", flush=True)
    start = time.time()
    code = rl_lab(argv)
    timings[title] = time.time() - start
    if code != 0:
        raise SystemExit(f"demo stopped: stage '{title}' exited with status {code}")


def _trial_checkpoints(sweep: Path) -> tuple[Path, list[Path]]:
    """The base checkpoint (step_0 of the first trial) and each finished trial's last checkpoint."""
    from rl_lab.core.rundir import resolve

    finals, base = [], None
    for run in resolve(sweep).runs:
        steps = list(run.checkpoints().values())
        if run.summary_status != "done" or len(steps) < 2:
            continue
        base = base or steps[0]
        finals.append(steps[-1])
    if base is None:
        raise SystemExit(f"demo stopped: no finished trial with checkpoints in {sweep}")
    return base, finals


def run_demo(config: Path, overrides: list[str], fresh: bool) -> Path:
    import shutil

    from rl_lab.config import load_config

    cfg = load_config(config, overrides)  # fail on a bad config before anything runs
    if fresh and cfg.root.exists():
        shutil.rmtree(cfg.root)
    timings: dict[str, float] = {}
    common = [str(config), *overrides]
    sweep = cfg.sweep_dir
    if (cfg.base_dir / "model").exists():
        from rl_lab.core.errors import InputError
        from rl_lab.pretrain import pretraining_differences

        stale = pretraining_differences(cfg, cfg.base_dir)
        if stale:  # reusing it would report numbers of another base model
            raise InputError(f"{cfg.base_dir} was pretrained with a different config ({', '.join(stale[:6])} "
                             "differ); run the demo with --fresh")
    else:
        _stage("pretrain the base model", ["pretrain", *common], timings)
    _stage("Ray sweep: seeds x curricula", ["sweep", *common, *(["--resume"] if sweep.exists() else [])], timings)
    _stage("format collapse", ["analyze", "formats", str(sweep)], timings)
    _stage("prior-skill contamination and shortcuts", ["analyze", "contamination", str(sweep)], timings)
    _stage("drift from the base", ["analyze", "drift", str(sweep)], timings)
    base, finals = _trial_checkpoints(sweep)
    _stage("pass@k, base vs tuned",
           ["eval", "passk", "--config", str(config), "--model", f"base={base}",
            *[a for final in finals for a in ("--model", str(final))], "--out", str(sweep)], timings)
    _stage("parameter updates and seed overlap",
           ["analyze", "updates", "--base", str(base), "--tuned", *map(str, finals),
            "--out", str(sweep / "analysis" / "updates.json"), "--plots", str(sweep / "plots")], timings)
    _stage("report", ["report", str(sweep)], timings)
    total = sum(timings.values())
    print("\n=== timings")
    for title, seconds in timings.items():
        print(f"  {seconds:7.1f} s  {title}")
    print(f"  {total:7.1f} s  total")
    report = sweep / "report.html"
    print(f"\nreport: {report.resolve()}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rl_lab.demo", description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides of configs/quickstart.yaml")
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--fresh", action="store_true", help="delete earlier demo outputs first")
    args = parser.parse_args(argv)
    from rl_lab.core.errors import RlLabError

    try:
        run_demo(args.config, args.overrides, args.fresh)
    except RlLabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
