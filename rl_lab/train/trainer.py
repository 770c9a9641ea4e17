"""``GRPOTrainer`` with two hooks replaced: the train sampler and how resume state is serialised.

Why a subclass at all: GRPOTrainer builds its ``RepeatSampler`` inside
``_get_train_sampler`` and the DataLoader takes it from there; neither GRPOConfig
nor a TrainerCallback can change which prompts a batch holds.  Overriding that one
hook keeps TRL's batching contract (each prompt ``num_generations`` times, each
generation block repeated ``num_iterations x steps_per_generation`` times) while
the curriculum chooses the prompts.  The GRPO loss, generation, KL and logging
are TRL's, untouched.

The other overrides store optimizer/scheduler/RNG state as safetensors + JSON
(``rl_lab.train.state_io``) instead of ``torch.save`` pickles, on the plain
single-process path; distributed/DeepSpeed/FSDP runs keep the Trainer's own
mechanism, which reads back only files this run wrote itself.
"""

from __future__ import annotations

from pathlib import Path

from trl import GRPOTrainer

from rl_lab.train import state_io
from rl_lab.train.curriculum import Curriculum, CurriculumSampler
from rl_lab.train.group_stats import group_update_shares


class CurriculumGRPOTrainer(GRPOTrainer):
    def __init__(self, *args, curriculum: Curriculum, verifier=None, **kwargs):
        self.curriculum = curriculum
        self.verifier = verifier  # rl_lab.train.rewards.VerifierReward: its last rewards feed group_stats
        super().__init__(*args, **kwargs)

    def _generate_and_score_completions(self, inputs):
        """TRL's generation and advantages, plus the share of the update from one-success groups
        (metrics ``groups/*``, averaged over the logging window like TRL's own)."""
        out = super()._generate_and_score_completions(inputs)
        if self.model.training and self.verifier is not None and self.args.world_size == 1:
            stats = group_update_shares(out["advantages"].detach().float().tolist(),
                                        out["completion_mask"].sum(1).float().tolist(),
                                        self.verifier.last_rewards, self.num_generations)
            for key, value in stats.items():
                self._metrics["train"][key].append(value)
        return out

    def _get_train_sampler(self, dataset=None) -> CurriculumSampler:
        a = self.args
        return CurriculumSampler(
            self.curriculum,
            prompts_per_block=a.generation_batch_size // self.num_generations,
            num_generations=self.num_generations,
            repeat_count=self.num_iterations * a.steps_per_generation,
            grad_accum=a.gradient_accumulation_steps,
            total_steps=a.max_steps,
            seed=a.seed,
        )

    # ---- resume state without pickles (single process only)
    def _plain(self) -> bool:
        return self.args.world_size <= 1 and not self.is_deepspeed_enabled and not self.is_fsdp_enabled

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        if not (self._plain() and state_io.save_optimizer(Path(output_dir), self.optimizer, self.lr_scheduler)):
            super()._save_optimizer_and_scheduler(output_dir)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        if not (self._plain() and state_io.load_optimizer(Path(checkpoint), self.optimizer, self.lr_scheduler)):
            super()._load_optimizer_and_scheduler(checkpoint)

    def _save_rng_state(self, output_dir: str) -> None:
        if self._plain():
            state_io.save_rng(Path(output_dir))
        else:
            super()._save_rng_state(output_dir)

    def _load_rng_state(self, checkpoint: str | None) -> None:
        if checkpoint is None:
            return
        if not (self._plain() and state_io.load_rng(Path(checkpoint))):
            super()._load_rng_state(checkpoint)
