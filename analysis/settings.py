"""Typed settings of every analysis, built from a run's config plus explicit command-line values.

Each ``*_settings(cfg, **explicit)`` function takes the config the analysis applies to and the
values the user gave on the command line (``None``: not given) and returns a frozen dataclass
with every value the analysis needs. A value not given comes from the config, whose defaults
are the schema's (``rl_lab.core.config.AnalysisConfig`` / ``EvalConfig`` / ``TrainConfig``);
no threshold or sample-size default is written here (only the update stream's resource knobs,
device, chunk size and threads, have dataclass defaults). Bad explicit values raise
``InputError`` naming the flag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rl_lab.core import seeds
from rl_lab.core.config import AnalysisConfig, Config, FormatsConfig
from rl_lab.core.errors import ConfigError, InputError, RunDirError
from rl_lab.core.rundir import RunDir
from rl_lab.environments.taxonomies import Taxonomy, get_taxonomy

Section = TypeVar("Section", bound=BaseModel)


def _schema_default(model: type[BaseModel], name: str) -> Any:
    return model.model_fields[name].default


def config_section(raw: Mapping[str, Any] | None, key: str, model: type[Section], where: str | Path) -> Section:
    """One section of a raw config mapping, validated on its own (schema defaults when absent),
    so a run whose config.yaml predates other sections of today's schema still gets its
    analysis settings; RunDirError names the file and the field when the section is invalid."""
    data = (raw or {}).get(key) or {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{key}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise RunDirError(f"{where}: {problems}") from None


def run_section(run: RunDir, key: str, model: type[Section]) -> Section:
    """One section of a run's config.yaml (schema defaults when the file is absent)."""
    return config_section(run.config_raw, key, model, run.config_file)


def taxonomy(formats: FormatsConfig) -> Taxonomy:
    """The format taxonomy a ``formats`` section names; ConfigError names the field when it cannot."""
    try:
        return get_taxonomy(formats.taxonomy, formats.rules)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check(flag: str, value: float, ok: bool, rule: str) -> None:
    if not ok:
        raise InputError(f"{flag} {value}: {rule}")


def _count(flag: str, value: int | None, default: int) -> int:
    """An explicit count (>= 1) or the config's."""
    if value is None:
        return default
    _check(flag, value, value >= 1, "must be >= 1")
    return value


# =========================================================================== formats
@dataclass(frozen=True)
class FormatsSettings:
    threshold: float  # a format "collapsed" when its share exceeds this through the last step
    taxonomy: Taxonomy  # which formats a completion can be in (formats.taxonomy)
    window: float  # final shares pool the rollouts of this last fraction of logged steps (at least one)


def formats_settings(analysis: AnalysisConfig, formats: FormatsConfig | None = None,
                     threshold: float | None = None) -> FormatsSettings:
    value = analysis.collapse_threshold if threshold is None else float(threshold)
    _check("--threshold", value, 0 < value <= 1, "must lie in (0, 1]")
    return FormatsSettings(threshold=value, taxonomy=taxonomy(formats or FormatsConfig()),
                           window=analysis.collapse_window)


# =========================================================================== pass@k
@dataclass(frozen=True)
class PasskSettings:
    n: int  # samples per problem
    ks: list[int]
    problems_per_level: int
    families: list[str]  # the config's families that are sampled
    temperature: float
    top_p: float
    max_new_tokens: int
    batch_size: int  # sequences per generate call (transformers path)
    backend: str  # rollout.backend: transformers | vllm
    seed: int  # problem seed, also the sampling seed


def passk_settings(cfg: Config, n: int | None = None, k: str | None = None, problems_per_level: int | None = None,
                   families: Sequence[str] | None = None, batch_size: int | None = None,
                   max_new_tokens: int | None = None) -> PasskSettings:
    from rl_lab.analysis.passk import parse_ks

    a = cfg.analysis
    n = _count("--n", n, a.passk_n)
    try:
        ks = parse_ks(k, n)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    names = [s.name for s in cfg.environments.families]
    if families:
        unknown = [f for f in families if f not in names]
        if unknown:
            raise InputError(f"--families {unknown}: not in the config's environments.families; allowed: {names}")
    return PasskSettings(
        n=n, ks=ks, problems_per_level=_count("--problems-per-level", problems_per_level, a.passk_problems_per_level),
        families=[f for f in names if not families or f in families],
        temperature=a.passk_temperature, top_p=a.passk_top_p,
        max_new_tokens=_count("--max-new-tokens", max_new_tokens, cfg.train.max_completion_length),
        batch_size=_count("--batch-size", batch_size, max(cfg.eval.batch_size, a.passk_batch_size)),
        backend=cfg.rollout.backend, seed=seeds.stream(seeds.PASSK, cfg.seed),
    )


# =========================================================================== contamination
@dataclass(frozen=True)
class ContaminationSettings:
    problems_per_level: int  # probe problems per family x level
    temperature: float  # 0: greedy
    length_fraction: float  # length_collapse threshold against the base's median length
    batch_size: int
    max_new_tokens: int
    seed: int  # probe problems and sampling

    @property
    def decoding(self) -> str:
        return "greedy" if self.temperature == 0 else f"temperature {self.temperature}"


def contamination_settings(cfg: Config, problems_per_level: int | None = None, temperature: float | None = None,
                           length_fraction: float | None = None, batch_size: int | None = None) -> ContaminationSettings:
    a = cfg.analysis
    temperature = a.probe_temperature if temperature is None else temperature
    _check("--temperature", temperature, temperature >= 0, "must be >= 0 (0 = greedy)")
    fraction = a.length_fraction if length_fraction is None else length_fraction
    _check("--length-fraction", fraction, 0 < fraction <= 1, "must lie in (0, 1]")
    return ContaminationSettings(
        problems_per_level=_count("--problems-per-level", problems_per_level, a.probe_problems_per_level),
        temperature=temperature, length_fraction=fraction,
        batch_size=_count("--batch-size", batch_size, cfg.eval.batch_size),
        max_new_tokens=cfg.eval.max_new_tokens, seed=seeds.stream(seeds.PROBES, cfg.seed),
    )


# =========================================================================== forcing
@dataclass(frozen=True)
class ForcingSettings:
    problems_per_level: int  # problems per trained family x level, the same for every policy
    temperature: float  # 0: greedy (eval.temperature by default)
    top_p: float
    batch_size: int
    max_new_tokens: int
    seed: int  # problems and sampling


def forcing_settings(cfg: Config, problems_per_level: int | None = None, temperature: float | None = None,
                     ) -> ForcingSettings:
    temperature = cfg.eval.temperature if temperature is None else temperature
    _check("--temperature", temperature, temperature >= 0, "must be >= 0 (0 = greedy)")
    return ForcingSettings(
        problems_per_level=_count("--problems-per-level", problems_per_level, cfg.eval.problems_per_level),
        temperature=temperature, top_p=cfg.eval.top_p, batch_size=cfg.eval.batch_size,
        max_new_tokens=cfg.eval.max_new_tokens, seed=seeds.stream(seeds.FORCING, cfg.seed),
    )


# =========================================================================== drift
@dataclass(frozen=True)
class DriftSettings:
    prompts: int  # held-out prompts
    samples_per_prompt: int
    batch_size: int  # sequences per forward pass when scoring
    max_new_tokens: int
    seed: int  # prompts and base samples; a tuned checkpoint samples with seed + step


def drift_settings(cfg: Config, prompts: int | None = None, samples_per_prompt: int | None = None,
                   batch_size: int | None = None) -> DriftSettings:
    a = cfg.analysis
    return DriftSettings(
        prompts=_count("--prompts", prompts, a.drift_prompts),
        samples_per_prompt=_count("--samples-per-prompt", samples_per_prompt, a.drift_samples_per_prompt),
        batch_size=_count("--batch-size", batch_size, a.drift_batch_size),
        max_new_tokens=cfg.train.max_completion_length,
        seed=seeds.stream(seeds.DRIFT, cfg.seed),
    )


# =========================================================================== updates
@dataclass(frozen=True)
class UpdatesSettings:
    tol: float = field(default_factory=lambda: _schema_default(AnalysisConfig, "updates_tol"))
    # The reference's own criterion (bf16, isclose atol 1e-5): a definition the report quotes, not a knob.
    paper_atol: float = 1e-5
    rank: bool = False
    device: str = "cpu"
    strict: bool = False  # dtype mismatches and one-side-only tensors become errors
    skip_mismatched: bool = False  # shape mismatches are skipped (listed) instead of an error
    chunk_elements: int = 1 << 23  # ~8M elements: work buffers ~16 bytes/element for one bf16 tuned input
    # torch threads for the streamed comparison (0: torch's default). Its passes are memory-bound,
    # and each multi-threaded op waits for every thread to be scheduled: on a shared machine that
    # wait dominates (bench: 3.5x slower with 2 threads at load 9 on 2 CPUs). SVDs use torch's default.
    threads: int = 1


def updates_settings(analysis: AnalysisConfig, tol: float | None = None, rank: bool = False, device: str | None = None,
                     strict: bool = False, skip_mismatched: bool = False, chunk_elements: int | None = None,
                     threads: int | None = None) -> UpdatesSettings:
    """``tol`` not given: ``analysis.updates_tol``; the resource knobs not given keep their defaults."""
    resources = {k: v for k, v in (("device", device), ("chunk_elements", chunk_elements), ("threads", threads))
                 if v is not None}
    return UpdatesSettings(tol=analysis.updates_tol if tol is None else tol, rank=rank, strict=strict,
                           skip_mismatched=skip_mismatched, **resources)
