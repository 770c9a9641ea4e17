"""What makes two runs of one config give the same numbers, and a record of what a run ran on.

Measured on this project's 2-core CPU machines (docs/reproducibility.md): with the same config,
seed and machine, pretraining, ``rl-lab train`` and every Ray sweep trial give bit-identical
weights run after run (Python's hash seed and the thread count did not matter at these sizes).
What does change results is the CPU: torch and MKL dispatch to AVX-512 or AVX2 kernels by what
the host has, and the two paths round differently (weights 5e-6 apart after 60 pretraining
steps, which sampling then amplifies into different rollouts). ``determinism.cpu_kernels: avx2``
pins both libraries to the AVX2 paths; ``determinism.threads`` pins the thread count.

The pins are environment variables both libraries read when they first dispatch, so
``apply`` must run before the first tensor operation of the process (the CLI calls it right
after loading the config; sweep trials get the same variables through Ray).
"""

from __future__ import annotations

import os
import platform
from typing import Any

from rl_lab.core.config import Config

# ATen reads ATEN_CPU_CAPABILITY at its first dispatch; MKL reads these at initialisation.
AVX2_PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "MKL_CBWR": "AVX2"}


def environment_variables(cfg: Config) -> dict[str, str]:
    """The variables that pin the kernels (empty for ``native``)."""
    return dict(AVX2_PINS) if cfg.determinism.cpu_kernels == "avx2" else {}


def apply(cfg: Config, threads: int | None = None) -> None:
    """Pin kernels and threads for this process (call before the first tensor operation)."""
    os.environ.update(environment_variables(cfg))
    count = threads or cfg.determinism.threads
    if count:
        import torch

        torch.set_num_threads(count)


def describe() -> dict[str, Any]:
    """What this process computes with: library versions, CPU, vector kernels, threads."""
    import torch
    import transformers
    import trl

    return {
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "trl": trl.__version__, "cpu": _cpu_model(), "machine": platform.machine(),
        "torch_cpu_kernels": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads(),
        "pins": {k: os.environ[k] for k in AVX2_PINS if k in os.environ},
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
