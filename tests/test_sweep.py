"""Ray Tune sweeps: grid validation, resources, vLLM mapping, and real sweeps on a local Ray.

The sweep tests run the real ``run_training`` (TRL GRPO) on a tiny random model for 4 steps,
on one local Ray session shared by the module (Ray start-up is paid once).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import yaml

from rl_lab.cli import main
from rl_lab.config import load_config
from rl_lab.core.config import load_raw
from rl_lab.core.io import read_json, read_jsonl

# Imported at collection, not inside a test: Ray's log handler keeps the stderr it first
# sees, and a test's capsys stream is closed after that test.
ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "configs" / "cluster_qwen2.5_0.5b.yaml"
STEPS = 4


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny random Qwen2-shaped model with the char tokenizer, saved as an HF checkpoint."""
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tokenizer = build_char_tokenizer()
    path = tmp_path_factory.mktemp("base") / "model"
    save_checkpoint(build_model("tiny", tokenizer, seed=0), tokenizer, path)
    return path


def write_config(path: Path, base: Path, out: Path, grid: dict, **sections) -> Path:
    data = {
        "name": "sweeptest",
        "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "role": "trained", "levels": [1, 2]}]},
        "train": {
            "base_model": str(base), "steps": STEPS, "batch_size": 4, "num_generations": 2,
            "max_completion_length": 6, "problems": 16, "rollouts_per_step": 2, "save_steps": [1],
            "learning_rate": 1e-3,
        },
        "sweep": {"grid": grid, "max_failures": 1, "cpus_per_trial": 1},
        "ray": {"num_cpus": 2},
    }
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- no Ray needed
def test_grid_expands_to_named_trial_configs(tmp_path, tiny_base):
    from rl_lab.sweep.grid import validate_grid

    cfg_file = write_config(tmp_path / "s.yaml", tiny_base, tmp_path / "out",
                            {"seed": [0, 1], "curriculum.kind": ["fixed", "hard_only"]})
    _base, points, names, configs = validate_grid(load_raw(cfg_file))
    assert len(points) == len(set(names)) == 4
    assert "seed-1_curriculum.kind-hard_only" in names
    got = {(c.seed, c.curriculum.kind) for c in configs}
    assert got == {(0, "fixed"), (0, "hard_only"), (1, "fixed"), (1, "hard_only")}
    assert all(c.sweep.grid == {} for c in configs)  # a trial is one training run


BAD_GRIDS = [
    ({"curriculum.kind": ["fixed", "hardest"]}, "curriculum.kind"),
    ({"train.stepz": [1, 2]}, "train.stepz"),
    ({"seed": [0, -1]}, "seed"),
    ({"train.num_generations": [2, 3]}, "train.num_generations"),
    ({"sweep.max_failures": [0, 1]}, "sweep.grid.sweep.max_failures"),
]


@pytest.mark.parametrize(("grid", "needle"), BAD_GRIDS, ids=[g[1] for g in BAD_GRIDS])
def test_bad_grid_point_exits_2_names_key_writes_nothing(tmp_path, capsys, tiny_base, grid, needle):
    out = tmp_path / "out"
    cfg_file = write_config(tmp_path / "s.yaml", tiny_base, out, grid)
    assert main(["sweep", str(cfg_file)]) == 2
    err = capsys.readouterr().err
    assert needle in err, err
    assert not out.exists()


def test_missing_base_model_and_resume_without_sweep_exit_2(tmp_path, capsys, tiny_base):
    out = tmp_path / "out"
    cfg_file = write_config(tmp_path / "s.yaml", tiny_base, out, {"seed": [0, 1]})
    assert main(["sweep", str(cfg_file), f"train.base_model={tmp_path / 'nope'}"]) == 2
    assert "train.base_model" in capsys.readouterr().err
    assert main(["sweep", str(cfg_file), "--resume"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("mode", ["colocate", "server"])
def test_vllm_trial_config_maps_to_trl_and_gpus_to_tune_resources(tmp_path, tiny_base, mode):
    from rl_lab.sweep.runner import build_trainable, prepare
    from rl_lab.train.trl_args import grpo_config_kwargs

    cfg_file = write_config(
        tmp_path / "s.yaml", tiny_base, tmp_path / "out", {"seed": [0, 1]},
        rollout={"backend": "vllm", "vllm_mode": mode, "vllm_server_host": "10.0.0.7", "vllm_server_port": 8123,
                 "vllm_gpu_memory_utilization": 0.45},
        sweep={"gpus_per_trial": 1, "cpus_per_trial": 3},
        ray={"address": "auto"},  # a GPU cluster: a local Ray here has no GPU (refused before Ray starts)
    )
    plan = prepare(load_raw(cfg_file))
    run_dir = plan["sweep_dir"] / "trials" / plan["names"][1]
    trial_cfg = load_config(cfg_file, ["seed=1", "sweep.grid={}"])
    kwargs = grpo_config_kwargs(trial_cfg, run_dir)
    assert kwargs["use_vllm"] is True
    assert kwargs["vllm_mode"] == mode
    assert kwargs["vllm_gpu_memory_utilization"] == 0.45
    if mode == "server":
        assert (kwargs["vllm_server_host"], kwargs["vllm_server_port"]) == ("10.0.0.7", 8123)
    trainable = build_trainable(plan)
    assert trainable._resources.required_resources == {"CPU": 3.0, "GPU": 1.0}
    assert not plan["sweep_dir"].exists()  # preparing writes nothing


def test_multi_gpu_trial_uses_accelerate_launch(tmp_path):
    from rl_lab.sweep.trial import accelerate_command

    cmd = accelerate_command(4, tmp_path / "c.yaml", tmp_path / "run", resume=True, port=29555)
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    assert cmd[cmd.index("--num_processes") + 1] == "4" and "--multi_gpu" in cmd
    assert cmd[-5:] == ["-m", "rl_lab.sweep.worker", str(tmp_path / "c.yaml"), str(tmp_path / "run"), "--resume"]
    single = accelerate_command(1, tmp_path / "c.yaml", tmp_path / "run", resume=False, port=29555)
    assert "--multi_gpu" not in single and single[-1] == str(tmp_path / "run")


def test_cluster_config_validates_with_local_paths(tmp_path, tiny_base):
    import json

    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps({"question": "2 and 3 more?", "answer": "2+3=<<2+3=5>>5\n#### 5"}) + "\n")
    overrides = [f"model.path={tiny_base}", f"train.base_model={tiny_base}",
                 f"environments.families.0.params.path={data}", f"output_dir={tmp_path / 'out'}"]
    cfg = load_config(CLUSTER, overrides)
    assert cfg.rollout.backend == "vllm" and cfg.sweep.gpus_per_trial == 1 and cfg.ray.address == "auto"
    assert cfg.prompt.style == "chat" and cfg.environments.families[0].scoring == "math"
    assert cfg.environments.families[0].name == "gsm8k"
    from rl_lab.sweep.runner import prepare

    plan = prepare(load_raw(CLUSTER, overrides))
    assert len(plan["names"]) == 6


# --------------------------------------------------------------------------- real Ray sweeps
@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def steps_of(run_dir: Path) -> list[int]:
    return [row["step"] for row in read_jsonl(run_dir / "metrics.jsonl")]


def kill_after_checkpoint(run_dir: Path, step: int, stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the trial's worker process once ``checkpoints/step_<step>`` exists."""
    while not stop.wait(0.05):
        if (run_dir / "checkpoints" / f"step_{step}").is_dir() and (run_dir / "sweep_attempts.json").is_file():
            pid = read_json(run_dir / "sweep_attempts.json")[-1]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return


@pytest.fixture(scope="module")
def retried_sweep(ray_session, tmp_path_factory, tiny_base):
    """Two trials on 2 CPUs, each dies once and is retried by Tune: ``debug.fail_at_step-2``
    raises at step 2; ``debug.fail_at_step-null`` has its process SIGKILLed after step 1."""
    tmp = tmp_path_factory.mktemp("sweep_a")
    cfg_file = write_config(tmp / "s.yaml", tiny_base, tmp / "out", {"debug.fail_at_step": [None, 2]})
    sweep_dir = tmp / "out" / "sweep"
    stop, killed = threading.Event(), []
    killer = threading.Thread(
        target=kill_after_checkpoint, args=(sweep_dir / "trials" / "debug.fail_at_step-null", 1, stop, killed)
    )
    killer.start()
    try:
        code = main(["sweep", str(cfg_file)])
    finally:
        stop.set()
        killer.join()
    return code, cfg_file, sweep_dir, read_json(sweep_dir / "sweep_summary.json"), killed


def test_two_trial_sweep_completes_with_summary(retried_sweep):
    code, _cfg, sweep_dir, summary, _killed = retried_sweep
    assert code == 0
    assert summary["sweep_dir"] == str(sweep_dir)
    assert summary["grid"] == {"debug.fail_at_step": [None, 2]}
    trials = {t["name"]: t for t in summary["trials"]}
    assert set(trials) == {"debug.fail_at_step-null", "debug.fail_at_step-2"}
    for trial in trials.values():
        run_dir = Path(trial["run_dir"])
        rows = read_jsonl(run_dir / "metrics.jsonl")
        assert trial["status"] == "done" and trial["error"] is None
        assert trial["trial_id"]
        assert trial["final_reward"] == rows[-1]["reward"]
        assert set(trial["final_accuracy"]) <= {"1", "2"} and trial["final_accuracy"]
        assert read_json(run_dir / "status.json")["state"] == "done"
        assert (run_dir / "checkpoints" / f"step_{STEPS}" / "model.safetensors").is_file()
    assert trials["debug.fail_at_step-2"]["config_point"] == {"debug.fail_at_step": 2}


def test_tune_result_checkpoint_names_the_final_step(retried_sweep):
    """The trainer logs a step before it saves it: the final checkpoint is reported after the last row."""
    _code, _cfg, _sweep_dir, summary, _killed = retried_sweep
    assert [t["tune_checkpoint_step"] for t in summary["trials"]] == [STEPS, STEPS]


def test_failed_trial_retries_from_its_checkpoint(retried_sweep):
    _code, _cfg, sweep_dir, summary, _killed = retried_sweep
    trial = next(t for t in summary["trials"] if t["config_point"]["debug.fail_at_step"] == 2)
    run_dir = Path(trial["run_dir"])
    assert trial["attempts"] == 2
    assert steps_of(run_dir) == list(range(1, STEPS + 1))  # every step exactly once
    first, second = read_json(run_dir / "sweep_attempts.json")
    assert first["error"] and "fail_at_step" in first["error"]
    # the retry continued from the step-1 checkpoint, not from step 0
    assert second["action"] == "resume" and second["from_step"] == 1
    assert read_json(run_dir / "status.json")["resumed_from"] == 1


def test_killed_trial_process_resumes_from_its_checkpoint(retried_sweep):
    _code, _cfg, sweep_dir, summary, killed = retried_sweep
    trial = next(t for t in summary["trials"] if t["config_point"]["debug.fail_at_step"] is None)
    run_dir = Path(trial["run_dir"])
    first, second = read_json(run_dir / "sweep_attempts.json")
    assert killed == [first["pid"]]
    assert "ended" not in first  # the process died mid-run, it could not record an end
    assert trial["attempts"] == 2 and trial["status"] == "done"
    assert second["action"] == "resume" and second["from_step"] >= 1
    assert steps_of(run_dir) == list(range(1, STEPS + 1))
    assert read_json(run_dir / "status.json")["resumed_from"] == second["from_step"]


def test_resume_skips_finished_trials(retried_sweep):
    _code, cfg_file, sweep_dir, summary, _killed = retried_sweep
    before = {}
    for trial in summary["trials"]:
        run_dir = Path(trial["run_dir"])
        before[trial["name"]] = ((run_dir / "metrics.jsonl").stat().st_mtime_ns,
                                 (run_dir / "sweep_attempts.json").read_text())
    assert main(["sweep", str(cfg_file), "--resume"]) == 0
    again = read_json(sweep_dir / "sweep_summary.json")
    for trial in again["trials"]:
        run_dir = Path(trial["run_dir"])
        after = ((run_dir / "metrics.jsonl").stat().st_mtime_ns, (run_dir / "sweep_attempts.json").read_text())
        assert after == before[trial["name"]], f"{trial['name']} ran again"
        assert trial["status"] == "done"
    assert [t["attempts"] for t in again["trials"]] == [t["attempts"] for t in summary["trials"]]


def test_resume_with_changed_config_or_fresh_start_is_refused(retried_sweep, capsys):
    _code, cfg_file, _sweep_dir, _summary, _killed = retried_sweep
    assert main(["sweep", str(cfg_file), "--resume", "train.learning_rate=0.01"]) == 2
    assert "train" in capsys.readouterr().err
    assert main(["sweep", str(cfg_file)]) == 2  # a second fresh start over the same sweep dir
    assert "--resume" in capsys.readouterr().err


def test_trial_failing_every_attempt_is_reported_failed(ray_session, tmp_path, tiny_base):
    """A fault that recurs (this machine has no vLLM) exhausts max_failures: the summary
    says failed, counts both attempts and carries the trial's error; exit status 1."""
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here: rollout.backend=vllm would not fail")
    cfg_file = write_config(tmp_path / "s.yaml", tiny_base, tmp_path / "out", {"rollout.backend": ["vllm"]})
    assert main(["sweep", str(cfg_file)]) == 1
    (trial,) = read_json(tmp_path / "out" / "sweep" / "sweep_summary.json")["trials"]
    assert trial["status"] == "failed"
    assert trial["attempts"] == 2  # the first try and sweep.max_failures=1 retry
    assert "vllm" in trial["error"]
    assert trial["final_reward"] is None
