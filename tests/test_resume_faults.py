"""Resume that never lies: damaged checkpoints fall back, changed configs are refused, one writer
per run dir, SIGTERM ends a run resumably, no temp file survives (issue 15, part 2).

Every run here is the micro model of test_train_run (2 layers, 32 wide): a step takes ~1 s.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_train_run import micro_model, raw_config, weights, write_yaml  # noqa: F401 - micro_model is a fixture

from rl_lab.cli import main
from rl_lab.config import validate_config
from rl_lab.core.errors import ConfigError, RunDirError
from rl_lab.core.io import read_json, read_jsonl
from rl_lab.core.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]


def leftovers(run: Path) -> list[str]:
    """Temp files of atomic writes, half-written checkpoint dirs and the Trainer's scratch folder."""
    found = [p for p in run.rglob("*") if p.name.endswith((".tmp", ".old")) or p.name.startswith(".step_")]
    if (run / "trainer").exists():
        found.append(run / "trainer")
    return sorted(str(p.relative_to(run)) for p in found)


def steps_logged(run: Path) -> list[int]:
    return [r["step"] for r in read_jsonl(run / "metrics.jsonl")]


# --------------------------------------------------------------------------- a damaged last checkpoint
@pytest.fixture(scope="module")
def failed_run(micro_model, tmp_path_factory):  # noqa: F811
    """A run that checkpointed steps 1 and 2, then died at step 3; and the same config run uninterrupted."""
    from rl_lab.train import run_training
    from rl_lab.train.callbacks import InjectedFailure

    tmp = tmp_path_factory.mktemp("failed")
    raw = raw_config(micro_model, tmp / "out", save_steps=[1, 2])
    raw["debug"] = {"fail_at_step": 3}
    with pytest.raises(InjectedFailure):
        run_training(validate_config(raw))
    reference = validate_config(raw_config(micro_model, tmp / "ref", save_steps=[1, 2]))
    run_training(reference)
    return raw, tmp / "out" / "train", reference.train_dir


def _truncate(path: Path) -> None:
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])


DAMAGE = {
    "truncated_weights": lambda ck: _truncate(ck / "model.safetensors"),
    "empty_optimizer": lambda ck: (ck / "optimizer.safetensors").write_bytes(b""),
    "missing_optimizer": lambda ck: [(ck / n).unlink() for n in ("optimizer.safetensors", "optimizer.json")],
    "garbage_trainer_state": lambda ck: (ck / "trainer_state.json").write_text("{not json"),
    "garbage_rng_state": lambda ck: (ck / "rng_state.json").write_text(json.dumps({"python": [3], "numpy": "x"})),
    "missing_curriculum_state": lambda ck: (ck / "curriculum_state.json").unlink(),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_last_checkpoint_falls_back_to_the_previous_good_one(failed_run, tmp_path, capsys, damage):
    from rl_lab.train import run_training
    from rl_lab.train.resume import checkpoint_problem, last_resumable

    raw, original, reference = failed_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    DAMAGE[damage](run_dir / "checkpoints" / "step_2")
    assert checkpoint_problem(run_dir / "checkpoints" / "step_2") is not None
    assert last_resumable(RunDir(run_dir)).step == 1
    (run_dir / ".metrics.jsonl.x1y2.tmp").write_text("half")  # an interrupted atomic write

    final = run_training(validate_config(raw), run_dir=run_dir, resume=True)
    err = capsys.readouterr().err
    assert "checkpoints/step_2 cannot be resumed from" in err and "resuming from step_1" in err
    assert final["step"] == 4 and final["resumed_from"] == 1
    assert steps_logged(run_dir) == [1, 2, 3, 4]  # every step once: the broken step 2 was trained again
    assert checkpoint_problem(run_dir / "checkpoints" / "step_2") is None  # replaced by a good one
    assert read_json(run_dir / "status.json")["state"] == "done"
    assert leftovers(run_dir) == []
    want, got = weights(reference / "checkpoints" / "step_4"), weights(run_dir / "checkpoints" / "step_4")
    assert all((want[k] == got[k]).all() for k in want)  # the same run as without the fault


def test_every_checkpoint_broken_restarts_from_step_0_and_says_so(failed_run, tmp_path, capsys):
    from rl_lab.train.resume import find_resume_point

    _raw, original, _reference = failed_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    for step in (1, 2):
        (run_dir / "checkpoints" / f"step_{step}" / "optimizer.safetensors").write_bytes(b"")
    point = find_resume_point(RunDir(run_dir))
    assert point.step == 0 and point.path is None and [s for s, _ in point.skipped] == [2, 1]
    assert all("optimizer.safetensors" in why for _, why in point.skipped)


# --------------------------------------------------------------------------- finished runs
@pytest.fixture(scope="module")
def finished_run(micro_model, tmp_path_factory):  # noqa: F811
    from rl_lab.train import run_training

    out = tmp_path_factory.mktemp("done")
    raw = raw_config(micro_model, out, steps=2, save_steps=[])
    run_training(validate_config(raw))
    return raw, out / "train"


def test_resuming_a_finished_run_keeps_its_status_and_leaves_no_temp_files(finished_run, tmp_path):
    from rl_lab.train import run_training

    raw, original = finished_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    status = read_json(run_dir / "status.json")
    assert status["train_seconds"] > 0
    (run_dir / "checkpoints" / "step_2" / ".trainer_state.json.abc.tmp").write_text("{")
    (run_dir / "rollouts" / ".step_2.jsonl.abc.tmp").write_text("")
    final = run_training(validate_config(raw), run_dir=run_dir, resume=True)
    assert final["step"] == 2
    assert read_json(run_dir / "status.json") == status  # train_seconds and all: the run did not change
    assert leftovers(run_dir) == []


@pytest.mark.parametrize(("override", "keys"), [
    ({"seed": 2}, ["seed"]),
    ({"train": {"learning_rate": 0.5}}, ["train.learning_rate"]),
    ({"curriculum": {"kind": "fixed"}}, ["curriculum.kind"]),
    ({"seed": 3, "train": {"beta": 0.1}}, ["seed", "train.beta"]),
])
def test_resume_with_a_changed_config_is_refused_naming_the_keys(finished_run, tmp_path, override, keys):
    from rl_lab.train import run_training

    raw, original = finished_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    before = (run_dir / "config.yaml").read_text()
    changed = {**raw, **{k: ({**raw[k], **v} if isinstance(v, dict) else v) for k, v in override.items()}}
    with pytest.raises(ConfigError) as info:
        run_training(validate_config(changed), run_dir=run_dir, resume=True)
    for key in keys:
        assert key in str(info.value)
    assert (run_dir / "config.yaml").read_text() == before


def test_resume_may_extend_train_steps(finished_run, tmp_path):
    from rl_lab.train import run_training

    raw, original = finished_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    longer = {**raw, "train": {**raw["train"], "steps": 3}}
    final = run_training(validate_config(longer), run_dir=run_dir, resume=True)
    assert final["step"] == 3 and final["resumed_from"] == 2
    assert steps_logged(run_dir) == [1, 2, 3]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["steps"] == 3


def test_a_run_dir_that_is_a_file_is_refused(finished_run, tmp_path):
    from rl_lab.train import run_training

    raw, _original = finished_run
    target = tmp_path / "file"
    target.write_text("not a dir")
    with pytest.raises(RunDirError, match="not a directory"):
        run_training(validate_config(raw), run_dir=target)


# --------------------------------------------------------------------------- a real second writer, a real SIGTERM
@pytest.fixture(scope="module")
def terminated(micro_model, tmp_path_factory):  # noqa: F811
    """``rl-lab train`` in a child process; while it trains, this process tries to write the same
    run dir (``rl-lab train --resume``), then the child gets SIGTERM."""
    tmp = tmp_path_factory.mktemp("sigterm")
    raw = raw_config(micro_model, tmp, steps=500, save_steps=[])
    config = write_yaml(tmp / "c.yaml", raw)
    run = tmp / "train"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "rl_lab.cli", "train", str(config)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            status = read_json(run / "status.json") if (run / "status.json").is_file() else {}
            if status.get("state") == "running" and status.get("step", 0) >= 1:
                break
            time.sleep(0.05)
        metrics_before = (run / "metrics.jsonl").read_bytes()
        second_err = io.StringIO()
        with contextlib.redirect_stderr(second_err):
            second_code = main(["train", str(config), "--resume"])
        untouched = (run / "metrics.jsonl").read_bytes()[: len(metrics_before)] == metrics_before
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    return raw, run, proc.returncode, err, (second_code, second_err.getvalue()), untouched


def test_second_writer_on_a_run_dir_exits_2_and_writes_nothing(terminated):
    _raw, run, _code, _err, (code, err), untouched = terminated
    assert code == 2, err[-2000:]
    assert "being written by another process" in err and str(run) in err
    assert untouched  # it wrote nothing: metrics.jsonl only grew by the first writer's rows


def test_sigterm_ends_the_run_interrupted_with_a_resumable_checkpoint(terminated):
    from rl_lab.train import run_training
    from rl_lab.train.resume import checkpoint_problem

    raw, run, code, err, _second, _untouched = terminated
    assert code == 128 + signal.SIGTERM, err[-2000:]
    assert "SIGTERM" in err and "--resume" in err
    status = read_json(run / "status.json")
    assert status["state"] == "interrupted" and status["signal"] == "SIGTERM"
    stopped = status["step"]
    assert 1 <= stopped < 500 and status["last_checkpoint"] == stopped  # the step it stopped at was saved
    assert checkpoint_problem(run / "checkpoints" / f"step_{stopped}") is None
    assert leftovers(run) == []

    short = {**raw, "train": {**raw["train"], "steps": stopped + 1}}  # finish quickly: one more step
    final = run_training(validate_config(short), resume=True)
    assert final["resumed_from"] == stopped and final["step"] == stopped + 1
    assert steps_logged(run) == list(range(1, stopped + 2))
    assert read_json(run / "status.json")["state"] == "done"


def test_stop_on_signal_handles_sigint_once_then_restores_the_handler():
    from transformers import TrainerControl

    from rl_lab.train.signals import StopOnSignal

    stop = StopOnSignal()
    before = signal.getsignal(signal.SIGINT)
    with stop.installed():
        os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: the run ends at the step boundary
        assert stop.signum == signal.SIGINT
        assert signal.getsignal(signal.SIGINT) is before  # a second Ctrl-C acts at once
        control = TrainerControl()
        stop.on_step_end(None, None, control)
        assert control.should_save and control.should_training_stop
    assert signal.getsignal(signal.SIGINT) is before


def test_lock_is_exclusive_and_released(tmp_path):
    from rl_lab.core.lock import hold_lock

    lock = tmp_path / ".lock"
    with hold_lock(lock, "run directory X"):
        assert f"pid {os.getpid()}" in lock.read_text()
        with pytest.raises(RunDirError, match=f"pid {os.getpid()}"), hold_lock(lock, "run directory X"):
            pass
    with hold_lock(lock, "run directory X"):  # released on exit
        pass


def test_cli_resume_changed_config_exits_2(finished_run, tmp_path, capsys):
    raw, original = finished_run
    run_dir = tmp_path / "train"
    shutil.copytree(original, run_dir)
    config = write_yaml(tmp_path / "c.yaml", raw)
    assert main(["train", str(config), "--resume", "--run-dir", str(run_dir), "train.learning_rate=0.3"]) == 2
    assert "train.learning_rate" in capsys.readouterr().err
