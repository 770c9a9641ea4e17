"""``make demo``: the quickstart study end to end, on 2 CPU cores, in minutes (any study config too).

pretrain the base model on a known format mixture (or evaluate the real checkpoint of
``model.path``) -> a Ray sweep of seeds x curricula (or one ``rl-lab train`` run when the config
has no sweep grid) -> every analysis -> one HTML report. Each stage is the same ``rl-lab`` command
a researcher would type; this file only chains them and times them. A stage whose output already
exists is reused unless ``--fresh`` is given, so an interrupted demo continues where it stopped.

    python -m rl_lab.demo                                   # configs/quickstart.yaml
    python -m rl_lab.demo --config configs/real_smollm2.yaml  # SmolLM2 (make real)
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


def _real_base(cfg, common: list[str], timings: dict[str, float]) -> None:
    """A real checkpoint is not pretrained here: it must exist (``make real`` imports SmolLM2 first);
    its base table is ``rl-lab eval`` into <output_dir>/base."""
    from rl_lab.core.checkpoints import validate_checkpoint

    validate_checkpoint(cfg.model.path)  # CheckpointError (exit 2) naming the path
    if not (cfg.base_dir / "eval.json").is_file():
        _stage("evaluate the real base model", ["eval", *common, "--model", cfg.model.path,
                                                "--out", str(cfg.base_dir)], timings)


def _trial_checkpoints(root: Path) -> tuple[Path, list[Path]]:
    """The base checkpoint (step_0 of the first run) and each finished run's last checkpoint."""
    from rl_lab.core.rundir import resolve

    finals, base = [], None
    for run in resolve(root).runs:
        steps = list(run.checkpoints().values())
        if (run.summary_status or run.state()) != "done" or len(steps) < 2:
            continue
        base = base or steps[0]
        finals.append(steps[-1])
    if base is None:
        raise SystemExit(f"demo stopped: no finished run with checkpoints in {root}")
    return base, finals


def run_demo(config: Path, overrides: list[str], fresh: bool) -> Path:
    import shutil

    from rl_lab.config import load_config

    cfg = load_config(config, overrides)  # fail on a bad config before anything runs
    if fresh and cfg.root.exists():
        shutil.rmtree(cfg.root)
    timings: dict[str, float] = {}
    common = [str(config), *overrides]
    if cfg.model.path:
        _real_base(cfg, common, timings)
    elif (cfg.base_dir / "model").exists():
        from rl_lab.core.errors import InputError
        from rl_lab.pretrain import pretraining_differences

        stale = pretraining_differences(cfg, cfg.base_dir)
        if stale:  # reusing it would report numbers of another base model
            raise InputError(f"{cfg.base_dir} was pretrained with a different config ({', '.join(stale[:6])} "
                             "differ); run the demo with --fresh")
    else:
        _stage("pretrain the base model", ["pretrain", *common], timings)
    if cfg.sweep.grid:
        root = cfg.sweep_dir
        _stage("Ray sweep: seeds x curricula", ["sweep", *common, *(["--resume"] if root.exists() else [])], timings)
    else:
        root = cfg.train_dir
        _stage("GRPO training", ["train", *common, *(["--resume"] if root.exists() else [])], timings)
    _stage("format collapse", ["analyze", "formats", str(root)], timings)
    _stage("prior-skill contamination and shortcuts", ["analyze", "contamination", str(root)], timings)
    _stage("drift from the base", ["analyze", "drift", str(root)], timings)
    # 40 problems per trained level (16 on a real checkpoint, ~7 forced formats at 135M parameters)
    _stage("format forcing: choosing vs changing",
           ["analyze", "forcing", str(root), "--problems-per-level", "16" if cfg.model.path else "40"], timings)
    base, finals = _trial_checkpoints(root)
    _stage("pass@k, base vs tuned",
           ["eval", "passk", "--config", str(config), *overrides, "--model", f"base={base}",
            *[a for final in finals for a in ("--model", str(final))], "--out", str(root)], timings)
    _stage("parameter updates and seed overlap",
           ["analyze", "updates", "--base", str(base), "--tuned", *map(str, finals),
            "--out", str(root / "analysis" / "updates.json"), "--plots", str(root / "plots")], timings)
    _stage("report", ["report", str(root)], timings)
    total = sum(timings.values())
    print("\n=== timings")
    for title, seconds in timings.items():
        print(f"  {seconds:7.1f} s  {title}")
    print(f"  {total:7.1f} s  total")
    report = root / "report.html"
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
