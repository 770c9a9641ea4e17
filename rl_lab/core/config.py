"""The experiment config schema: typed sections validated by pydantic, and YAML loading.

Why pydantic: it gives, for free, the three things a researcher's config needs:
field paths in every error (``train.num_generations``), rejection of unknown keys
(a typo is an error, not a silently ignored setting) and type coercion for
command-line overrides, plus model validators for cross-field consistency.

This module is the core layer: it knows the *shape* of a config, not which problem
families or answer formats exist. ``rl_lab.config.load_config`` adds the checks against
the environments (family names, levels, formats) and is what commands call.
Everything is validated before anything touches the disk; the CLI turns a
``ConfigError`` into a message naming the field and exit status 2.
"""

from __future__ import annotations

import copy
import math
import re
import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rl_lab.core import yaml_safe
from rl_lab.core.errors import ConfigError, InputError

__all__ = ["Config", "ConfigError", "load_raw", "validate_schema"]


# Absurd values that pass a type check and fail hours later (or overflow a C integer): refused here.
MAX_SEED = 2**31 - 1  # every library rl_lab seeds (random, NumPy's legacy seed, torch) takes it
MAX_STEPS = 10_000_000
MAX_ECHO = 300  # characters of a bad value or of an error line shown back to the user


class Strict(BaseModel):
    # allow_inf_nan=False: every float field (nested in lists and dicts too) must be finite
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


def check_weights(value: dict[Any, float] | list[float] | None) -> None:
    """Relative weights: each >= 0, with a positive sum (NaN and inf are refused by the schema)."""
    if value is None:
        return
    numbers = list(value.values()) if isinstance(value, dict) else list(value)
    if any(w < 0 for w in numbers) or sum(numbers) <= 0:
        raise ValueError("weights must be >= 0 with a positive sum")


# --------------------------------------------------------------------------- environments
class FamilySpec(Strict):
    name: str = Field(description="registered family name, or 'rg:<dataset>' for a reasoning-gym dataset")
    role: Literal["trained", "prior_skill"] = Field(
        "trained", description="trained: RL draws from it; prior_skill: held out, probed for contamination"
    )
    levels: list[int] | None = Field(None, description="difficulty levels used (null: all the family has)")
    params: dict[str, Any] = Field(default_factory=dict, description="family-specific options")
    scoring: Literal["exact", "math", "library"] = Field(
        "exact",
        description="how completions are verified: exact (rl_lab's formats, exact match), math (real models' "
        "answers: boxed, ####, 'the answer is', final number; math-verify equivalence), library "
        "(reasoning-gym's score_answer: partial credit; rg: families only)",
    )


class EnvironmentsConfig(Strict):
    families: list[FamilySpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> EnvironmentsConfig:
        seen: set[str] = set()
        for i, spec in enumerate(self.families):
            if spec.name in seen:
                raise ValueError(f"families.{i}.name: {spec.name!r} is listed twice")
            seen.add(spec.name)
        return self

    def by_role(self, role: str) -> list[FamilySpec]:
        return [s for s in self.families if s.role == role]


# --------------------------------------------------------------------------- format taxonomy
class FormatRule(Strict):
    label: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="the label a matching completion gets")
    pattern: str = Field(description="Python regular expression, searched anywhere in the completion (re.search)")
    force_prefix: str | None = Field(
        None, min_length=1,
        description="format forcing: the text an answer in this format starts with (e.g. '\\boxed{'); null: the "
        "label cannot be forced",
    )


class FormatsConfig(Strict):
    taxonomy: str = Field(
        "controlled",
        description="how every analysis labels a completion's format: controlled (terse/steps/tagged), "
        "answer_style, reasoning, echo_chamber, or rules (the rules below)",
    )
    rules: list[FormatRule] = Field(
        default_factory=list,
        description="taxonomy 'rules' only: ordered label + regex; the first match wins, the rest is 'other'",
    )


# --------------------------------------------------------------------------- prompting
class PromptConfig(Strict):
    style: Literal["raw", "template", "chat"] = Field(
        "raw",
        description="raw: the problem's own string (47+85=), for the controlled models; template: the user text "
        "below as plain text; chat: the user text (after an optional system message) through the tokenizer's "
        "chat template, TRL's conversational format",
    )
    template: str = Field(
        "{question} {instruction}",
        description="user text for template/chat; {question}: the family's natural question (What is 47+85?), "
        "{instruction}: the family's entry in instructions, {raw}: the raw prompt",
    )
    system: str | None = Field(None, description="chat: a system message before the user text (null: none)")
    instructions: dict[str, str] = Field(
        default_factory=dict,
        description="family name -> instruction, e.g. {addition: 'Put the final answer in \\boxed{}.'}",
    )

    @field_validator("template")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        import string

        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid format string ({exc}); write literal braces as {{{{ }}}}") from None
        unknown = sorted(names - {"question", "instruction", "raw"})
        if unknown:
            raise ValueError(f"unknown placeholders {unknown}; allowed: {{question}}, {{instruction}}, {{raw}}")
        return value


# --------------------------------------------------------------------------- model
class ModelConfig(Strict):
    path: str | None = Field(None, description="a local HF checkpoint directory; replaces the preset")
    preset: Literal["nano", "tiny", "small", "medium"] = Field("tiny", description="size of the tiny model built here")
    architecture: Literal["qwen2", "llama"] = "qwen2"
    dtype: Literal["float32", "bfloat16"] = Field("float32", description="weights dtype for training")


# --------------------------------------------------------------------------- pretraining
class PretrainConfig(Strict):
    format_mixture: dict[str, float] = Field(
        default_factory=lambda: {"terse": 0.5, "steps": 0.3, "tagged": 0.2},
        description="share of each answer format in the corpus; sums to 1",
    )
    difficulty_weights: dict[int, float] | None = Field(
        None, description="relative weight of each difficulty level in the corpus (null: uniform)"
    )
    family_weights: dict[str, float] | None = Field(
        None, description="relative share of each family's documents in the corpus (null: equal)"
    )
    num_examples: int = Field(20000, ge=100, description="documents in the corpus")
    steps: int = Field(600, ge=1, le=MAX_STEPS, description="optimizer steps")
    batch_size: int = Field(32, ge=1)
    learning_rate: float = Field(1e-3, gt=0, lt=1)
    warmup_steps: int = Field(30, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    max_length: int = Field(96, ge=8, description="prompt + completion tokens; longer documents are an error")
    logging_steps: int = Field(20, ge=1)
    loss_on: Literal["completion", "all"] = Field(
        "completion", description="which tokens carry the LM loss: the completion only, or the whole document"
    )

    @field_validator("difficulty_weights")
    @classmethod
    def _difficulty_weights(cls, value: dict[int, float] | None) -> dict[int, float] | None:
        check_weights(value)
        return value

    @field_validator("format_mixture")
    @classmethod
    def _mixture(cls, value: dict[str, float]) -> dict[str, float]:
        for key, share in value.items():  # which formats exist is checked against the environments
            if share < 0:
                raise ValueError(f"share of {key!r} is {share}; shares must be >= 0")
        total = sum(value.values())
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(f"shares sum to {total:g}; they must sum to 1")
        return value


# --------------------------------------------------------------------------- evaluation
class EvalConfig(Strict):
    problems_per_level: int = Field(40, ge=1, description="problems per family x difficulty cell")
    temperature: float = Field(1.0, ge=0, description="0 means greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(64, ge=1)
    batch_size: int = Field(256, ge=1)
    extra_taxonomies: list[str] = Field(
        default_factory=list,
        description="format shares under these taxonomies too (formats.taxonomy is always reported), e.g. "
        "[reasoning] beside answer_style; the same samples, labelled again",
    )


# --------------------------------------------------------------------------- RL
class CurriculumConfig(Strict):
    kind: Literal["fixed", "easy_to_hard", "hard_only", "adaptive"] = "fixed"
    levels: list[int] | None = Field(None, description="levels drawn from (null: all trained levels)")
    weights: list[float] | None = Field(None, description="fixed: relative weight of each of `levels`")
    schedule: list[int] | None = Field(
        None, description="easy_to_hard: step at which each next level is unlocked (null: evenly spaced)"
    )
    hard_min_level: int | None = Field(None, description="hard_only: lowest level drawn (null: top half)")
    window: tuple[float, float] = Field((0.1, 0.9), description="adaptive: keep pass rates inside [lo, hi]")
    history: int = Field(4, ge=1, description="adaptive: rollout groups remembered per level")
    explore: float = Field(
        0.1, ge=0, lt=1, description="adaptive: share of each batch drawn from levels outside the window (re-checks them)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CurriculumConfig:
        lo, hi = self.window
        if not 0 <= lo < hi <= 1:
            raise ValueError(f"window: {list(self.window)} must satisfy 0 <= lo < hi <= 1")
        if self.weights is not None:
            if self.levels is None or len(self.weights) != len(self.levels):
                raise ValueError("weights: needs `levels` of the same length")
            try:
                check_weights(self.weights)
            except ValueError as exc:
                raise ValueError(f"weights: {exc}") from None
        return self


class PeftSpec(Strict):
    """A low-footprint parameterisation of the trained weights, built with PEFT (null section: full fine-tuning)."""

    method: Literal["lora"] = Field("lora", description="lora: PEFT's LoraConfig through TRL's peft_config")
    r: int = Field(8, ge=1, le=4096, description="LoRA rank")
    alpha: float = Field(16.0, gt=0, description="LoRA scaling numerator (update = alpha / r * B A)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA input")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="'all-linear' (every linear layer but the output layer), or module names (suffixes, e.g. "
                    "[q_proj, v_proj]); a name the model lacks is a config error",
    )

    @field_validator("target_modules")
    @classmethod
    def _targets(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or not all(isinstance(v, str) and v.strip() for v in value)):
            raise ValueError("must be 'all-linear' or a non-empty list of module names")
        if isinstance(value, str) and value != "all-linear":
            raise ValueError(f"{value!r}: a string must be 'all-linear'; list module names as [q_proj, v_proj]")
        return value


class TrainConfig(Strict):
    method: Literal["grpo", "sft"] = Field(
        "grpo",
        description="grpo: TRL GRPOTrainer with the verifier's reward; sft: TRL SFTTrainer on the same problems' "
                    "correct solutions in train.sft_format (same steps, same curriculum draws)",
    )
    peft: PeftSpec | None = Field(None, description="null: full fine-tuning; {method: lora, r: 8, ...}: LoRA (PEFT)")
    sft_format: str = Field("steps", description="sft: the answer format its worked solutions are written in")
    base_model: str | None = Field(None, description="checkpoint RL starts from (null: <output_dir>/base/model)")
    steps: int = Field(40, ge=1, le=MAX_STEPS, description="optimizer steps (TRL max_steps)")
    learning_rate: float = Field(1e-4, gt=0, lt=1)
    batch_size: int = Field(32, ge=1, description="completions per device per step")
    num_generations: int = Field(8, ge=2, description="completions per prompt (GRPO group size)")
    gradient_accumulation_steps: int = Field(1, ge=1)
    max_completion_length: int = Field(48, ge=1)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    loss_type: Literal["grpo", "dr_grpo", "dapo", "bnpo"] = "dapo"
    beta: float = Field(0.0, ge=0, description="KL coefficient; 0 means no reference model")
    epsilon: float = Field(0.2, gt=0)
    epsilon_high: float | None = Field(None, gt=0)
    scale_rewards: Literal["group", "batch", "none"] = "group"
    mask_truncated_completions: bool = False
    num_iterations: int = Field(1, ge=1)
    format_reward: float = Field(0.0, ge=0, description="weight of a well-formedness reward (0: off)")
    logging_steps: int = Field(1, ge=1)
    rollouts_per_step: int = Field(16, ge=0, description="rollouts sampled into rollouts/step_<N>.jsonl")
    save_steps: list[int] = Field(default_factory=list, description="extra checkpoint steps (0 and last always)")
    save_every: int = Field(0, ge=0, description="also checkpoint every N steps, for resume (0: off)")
    save_bf16_copy: bool = Field(False, description="also write a bf16 cast of each checkpoint")
    problems: int = Field(4096, ge=1, description="size of the generated training problem pool")
    trl: dict[str, Any] = Field(
        default_factory=dict,
        description="any other trl.GRPOConfig field, passed through as is (checked against TRL's dataclass; "
                    "fields rl_lab sets itself are refused with the rl_lab key to use instead)",
    )
    report_to: list[Literal["tensorboard", "trackio", "wandb"]] = Field(
        default_factory=list,
        description="TRL/transformers trackers, beside rl_lab's own metrics.jsonl and tensorboard/ (wandb runs "
                    "offline unless WANDB_MODE is set; trackio logs locally)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        total = self.batch_size * self.gradient_accumulation_steps
        if total % self.num_generations:
            divisors = [d for d in range(2, total + 1) if total % d == 0]
            raise ValueError(
                f"num_generations: {self.num_generations} does not divide batch_size x "
                f"gradient_accumulation_steps = {total}; choose one of {divisors}"
            )
        bad = [s for s in self.save_steps if not 0 <= s <= self.steps]
        if bad:
            raise ValueError(f"save_steps: {bad} outside 0..steps={self.steps}")
        return self


class RolloutConfig(Strict):
    backend: Literal["transformers", "vllm"] = "transformers"
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_host: str = "0.0.0.0"
    vllm_server_port: int = Field(8000, ge=1, le=65535)
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1)
    vllm_tensor_parallel_size: int = Field(1, ge=1)


class SweepConfig(Strict):
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted config key -> values; trials are the cross product"
    )
    arms: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named arms, each a mapping of dotted config keys -> one value; crossed "
        "with the grid as the key 'arm' (for conditions that change several keys at once, e.g. hard-only + KL)")
    max_failures: int = Field(1, ge=0, description="retries of a trial that dies, each from its last checkpoint")
    max_concurrent_trials: int | None = Field(None, ge=1)
    cpus_per_trial: float = Field(1.0, gt=0)
    gpus_per_trial: float = Field(0.0, ge=0)
    pretrain: bool = Field(
        False, description="pretrain the base model(s) as the sweep's first stage: one Ray trial per base variant "
        "(implied when the grid varies pretrain.* or model.* other than model.dtype); each RL trial starts from its own")
    bases_dir: str | None = Field(
        None, description="where the first stage writes base variants (null: <sweep dir>/bases); a variant's folder "
        "is named by a hash of what decides it, so sweeps sharing a bases_dir train each identical base once")

    @field_validator("grid")
    @classmethod
    def _nonempty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in value.items():
            if not values:
                raise ValueError(f"grid.{key}: needs at least one value")
        if "arm" in value:
            raise ValueError("grid.arm: 'arm' is the key of sweep.arms; name the arms there, or rename the grid key")
        return value

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, overrides in value.items():
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.+-]*", name):
                raise ValueError(f"arms.{name}: arm names are letters, digits and _.+- (they name trial folders)")
            if not overrides:
                raise ValueError(f"arms.{name}: needs at least one dotted key -> value")
        return value


class RayConfig(Strict):
    address: str | None = Field(None, description="join an existing cluster (null: start a local Ray)")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray (null: all)")


class DeterminismConfig(Strict):
    cpu_kernels: Literal["native", "avx2"] = Field(
        "native",
        description="native: torch and MKL pick the widest vector instructions this CPU has (fastest); avx2: "
        "pin both to AVX2 code paths, so hosts with and without AVX-512 run the same kernels (measured: "
        "the two paths give weights 5e-6 apart after 60 pretraining steps, and sampling amplifies that)",
    )
    threads: int | None = Field(
        None, ge=1, le=1024,
        description="torch CPU threads per process (null: torch's default, one per core; sweep trials: "
        "sweep.cpus_per_trial); float sums can differ with the thread count",
    )


class DebugConfig(Strict):
    fail_at_step: int | None = Field(None, ge=1, description="fault injection: the trial dies once at this step")


class AnalysisConfig(Strict):
    """Defaults of the analysis commands; a command-line flag overrides the value for one call."""

    collapse_threshold: float = Field(
        0.9, gt=0, le=1, description="format collapse: share one format must exceed (strictly) through the last step"
    )
    collapse_window: float = Field(
        0.1, gt=0, le=1,
        description="format collapse: final shares (with exact binomial intervals) pool the rollouts of this last "
                    "fraction of logged steps, at least one step",
    )
    passk_n: int = Field(64, ge=1, description="pass@k: samples per problem")
    passk_problems_per_level: int = Field(8, ge=1, description="pass@k: problems per family x level")
    passk_temperature: float = Field(0.6, gt=0, description="pass@k: sampling temperature")
    passk_top_p: float = Field(0.95, gt=0, le=1, description="pass@k: nucleus sampling top-p")
    passk_batch_size: int = Field(
        512, ge=1, description="pass@k: sequences per generate call (transformers path); eval.batch_size if larger"
    )
    probe_problems_per_level: int = Field(32, ge=1, description="contamination: probe problems per family x level")
    probe_temperature: float = Field(
        0.0, ge=0, description="contamination: probe decoding; 0 = greedy (deterministic), > 0 samples with a fixed seed"
    )
    length_fraction: float = Field(
        0.5, gt=0, le=1,
        description="shortcut length_collapse: shorter than this fraction of the base's median length for the level",
    )
    drift_prompts: int = Field(32, ge=1, description="drift: held-out prompts")
    drift_samples_per_prompt: int = Field(4, ge=1, description="drift: sequences sampled per prompt and model")
    drift_batch_size: int = Field(64, ge=1, description="drift: sequences per forward pass when scoring KL")
    updates_tol: float = Field(1e-5, gt=0, description="updates: the 'tol' criterion counts a parameter as updated if |delta| > tol")


class ReportConfig(Strict):
    """What decides a report finding's wording. Findings are worded by 95% intervals
    (``rl_lab.analysis.intervals.verdict``): 'appeared' when the whole interval lies beyond the
    margin in the direction the literature predicts, 'did not appear' when it lies within the
    margin or on the other side, 'inconclusive' when it straddles the margin."""

    tail_fraction: float = Field(
        0.1, gt=0, le=0.5, description="training findings compare the mean of the first and the last fraction of logged steps"
    )
    prior_margin: float = Field(
        0.02, ge=0, lt=1,
        description="prior-skill loss: a change of probe accuracy (last checkpoint - base) smaller than this counts as "
                    "no loss; 'appeared' when the 95% interval lies below -margin, 'did not appear' when above",
    )
    passk_margin: float = Field(
        0.02, ge=0, lt=1,
        description="pass@k: a difference of pass@k (tuned - base) smaller than this counts as none (the base "
                    "overtaking a tuned model at the largest k, RL raising pass@1)",
    )
    collapse_margin: float = Field(
        0.0, ge=0, lt=1,
        description="format collapse 'appeared' when the 95% interval of the largest final share lies above "
                    "analysis.collapse_threshold + this",
    )
    shortcut_rise: float = Field(
        0.10, gt=0, le=1,
        description="a shortcut detector 'rose' when the 95% interval of its rate's rise (first -> last rollouts) lies "
                    "above this; 'did not appear' when the interval lies below it",
    )
    correlation_margin: float = Field(
        0.0, ge=0, lt=1,
        description="drift vs prior-skill change: a negative relation 'appeared' when the 95% interval of Pearson r "
                    "lies below -this",
    )
    sparse_share: float = Field(
        0.5, gt=0, le=1,
        description="'update sparsity' when every tuned checkpoint changed less than this share of parameters "
                    "(reference criterion; exact counts, so the range over checkpoints decides)",
    )
    overlap_ratio: float = Field(
        1.1, gt=0,
        description="updated sets overlap 'beyond chance' when IoU / chance IoU exceeds this for every pair (exact "
                    "counts, so the range over pairs decides)",
    )
    max_heatmaps: int = Field(6, ge=1, description="update heatmaps drawn (the last step of each run); all are in the tables")
    # Superseded by the interval rules above; still accepted so that configs which set them load.
    unknown_n_bound: float = Field(
        0.05, gt=0, le=1, description="ignored: prior-skill findings use the interval of the change (prior_margin)"
    )
    correlation_r: float = Field(
        0.5, gt=0, le=1, description="ignored: drift findings use the interval of Pearson r (correlation_margin)"
    )


# --------------------------------------------------------------------------- root
class Config(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=200,
                      description="experiment name: a plain name (runs/<name>), no path, not '.' or '..'")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    output_dir: str | None = Field(None, description="where runs go (null: runs/<name>); a directory, or a path "
                                                     "that does not exist yet")
    environments: EnvironmentsConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    ray: RayConfig = Field(default_factory=RayConfig)
    debug: DebugConfig = Field(default_factory=DebugConfig)
    determinism: DeterminismConfig = Field(default_factory=DeterminismConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    formats: FormatsConfig = Field(default_factory=FormatsConfig)
    prompt: PromptConfig = Field(default_factory=PromptConfig)

    @model_validator(mode="after")
    def _cross_section(self) -> Config:
        if not self.environments.by_role("trained"):
            raise ValueError("environments.families: at least one family needs role 'trained'")
        if self.train.method == "sft" and self.curriculum.kind == "adaptive":
            raise ValueError("curriculum.kind: 'adaptive' follows rollout pass rates, which train.method=sft does "
                             "not produce; use fixed, easy_to_hard or hard_only with sft")
        # levels of the curriculum and of difficulty_weights: checked against the families in rl_lab.config
        if self.pretrain.family_weights is not None:
            names = [s.name for s in self.environments.families]
            unknown = sorted(set(self.pretrain.family_weights) - set(names))
            if unknown:
                raise ValueError(f"pretrain.family_weights: families {unknown} are not in environments.families; allowed: {names}")
            try:
                check_weights(self.pretrain.family_weights)
            except ValueError as exc:
                raise ValueError(f"pretrain.family_weights: {exc}") from None
        return self

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, value: str | None) -> str | None:
        """The nearest existing part of the path must be a directory (a file there fails every write)."""
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must name a directory (leave it out for runs/<name>)")
        path = Path(value).expanduser()
        for part in (path, *path.parents):
            if part.exists():
                if not part.is_dir():
                    raise ValueError(f"{str(part)!r} exists and is not a directory; choose a directory")
                break
        return value

    # ---- derived paths (nothing is created here)
    @property
    def root(self) -> Path:
        return Path(self.output_dir or f"runs/{self.name}")

    @property
    def base_dir(self) -> Path:
        return self.root / "base"

    @property
    def base_model_path(self) -> Path:
        if self.train.base_model:
            return Path(self.train.base_model)
        if self.model.path:
            return Path(self.model.path)
        return self.base_dir / "model"

    @property
    def train_dir(self) -> Path:
        return self.root / "train"

    @property
    def sweep_dir(self) -> Path:
        return self.root / "sweep"

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------- loading
def parse_override(item: str) -> tuple[str, Any]:
    if "=" not in item:
        raise ConfigError(f"override {item!r}: expected KEY=VALUE with a dotted key, e.g. pretrain.steps=200")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r}: empty key")
    try:
        value = yaml_safe.load(raw) if raw.strip() else ""
    except yaml_safe.YamlRefused as exc:
        raise ConfigError(f"override {excerpt(item)}: {exc}") from None
    except yaml.YAMLError:
        value = raw  # not YAML: the value is the text itself
    return key, value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``a.b.0.c`` in nested dicts/lists, creating dicts on the way."""
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                where = ".".join(parts[:i]) or "<root>"
                raise ConfigError(f"{key}: {where} is a list of {len(node)}; index {part!r} is out of range")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {'.'.join(parts[:i])} is a {type(node).__name__}, not a section")
        if last:
            node[part] = value
        else:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]


def _format_errors(exc: ValidationError, model: type[BaseModel] = Config) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
            # nested validators put their own sub-path first: "families.0.name: ..."
            if ": " in msg and " " not in msg.split(": ", 1)[0]:
                sub, msg = msg.split(": ", 1)
                loc = f"{loc}.{sub}" if loc else sub
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, err["loc"][:-1])
            msg = f"unknown key; allowed keys here: {', '.join(allowed)}" if allowed else "unknown key"
        elif err["type"] == "missing":
            msg = "required field is missing"
        else:
            msg = f"{msg} (got {excerpt(err.get('input'))})" if "input" in err and not isinstance(err["input"], dict) else msg
        lines.append(excerpt(f"  {loc or '<root>'}: {msg}", plain=True, limit=2000))
    return "invalid config:\n" + "\n".join(lines)


def excerpt(value: Any, plain: bool = False, limit: int = MAX_ECHO) -> str:
    """A bounded repr of ``value`` (or ``value`` itself if ``plain``): an error never echoes a whole input.

    reprlib bounds the walk as well as the text, so a huge nested value costs no more than a small one.
    """
    if plain:
        text = str(value)
    else:
        shorter = reprlib.Repr()
        shorter.maxlevel, shorter.maxlist, shorter.maxtuple, shorter.maxdict = 3, 8, 8, 8
        shorter.maxstring = shorter.maxother = limit
        text = shorter.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        inner = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        current = inner[0] if inner else annotation
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def validate_schema(data: Any) -> Config:
    """A ``Config`` from a mapping: shapes, types, ranges and cross-field rules (not the families)."""
    if not isinstance(data, dict):
        raise ConfigError("invalid config: the file must hold a mapping of sections at its top level")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def read_yaml_mapping(path: str | Path, error: type[InputError] = ConfigError) -> dict[str, Any]:
    """A YAML file holding a mapping (empty file: ``{}``); ``error`` names the file otherwise."""
    path = Path(path)
    if path.is_dir():
        raise error(f"config file {str(path)!r} is a directory; pass a YAML file")
    if not path.is_file():
        raise error(f"config file {str(path)!r} does not exist")
    try:
        data = yaml_safe.load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise error(f"config file {str(path)!r} is not UTF-8 text") from None
    except OSError as exc:
        raise error(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml_safe.YamlRefused as exc:
        raise error(f"config file {str(path)!r} is refused: {excerpt(exc, plain=True)}") from None
    except yaml.YAMLError as exc:
        raise error(f"config file {str(path)!r} is not valid YAML: {excerpt(exc, plain=True, limit=600)}") from None
    if not isinstance(data, dict):
        raise error(f"config file {str(path)!r}: the file must hold a mapping of sections at its top level")
    return data


def load_raw(path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """The config file as a mapping with the dotted ``overrides`` applied (not validated)."""
    data = copy.deepcopy(read_yaml_mapping(path))
    for item in overrides or []:
        key, value = parse_override(item)
        set_dotted(data, key, value)
    return data
