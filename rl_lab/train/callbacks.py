"""TrainerCallbacks that write the run directory: metrics, TensorBoard, rollouts, checkpoints, status.

Callbacks, not a forked trainer: everything here hangs off the HF Trainer's
``on_log`` / ``on_step_end`` / ``on_save`` events, so TRL's training loop is untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from rl_lab.core import seeds
from rl_lab.core.io import apply_umask_mode, atomic_write_json, atomic_write_jsonl
from rl_lab.core.metrics_log import MetricsLog, scalars
from rl_lab.core.rundir import CURRICULUM_STATE, RunDir
from rl_lab.train.rewards import RolloutBuffer


class InjectedFailure(RuntimeError):
    """Raised once by ``debug.fail_at_step`` to test fault tolerance."""


class RunRecorder(TrainerCallback):
    """metrics.jsonl + TensorBoard (same names) + rollouts/step_<N>.jsonl + status.json, once per logged step."""

    def __init__(
        self, run: RunDir, total_steps: int, buffer: RolloutBuffer, rollouts_per_step: int, seed: int,
        reporter: Callable[[dict[str, Any]], None] | None = None, start_step: int = 0, resumed: bool = False,
    ):
        self.run = run
        self.total_steps = total_steps
        self.buffer = buffer
        self.rollouts_per_step = rollouts_per_step
        self.seed = seed
        self.reporter = reporter
        self.last_logged = start_step
        self.start_step = start_step
        self.resumed = resumed
        self.log: MetricsLog | None = None
        self.last_row: dict[str, Any] = {}
        self.summary: dict[str, float] = {}

    def on_train_begin(self, args, state, control, **kwargs):
        # purge_step: TensorBoard drops events of an interrupted attempt past the resume point
        self.log = MetricsLog(self.run.metrics_file, self.run.tensorboard_dir,
                              purge_step=self.start_step + 1 if self.resumed else None)
        self.run.write_status("running", state.global_step, self.total_steps)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or not state.is_world_process_zero:
            return
        if "train_runtime" in logs:  # the Trainer's end-of-run summary, not a step
            self.summary = scalars(logs)
            return
        step = int(state.global_step)
        if step <= self.last_logged:
            return
        row = {"step": step, **scalars(logs)}
        if self.rollouts_per_step > 0:
            sample = self.buffer.take_sample(self.rollouts_per_step, seed=self.seed * seeds.ROLLOUT_SAMPLE + step)
            atomic_write_jsonl(self.run.rollout_file(step), [{**r, "step": step} for r in sample])
        else:
            self.buffer.take_sample(0, 0)
        if self.log is not None:
            self.log.write(row)
        self.last_logged = step
        self.last_row = row
        self.run.write_status("running", step, self.total_steps)
        if self.reporter is not None:
            self.reporter(dict(row))

    def on_train_end(self, args, state, control, **kwargs):
        if self.log is not None:
            self.log.close()
            self.log = None


def write_bf16_copy(model, tokenizer, dest: Path) -> Path:
    """A bf16 cast of ``model`` as its own HF checkpoint (for the precision-decides-sparsity study)."""
    import copy

    import torch

    from rl_lab.core.models import save_checkpoint
    from rl_lab.train.lora import plain_model

    plain = plain_model(model)  # a LoRA model: its merged weights (already a copy)
    low = (plain if plain is not model else copy.deepcopy(model)).to(torch.bfloat16)
    return save_checkpoint(low, tokenizer, dest)


class CheckpointCallback(TrainerCallback):
    """Checkpoints at step 0 (the base), at ``save_steps``, every ``save_every`` and at the last step.

    The HF Trainer writes ``<run>/trainer/checkpoint-<N>`` (weights as safetensors, tokenizer,
    trainer state); once complete it is renamed to ``checkpoints/step_<N>`` in one
    ``os.replace``, so a reader (or resume) never sees a half-written checkpoint.
    """

    def __init__(
        self, run: RunDir, total_steps: int, save_steps: list[int], save_every: int, curriculum, tokenizer,
        bf16_copy: bool = False,
    ):
        self.run = run
        self.total_steps = total_steps
        self.save_steps = set(save_steps)
        self.save_every = save_every
        self.curriculum = curriculum
        self.tokenizer = tokenizer
        self.bf16_copy = bf16_copy
        self.model = None

    def wants(self, step: int) -> bool:
        return step == self.total_steps or step in self.save_steps or bool(self.save_every and step % self.save_every == 0)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        from rl_lab.core.models import save_checkpoint
        from rl_lab.train.lora import is_peft, plain_model

        self.model = model
        base = self.run.checkpoint_dir(0)
        if state.global_step == 0 and not base.exists() and state.is_world_process_zero:
            # a LoRA model: the merged weights (= the base, B is zero), then its initial adapter beside them
            save_checkpoint(plain_model(model), self.tokenizer, base,
                            extra_files={CURRICULUM_STATE: self.curriculum.state_dict()})
            if is_peft(model):
                model.save_pretrained(str(base))
            if self.bf16_copy:
                write_bf16_copy(model, self.tokenizer, base / "bf16")

    def on_step_end(self, args, state, control, **kwargs):
        if self.wants(state.global_step):
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        step = state.global_step
        src = Path(args.output_dir) / f"checkpoint-{step}"
        if not src.is_dir():
            return
        atomic_write_json(src / CURRICULUM_STATE, self.curriculum.state_dict())
        (src / "training_args.bin").unlink(missing_ok=True)  # a pickle nobody needs: config.yaml has the config
        if self.bf16_copy and self.model is not None:
            write_bf16_copy(self.model, self.tokenizer, src / "bf16")
        apply_umask_mode(src)
        dest = self.run.checkpoint_dir(step)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(src, dest)
        self.run.write_status("running", step, self.total_steps, last_checkpoint=step)


class FailAtStep(TrainerCallback):
    """``debug.fail_at_step``: raise once at that step; a marker file makes it once per run dir."""

    def __init__(self, run: RunDir, step: int | None):
        self.step = step
        self.marker = run.path / f".fail_at_step_{step}.fired"

    def on_step_end(self, args, state, control, **kwargs):
        if self.step is not None and state.global_step == self.step and not self.marker.exists():
            atomic_write_json(self.marker, {"step": self.step})
            raise InjectedFailure(f"debug.fail_at_step={self.step}: injected failure (fires once per run dir)")
