"""``rl-lab atlas [--only STUDY...] [--analyse-only] [--page-only]`` / ``make atlas``: every study of ``configs/studies/`` run, analysed, and put side by side.

Each study is a (two-stage) sweep that can run alone (``rl-lab sweep configs/studies/<name>.yaml``);
the atlas chains, per study, exactly the commands a researcher would type, in order of cost:

    rl-lab sweep <config> [--resume]                      bases once (shared runs/atlas/bases), then RL
    rl-lab analyze formats|contamination|drift <sweep>    per trial, each against its own step_0
    rl-lab eval passk --model base=<variant> --model <final>...   per base variant
    rl-lab analyze updates --base <variant> --tuned <finals of one condition>   per condition

then builds ``runs/atlas/atlas.html`` and ``atlas.json`` (``rl_lab.report.atlas``). Every stage is
resumable: a finished sweep resumes as a no-op, an analysis whose JSON exists is skipped, so a killed
atlas continues where it stopped. Wall time per study goes to ``runs/atlas/timings.json``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from rl_lab.cli import main as rl_lab

# The checkout's configs/studies; from an installed wheel (which ships no configs), the working directory's.
_SOURCE_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "studies"
CONFIGS = _SOURCE_CONFIGS if _SOURCE_CONFIGS.is_dir() else Path("configs") / "studies"
ATLAS_DIR = Path("runs/atlas")
PASSK_N = 32  # samples per problem in the atlas' pass@k (k up to 32), half the default: 72 models to sample


@dataclass(frozen=True)
class Study:
    name: str
    title: str

    @property
    def config(self) -> Path:
        return CONFIGS / f"{self.name}.yaml"


# Cheapest first: a budget cut leaves the most studies done.
STUDIES = (
    Study("precision", "Precision decides sparsity"),
    Study("hard_only_causes", "Why hard-only RL damages prior skills"),
    Study("easy_to_hard", "Easy-to-hard generalisation"),
    Study("exposure", "Creation or elicitation: pretraining exposure"),
    Study("format_collapse", "Format collapse and what stops it"),
)


def _call(argv: list[str], log: list[list[str]]) -> None:
    print(f"\n$ rl-lab {' '.join(argv)}", flush=True)
    log.append(argv)
    code = rl_lab(argv)
    if code != 0:
        from rl_lab.core.errors import RlLabError

        raise RlLabError(f"atlas stopped: `rl-lab {' '.join(argv)}` exited with status {code}")


def _groups(sweep: Path) -> dict[str, dict[str, list[Path] | Path]]:
    """Finished trials grouped by (base variant, condition without seed): base model and final checkpoints."""
    from rl_lab.core.io import read_json
    from rl_lab.core.rundir import RunDir, group_key
    from rl_lab.sweep.grid import point_name

    summary = read_json(sweep / "sweep_summary.json")
    out: dict[str, dict] = {}
    for trial in summary["trials"]:
        if trial["status"] != "done":
            continue
        point = {k: v for k, v in trial["config_point"].items() if k != "seed"}
        label = point_name(point) if point else "all"
        run = RunDir(trial["run_dir"])
        steps = list(run.checkpoints().values())
        # updates compare with the trial's own step_0 (the base as the trial loaded it: a bf16 arm's step_0 is
        # the bf16 cast, so rounding the base is not counted as an update); pass@k samples the variant itself
        entry = out.setdefault(label, {"base": steps[0], "finals": [], "key": group_key(trial["config_point"]),
                                       "variant": Path(trial["base"]["model"]) if trial.get("base") else steps[0]})
        entry["finals"].append(steps[-1])
    return out


def analyse_study(study: Study, root: Path, log: list[list[str]], overrides: list[str] | None = None) -> None:
    """The analyses of one finished study; each is skipped when its JSON exists (a killed atlas resumes)."""
    sweep = root / study.name / "sweep"
    cfg = str(study.config)
    for name in ("formats", "contamination", "drift"):
        if not (sweep / "analysis" / f"{name}.json").is_file():
            _call(["analyze", name, str(sweep)], log)
    groups = _groups(sweep)
    by_base: dict[Path, list[Path]] = {}
    for group in groups.values():
        by_base.setdefault(group["variant"], []).extend(group["finals"])
    for base, finals in by_base.items():
        out = sweep / "by_base" / base.parent.name
        if not (out / "analysis" / "passk.json").is_file():
            _call(["eval", "passk", "--config", cfg, *(overrides or []), "--n", str(PASSK_N), "--model", f"base={base}",
                   *[a for f in finals for a in ("--model", str(f))], "--out", str(out)], log)
    for label, group in groups.items():
        out = sweep / "analysis" / "updates" / f"{label}.json"
        if not out.is_file():
            _call(["analyze", "updates", "--base", str(group["base"]), "--tuned", *map(str, group["finals"]),
                   "--out", str(out)], log)


def adopt_demo_base(bases: Path, demo_root: Path = Path("runs/quickstart")) -> Path | None:
    """Copy ``make demo``'s base into the atlas' shared bases when it was pretrained with the config the
    studies share (pretraining is bit-reproducible on one host: docs/reproducibility.md), so the atlas
    does not pretrain it again. Checked by what decides the base, not by names."""
    import shutil

    from rl_lab.config import load_config
    from rl_lab.core.checkpoints import validate_checkpoint
    from rl_lab.core.errors import CheckpointError
    from rl_lab.pretrain import pretraining_differences
    from rl_lab.sweep.grid import base_fingerprint

    source = demo_root / "base"
    cfg = load_config(CONFIGS.parent / "quickstart.yaml")
    target = bases / f"base-{base_fingerprint(cfg)}"
    if target.exists() or not (source / "eval.json").is_file():
        return None
    try:
        validate_checkpoint(source / "model")
    except CheckpointError:
        return None
    if pretraining_differences(cfg, source):
        return None
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("corpus", "trainer_checkpoints"))
    tmp.rename(target)
    return target


def run_atlas(names: list[str] | None = None, root: Path = ATLAS_DIR, analyse_only: bool = False,
              overrides: list[str] | None = None) -> Path:
    """Run (or resume) each chosen study, analyse it, record its wall time; then write the page.
    ``overrides`` go to every sweep after the atlas' own (output_dir and sweep.bases_dir under ``root``)."""
    from rl_lab.core.io import atomic_write_json, read_json

    chosen = [s for s in STUDIES if not names or s.name in names]
    adopted = adopt_demo_base(root / "bases")
    if adopted:
        print(f"atlas: reusing the demo's base model as {adopted} (same pretraining config)")
    timings_file = root / "timings.json"
    for study in chosen:
        log: list[list[str]] = []
        sweep = root / study.name / "sweep"
        start = time.time()
        if not analyse_only:
            _call(["sweep", str(study.config), f"output_dir={root / study.name}", f"sweep.bases_dir={root / 'bases'}",
                   *(overrides or []), *(["--resume"] if (sweep / "sweep_config.yaml").is_file() else [])], log)
        swept = time.time() - start
        analyse_study(study, root, log, overrides)
        # re-read: another atlas process (--only another study) may have written since this one started
        timings = read_json(timings_file) if timings_file.is_file() else {}
        row = timings.get(study.name, {})
        # wall time accumulates over invocations (a resumed atlas adds what it spent; a finished sweep's
        # resume costs Ray's start-up); commands: every one that ran, in order
        if any(a[0] == "sweep" for a in log):
            row["sweep_s"] = round(row.get("sweep_s", 0.0) + swept, 1)
        analysed = time.time() - start - swept
        if any(a[0] != "sweep" for a in log):
            row["analysis_s"] = round(row.get("analysis_s", 0.0) + analysed, 1)
        done = row.get("commands", [])
        row["commands"] = done + [c for c in (" ".join(["rl-lab", *a]) for a in log) if c not in done]
        timings[study.name] = row
        atomic_write_json(timings_file, timings)
    page = build_page(root)
    print(f"\natlas: {page.resolve()}")
    return page


def build_page(root: Path) -> Path:
    """``atlas.html`` / ``atlas.json`` under ``root`` from whatever the studies have written so far."""
    from rl_lab.report.atlas import build_atlas

    return build_atlas(root, [s.name for s in STUDIES], {s.name: s.title for s in STUDIES})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STUDIES], help="run only these studies")
    parser.add_argument("--out", type=Path, default=ATLAS_DIR, help="atlas root (default: runs/atlas)")
    parser.add_argument("--analyse-only", action="store_true", help="skip the sweeps; analyse the finished ones")
    parser.add_argument("--page-only", action="store_true", help="only rebuild atlas.html / atlas.json from results")
    parser.add_argument("overrides", nargs="*", help="dotted KEY=VALUE overrides given to every study's sweep")


def run(args: argparse.Namespace) -> int:
    if args.page_only:
        print(build_page(args.out))
        return 0
    run_atlas(args.only, args.out, args.analyse_only, args.overrides)
    return 0
