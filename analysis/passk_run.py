"""Runner of ``rl-lab eval passk``: sample n completions per problem from several models, score
them with the verifiers, and write analysis/passk.json + plots. The estimator and crossover are
``analysis.passk`` (pure).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_lab.analysis import passk, plots_behaviour
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.runs import stamp
from rl_lab.analysis.settings import PasskSettings
from rl_lab.core import model_spec, rundir
from rl_lab.core.config import Config
from rl_lab.core.errors import ConfigError, RlLabError
from rl_lab.core.forcing import Forcing
from rl_lab.core.rundir import RunDir
from rl_lab.core.tokenizer import load_tokenizer
from rl_lab.environments import problem_sets
from rl_lab.environments.scoring import solved
from rl_lab.prompting import check_prompt_support, render_all

log = logging.getLogger(__name__)


def _run_dir_model(path: Path) -> bool:
    """A run dir given as --model: it has checkpoints and is not itself a checkpoint."""
    return path.is_dir() and bool(RunDir(path).checkpoints()) and not (path / "config.json").is_file()


def _spec_label(text: str) -> str:
    """A curve's default name for a proxy:/steer: spec: its kind and the base's directory."""
    from rl_lab.core.model_spec import base_path

    kind = text.split(":", 1)[0]
    try:
        base = base_path(model_spec.parse_syntax(text))
    except RlLabError:
        return kind  # parse_model_spec reports the problem before anything is sampled
    run = rundir.run_of_checkpoint(base)
    return f"{kind}:{run.name}:{base.name}" if run else f"{kind}:{base.name}"


def expand_models(args: list[str]) -> list[tuple[str, Path | str]]:
    """``(label, checkpoint dir or model spec)``: a run dir contributes its first and last checkpoint;
    ``LABEL=PATH`` / ``LABEL=SPEC`` name a curve (a spec itself is never split on its first ``=``)."""
    out: list[tuple[str, Path | str]] = []
    for raw in args:
        if model_spec.is_model_spec(raw):
            out.append((_spec_label(raw), raw))
            continue
        label, sep, rest = raw.partition("=")
        if sep and label and not Path(raw).exists():  # LABEL=PATH names the curve
            out.append((label, rest if model_spec.is_model_spec(rest) else Path(rest)))
            continue
        path = Path(raw)
        if _run_dir_model(path):
            ckpts = RunDir(path).checkpoints()
            first, last = min(ckpts), max(ckpts)
            out.append((f"{path.name}:step_{first}", ckpts[first]))
            if last != first:
                out.append((f"{path.name}:step_{last}", ckpts[last]))
        elif rundir.checkpoint_step_dir(path):
            out.append((f"{path.parent.parent.name}:{path.name}", path))  # a run dir's checkpoint
        else:
            out.append((path.name or raw, path))
    labels = [label for label, _ in out]
    for i, label in enumerate(labels):  # disambiguate same-named dirs
        if labels.count(label) > 1:
            out[i] = (f"{label}#{i}", out[i][1])
    return out


def sample_for_passk(model: str | Path | model_spec.ModelSpec, prompts: list[str], n: int, temperature: float,
                     top_p: float, max_new_tokens: int, batch_size: int, seed: int, backend: str,
                     dtype: str = "float32", forcing: Forcing | None = None) -> list[list[str]]:
    """n completions per prompt: vLLM when the config asks for it, a GPU exists and the model is a plain
    checkpoint without forcing; else transformers (``rl_lab.core.sampler``, any model spec)."""
    import torch

    spec = model_spec.parse_model_spec(model)
    if backend == "vllm":
        if not torch.cuda.is_available():
            log.warning("note: rollout.backend is vllm but no GPU is visible; sampling with transformers")
        elif not isinstance(spec, model_spec.PlainSpec) or forcing is not None:
            log.warning("note: vLLM samples plain checkpoints only; sampling %s with transformers",
                        "the forced format" if isinstance(spec, model_spec.PlainSpec) else f"the spec {spec}")
        else:
            return _sample_vllm(spec.path, prompts, n, temperature, top_p, max_new_tokens, seed)
    from rl_lab.core.sampler import load_sampler

    device = "cuda" if torch.cuda.is_available() else "cpu"
    sampler = load_sampler(spec, dtype, device=device)
    return sampler.sample(prompts, n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
                          batch_size=batch_size, seed=seed, progress=True, forcing=forcing)


def _sample_vllm(model_dir: Path, prompts: list[str], n: int, temperature: float, top_p: float,
                 max_new_tokens: int, seed: int) -> list[list[str]]:
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        raise ConfigError(
            "rollout.backend is 'vllm' but vllm is not installed: pip install 'rl-lab[vllm]', "
            "or pass rollout.backend=transformers in the config"
        ) from None
    import gc

    llm = LLM(model=str(model_dir), seed=seed, dtype="auto")
    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens, seed=seed)
    outputs = llm.generate(prompts, params)
    texts = [[o.text for o in out.outputs] for out in outputs]
    del llm
    gc.collect()
    return texts


def _crossovers(results: dict[str, Any], base_label: str) -> dict[str, Any]:
    """Where the base catches up with each other model, overall and per difficulty."""
    def curve(block: dict[str, Any]) -> dict[int, float]:
        return {int(k): v for k, v in block["pass_at_k"].items()}

    base = results[base_label]
    return {
        label: {
            "overall": passk.crossover(curve(base["overall"]), curve(tuned["overall"])),
            "by_difficulty": {lv: passk.crossover(curve(base["by_difficulty"][lv]), curve(tuned["by_difficulty"][lv]))
                              for lv in base["by_difficulty"]},
        }
        for label, tuned in results.items() if label != base_label
    }


def model_group(label: str, path: Path | str) -> str:
    """How models are pooled over seeds: a run's checkpoint by its run's group label (curriculum
    kind and other non-seed grid keys) and step, ``fixed @ step_200``; any other model (a spec) alone."""
    if not isinstance(path, Path):
        return label
    run = rundir.run_of_checkpoint(path)
    if run is None:
        return label
    return f"{rundir.group_label(run)} @ {Path(path).name}"


def with_intervals(results: dict[str, Any], base_label: str, ks: list[int],
                   groups: dict[str, list[str]]) -> dict[str, Any]:
    """Add the 95% intervals to every model's results (``pass_at_k_interval``, and ``vs_base``: tuned
    - base per k) and return ``{group: {models, pass_at_k_interval, vs_base}}`` over the seeds of
    each group (``vs_base`` None for the base's own group)."""
    base = results[base_label]["per_problem"]
    for label, r in results.items():
        r["overall"]["pass_at_k_interval"] = passk.curve_intervals([r["per_problem"]], ks)
        if label != base_label:
            r["vs_base"] = passk.gain_intervals(base, [r["per_problem"]], ks)
    out = {}
    for name, labels in groups.items():
        tuned = [results[lb]["per_problem"] for lb in labels if lb != base_label]
        out[name] = {"models": labels,
                     "pass_at_k_interval": passk.curve_intervals([results[lb]["per_problem"] for lb in labels], ks),
                     "vs_base": passk.gain_intervals(base, tuned, ks) if tuned and base_label not in labels else None}
    return out


@dataclass
class PasskOutput:
    payload: dict[str, Any]
    root: Path  # where analysis/passk.json and plots/ went

    @property
    def written(self) -> Path:
        return rundir.analysis_file(self.root, "passk")


def analyze_passk(cfg: Config, model_args: list[str], settings: PasskSettings, out: Path | None = None,
                  config_source: dict[str, Any] | None = None) -> PasskOutput:
    """pass@k of every model (the first is the base the others are compared with).

    ``out``: output root (default: the first run-dir model, else ``<output_dir>/passk``);
    ``config_source``: how the config was given (file, overrides), recorded in the inputs.
    """
    labelled = expand_models(model_args)
    parsed = [model_spec.parse_model_spec(path) for _, path in labelled]  # exit-2 errors before any sampling
    specs = [s for s in cfg.environments.families if s.name in settings.families]
    problems = problem_sets.build_problem_set(specs, settings.problems_per_level, seed=settings.seed)
    first = model_spec.base_path(parsed[0])
    tokenizer = load_tokenizer(first)  # the models share it: the samplers see identical prompts
    check_prompt_support(cfg.prompt, tokenizer, str(first))
    prompts = render_all(problems, cfg.prompt, tokenizer)

    results: dict[str, Any] = {}
    for (label, _raw), spec in zip(labelled, parsed, strict=True):
        start = time.perf_counter()
        samples = sample_for_passk(spec, prompts, settings.n, settings.temperature, settings.top_p,
                                   settings.max_new_tokens, settings.batch_size, settings.seed, settings.backend,
                                   cfg.model.dtype)
        seconds = time.perf_counter() - start
        records = []
        for problem, outs in zip(problems, samples, strict=True):
            c = sum(solved(problem_sets.verify_completion(problem, o)) for o in outs)
            records.append({"family": problem["family"], "difficulty": int(problem["difficulty"]), "n": len(outs),
                            "c": int(c), "prompt": problem["prompt"]})
        results[label] = {"checkpoint": str(spec), **passk.summarise(records, settings.ks), "per_problem": records,
                          "samples_per_second": len(prompts) * settings.n / seconds}

    base_label = labelled[0][0]
    groups: dict[str, list[str]] = {}
    for label, path in labelled:
        results[label]["group"] = model_group(label, path)
        groups.setdefault(results[label]["group"], []).append(label)
    group_results = with_intervals(results, base_label, settings.ks, groups)
    run_models = [Path(m) for m in model_args if _run_dir_model(Path(m))]
    root = out or (run_models[0] if run_models else cfg.root / "passk")
    payload = {
        "analysis": "passk", **stamp(),
        "inputs": {"models": {label: str(path) for label, path in labelled}, "model_args": model_args,
                   **(config_source or {}), "n": settings.n, "ks": settings.ks,
                   "problems_per_level": settings.problems_per_level, "families": settings.families,
                   "problem_seed": settings.seed, "sampling_seed": settings.seed,
                   "temperature": settings.temperature, "top_p": settings.top_p,
                   "max_new_tokens": settings.max_new_tokens, "backend": settings.backend, "problems": len(prompts)},
        "base": base_label, "models": results, "crossover": _crossovers(results, base_label),
        "groups": group_results,
    }
    rundir.write_analysis(root, "passk", payload)
    plots = rundir.plots_dir(root)
    save_figure(plots_behaviour.plot_passk({lb: r["overall"]["pass_at_k"] for lb, r in results.items()},
                                           bands={lb: r["overall"]["pass_at_k_interval"] for lb, r in results.items()}),
                plots / "passk.png")
    levels = list(results[base_label]["by_difficulty"])
    save_figure(plots_behaviour.plot_passk_panels(
        {f"level {lv}": {lb: r["by_difficulty"][lv]["pass_at_k"] for lb, r in results.items()} for lv in levels}),
        plots / "passk_by_difficulty.png")
    return PasskOutput(payload, root)
