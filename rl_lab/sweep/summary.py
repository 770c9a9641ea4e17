"""``<sweep_dir>/sweep_summary.json``: one row per trial, derived from its run dir and Tune's result.

The run dir is the ground truth for progress (status.json, metrics.jsonl,
sweep_attempts.json); Tune's result adds the error of a trial that failed for good. So the
summary is right after a killed driver too: it never relies on the driver's memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rl_lab.core.io import atomic_write_json
from rl_lab.core.rundir import SWEEP_SUMMARY, RunDir
from rl_lab.sweep.trial import count_attempts, read_attempts

_LEVEL_KEY = re.compile(r"^accuracy/level_(\d+)$")


def final_metrics(rows: list[dict[str, Any]]) -> tuple[int | None, float | None, dict[str, float]]:
    """Last step, last reward and the last value of each ``accuracy/level_<d>`` over the rows."""
    step = reward = None
    accuracy: dict[str, float] = {}
    for row in rows:
        if isinstance(row.get("step"), int):
            step = row["step"]
        if isinstance(row.get("reward"), int | float):
            reward = float(row["reward"])
        for key, value in row.items():
            match = _LEVEL_KEY.match(key)
            if match and isinstance(value, int | float):
                accuracy[match.group(1)] = float(value)
    return step, reward, dict(sorted(accuracy.items(), key=lambda kv: int(kv[0])))


def trial_row(
    name: str, point: dict[str, Any], run_dir: Path, tune_info: dict[str, Any] | None, max_failures: int = 0
) -> dict[str, Any]:
    """One summary row. Status: ``done`` (run completed all steps), ``failed`` (Tune gave up
    on it, or without Tune's word: its last attempt errored and it used all its retries),
    ``running``, ``incomplete`` (started, neither done nor failed: the driver stopped) or
    ``pending`` (never started)."""
    tune_info = tune_info or {}
    run = RunDir(run_dir)
    entries = read_attempts(run)
    rows = run.metrics()
    last_step, reward, accuracy = final_metrics(rows)
    errors = [e["error"] for e in entries if e.get("error")]
    if run.finished():
        status, error = "done", None
    elif tune_info.get("status") == "ERROR" or (
        not tune_info and count_attempts(entries) > max_failures and entries[-1].get("error")
    ):
        status, error = "failed", (errors[-1] if errors else None) or tune_info.get("error") or "unknown error"
    elif tune_info.get("status") == "RUNNING":
        status, error = "running", None
    elif entries or rows:
        status, error = "incomplete", errors[-1] if errors else None
    else:
        status, error = "pending", None
    trial_ids = [e["trial_id"] for e in entries if e.get("trial_id")]
    return {
        "trial_id": tune_info.get("trial_id") or (trial_ids[-1] if trial_ids else None),
        "name": name,
        "config_point": point,
        "status": status,
        "attempts": count_attempts(entries),
        "last_step": last_step,
        "final_reward": reward,
        "final_accuracy": accuracy,
        "run_dir": str(run_dir),
        "run_status": run.state(),
        "tune_checkpoint_step": tune_info.get("checkpoint_step"),  # the step Ray Tune's Result.checkpoint names
        "error": error,
    }


def build_summary(
    sweep_dir: Path, grid: dict[str, list[Any]], points: list[dict[str, Any]], names: list[str],
    tune_infos: dict[str, dict[str, Any]] | None = None, max_failures: int = 0,
    trial_bases: dict[str, dict[str, Any]] | None = None, bases: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The summary; a two-stage sweep's rows also name their ``base`` (variant, model) and the summary
    lists the ``bases`` of its first stage."""
    tune_infos = tune_infos or {}
    trials = [
        trial_row(name, point, sweep_dir / "trials" / name, tune_infos.get(name), max_failures)
        for point, name in zip(points, names, strict=True)
    ]
    if trial_bases:
        for trial in trials:
            trial["base"] = trial_bases.get(trial["name"])
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial["status"]] = counts.get(trial["status"], 0) + 1
    out = {"sweep_dir": str(sweep_dir), "grid": grid, "counts": counts, "trials": trials}
    if trial_bases:
        out["bases"] = bases if bases is not None else [
            {"name": n, "status": "unknown"} for n in sorted({b["variant"] for b in trial_bases.values()})]
    return out


def write_summary(summary: dict[str, Any]) -> Path:
    return atomic_write_json(Path(summary["sweep_dir"]) / SWEEP_SUMMARY, summary)


def summary_table(summary: dict[str, Any]):
    """A rich Table of the summary (trial, status, attempts, step, reward, accuracy per level)."""
    from rich.table import Table

    levels = sorted({lv for t in summary["trials"] for lv in t["final_accuracy"]}, key=int)
    table = Table(title=f"sweep {summary['sweep_dir']}")
    for column in ("trial", "status", "attempts", "step", "reward", *(f"acc L{lv}" for lv in levels)):
        table.add_column(column, justify="left" if column in ("trial", "status") else "right")
    for t in summary["trials"]:
        table.add_row(
            t["name"], t["status"], str(t["attempts"]), _fmt(t["last_step"]), _fmt(t["final_reward"]),
            *(_fmt(t["final_accuracy"].get(lv)) for lv in levels),
        )
    return table


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)
