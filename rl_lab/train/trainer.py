"""TRL's ``GRPOTrainer`` and ``SFTTrainer`` with a few hooks replaced: the train sampler, how resume state
is serialised, and (LoRA) how checkpoints hold full weights.

Why subclasses at all: GRPOTrainer builds its ``RepeatSampler`` inside
``_get_train_sampler`` and the DataLoader takes it from there; neither GRPOConfig
nor a TrainerCallback can change which prompts a batch holds.  Overriding that one
hook keeps TRL's batching contract (each prompt ``num_generations`` times, each
generation block repeated ``num_iterations x steps_per_generation`` times) while
the curriculum chooses the prompts.  The GRPO loss, generation, KL and logging
are TRL's, untouched; so are SFTTrainer's tokenisation, completion-only loss and logging.

The other overrides (``RunDirCheckpoints``, shared by both trainers) store optimizer/scheduler/RNG
state as safetensors + JSON (``rl_lab.train.state_io``) instead of ``torch.save`` pickles, on the
plain single-process path (distributed/DeepSpeed/FSDP runs keep the Trainer's own mechanism, which
reads back only files this run wrote itself); and, when TRL wrapped the model with a LoRA adapter,
add the merged full weights to each checkpoint and resume from the adapter (``rl_lab.train.lora``).
"""

from __future__ import annotations

from pathlib import Path

from trl import GRPOTrainer, SFTTrainer

from rl_lab.train import lora, state_io
from rl_lab.train.curriculum import Curriculum, CurriculumSampler
from rl_lab.train.group_stats import group_update_shares


class RunDirCheckpoints:
    """Mixin for a transformers Trainer: pickle-free resume state, full-weight LoRA checkpoints."""

    # ---- weights: a LoRA checkpoint holds the adapter (PEFT's files) and the merged model
    def _save(self, output_dir: str | None = None, state_dict=None) -> None:
        super()._save(output_dir, state_dict)
        if self.args.should_save and lora.is_peft(self.model):
            lora.save_merged(self.model, output_dir if output_dir is not None else self.args.output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        target = model if model is not None else self.model
        if lora.is_peft(target):
            lora.load_adapter(target, resume_from_checkpoint)
        else:
            super()._load_from_checkpoint(resume_from_checkpoint, model)

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


class CurriculumGRPOTrainer(RunDirCheckpoints, GRPOTrainer):
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


class CurriculumSFTTrainer(RunDirCheckpoints, SFTTrainer):
    """SFTTrainer drawing its rows with the curriculum, block by block as GRPO draws its prompts.

    With the same seed, curriculum and ``prompts_per_block`` (GRPO's prompts per optimizer step), step
    ``g`` trains on the same problems GRPO's step ``g`` samples completions for (num_iterations = 1), one
    correct solution each instead of ``num_generations`` sampled completions.
    """

    def __init__(self, *args, curriculum: Curriculum, prompts_per_step: int, **kwargs):
        self.curriculum = curriculum
        self.prompts_per_step = prompts_per_step
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, dataset=None) -> CurriculumSampler:
        # one block = one optimizer step's rows (ga micro-batches); grad_accum=1 makes block g step g
        return CurriculumSampler(self.curriculum, prompts_per_block=self.prompts_per_step, num_generations=1,
                                 repeat_count=1, grad_accum=1, total_steps=self.args.max_steps, seed=self.args.seed)
