"""Same config, seed and machine: the same weights. The kernel pin reaches the process that trains."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> Path:
    from rl_lab.core.models import build_model, save_checkpoint
    from rl_lab.core.tokenizer import build_char_tokenizer

    tok = build_char_tokenizer()
    return save_checkpoint(build_model("tiny", tok, seed=0), tok, tmp_path_factory.mktemp("base") / "model")


def config(base: Path, out: Path, **determinism) -> Path:
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": "det", "seed": 3, "output_dir": str(out),
        "environments": {"families": [{"name": "addition", "levels": [1, 2]}]},
        "train": {"base_model": str(base), "steps": 2, "batch_size": 4, "num_generations": 2,
                  "max_completion_length": 6, "problems": 8, "rollouts_per_step": 2},
        "determinism": determinism,
    }))
    return path


def train(cfg: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "rl_lab.cli", "train", str(cfg)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def test_two_runs_of_one_config_give_identical_weights_and_the_pin_is_recorded(micro, tmp_path):
    from safetensors.torch import load_file

    a, b = tmp_path / "a", tmp_path / "b"
    train(config(micro, a, cpu_kernels="avx2", threads=1))
    train(config(micro, b, cpu_kernels="avx2", threads=1))
    wa = load_file(str(a / "train" / "checkpoints" / "step_2" / "model.safetensors"))
    wb = load_file(str(b / "train" / "checkpoints" / "step_2" / "model.safetensors"))
    assert all((wa[k] == wb[k]).all() for k in wa)
    env = json.loads((a / "train" / "environment.json").read_text())
    assert env["torch_cpu_kernels"] == "AVX2" and env["torch_threads"] == 1
    assert env["pins"]["ATEN_CPU_CAPABILITY"] == "avx2"
    assert {"torch", "transformers", "trl", "cpu"} <= set(env)
