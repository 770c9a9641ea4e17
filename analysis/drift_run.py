"""Runner of the drift analysis: sample sequences from the base and each checkpoint of a run, score
token-level KL both ways (``analysis.drift``), and write analysis/drift.json + plots. For a sweep,
each run's final drift is set against its prior-skill accuracy change (from its
contamination.json, computed now when missing).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rl_lab.analysis import drift, plots_behaviour
from rl_lab.analysis.contamination_run import contamination_for_run
from rl_lab.analysis.figures import save_figure
from rl_lab.analysis.runs import AnalysisOutput, checkpoints_with_base, each_run, stamp
from rl_lab.analysis.settings import DriftSettings, contamination_settings, drift_settings
from rl_lab.core import rundir
from rl_lab.core.config import Config
from rl_lab.core.errors import RunDirError
from rl_lab.core.forcing import Forcing
from rl_lab.core.rundir import Resolved, RunDir
from rl_lab.core.sampler import Sampler, load_sampler
from rl_lab.prompting import check_prompt_support, render_all

SettingsFor = Callable[[Config], DriftSettings]
FORWARD, REVERSE = drift.FORWARD, drift.REVERSE


def sample_sequences(sampler: Sampler, prompts: Sequence[str], n: int, max_new_tokens: int, batch_size: int = 256,
                     seed: int = 0, forcing: Forcing | None = None) -> list[tuple[list[int], list[int]]]:
    """``(prompt ids, completion ids)`` for n samples per prompt at temperature 1, top-p 1 (the model's own
    distribution); the completion keeps its end-of-sequence token (the KL of stopping counts too)."""
    return sampler.sample_ids(prompts, n=n, temperature=1.0, top_p=1.0, max_new_tokens=max_new_tokens,
                              batch_size=batch_size, seed=seed, forcing=forcing)


def drift_from_base(base: Sampler, base_samples, other: Sampler, prompts: Sequence[str], s: DriftSettings,
                    seed: int, forcing: Forcing | None = None) -> dict[str, Any]:
    """Both KL directions between ``base`` and ``other`` (any model spec, or the base itself with
    ``forcing``: then ``drift.forced_drift``), each per-token value with its 95% interval over prompts."""
    pad = base.tokenizer.pad_token_id
    other_samples = sample_sequences(other, prompts, s.samples_per_prompt, s.max_new_tokens, seed=seed, forcing=forcing)
    if forcing is None:
        block = drift.drift_between(base, other, base_samples, other_samples, pad, s.batch_size)
    else:
        from rl_lab.core.forcing import suppressed_first_tokens

        prefix = len(base.tokenizer(forcing.prefix, add_special_tokens=False)["input_ids"]) if forcing.prefix else 0
        allowed = None
        if forcing.first_chars:
            width = base.model.get_output_embeddings().weight.shape[0]
            banned = set(suppressed_first_tokens(base.tokenizer, forcing.first_chars, width))
            allowed = [i for i in range(width) if i not in banned]
        block = drift.forced_drift(base, other_samples, prefix, allowed, pad, s.batch_size)
    for direction in (FORWARD, REVERSE):
        if block[direction].get("sequence_kl") is not None:
            block[direction]["per_token_interval"] = drift.per_token_interval([block[direction]], s.samples_per_prompt)
    return block


def drift_for_run(run: RunDir, settings: DriftSettings, models: Mapping[str, str] | None = None) -> dict[str, Any]:
    """KL of every checkpoint against step 0, and of each of ``models`` (label -> checkpoint or model
    spec: a proxy-tuned or steered model measured from the same base); writes the run's
    analysis/drift.json and plot."""
    from tqdm.auto import tqdm

    cfg = run.config
    ckpts = checkpoints_with_base(run, "measure drift from")
    s = settings
    base = load_sampler(ckpts[0], cfg.model.dtype)
    check_prompt_support(cfg.prompt, base.tokenizer, str(ckpts[0]))
    prompts = render_all(drift.drift_prompts(cfg, s.prompts), cfg.prompt, base.tokenizer)
    base_samples = sample_sequences(base, prompts, s.samples_per_prompt, s.max_new_tokens, seed=s.seed)
    zero = {"per_token": 0.0, "per_sequence": 0.0, "per_sequence_std": 0.0, "sequences": len(base_samples), "tokens": None}
    per_step: dict[str, Any] = {"0": {FORWARD: zero, REVERSE: zero}}
    for step, path in tqdm([(k, p) for k, p in ckpts.items() if k != 0], desc=f"drift {run.name}", unit="ckpt"):
        per_step[str(step)] = drift_from_base(base, base_samples, load_sampler(path, cfg.model.dtype), prompts, s,
                                              seed=s.seed + step)
    last = max(ckpts)
    extra = {label: {"spec": str(spec), **drift_from_base(base, base_samples, load_sampler(spec, cfg.model.dtype),
                                                          prompts, s, seed=s.seed + last)}
             for label, spec in (models or {}).items()}
    payload = {
        "analysis": "drift", **stamp(),
        "inputs": {"run_dir": str(run.path), "checkpoints": {str(k): str(p) for k, p in ckpts.items()},
                   "config_point": run.config_point, "seed": run.seed(), "prompt_seed": s.seed,
                   "sampling_seed": f"{s.seed} (base), {s.seed} + step (tuned), {s.seed} + last step (--model)",
                   "prompts": len(prompts), "samples_per_prompt": s.samples_per_prompt, "temperature": 1.0,
                   "top_p": 1.0, "max_new_tokens": s.max_new_tokens,
                   **({"models": {k: v["spec"] for k, v in extra.items()}} if extra else {})},
        "directions": {
            FORWARD: "KL(base || tuned), summed over the vocabulary at each position of sequences sampled from the base",
            REVERSE: "KL(tuned || base), summed over the vocabulary at each position of sequences sampled from the "
                     "tuned checkpoint",
        },
        "units": "nats; per_token = total KL / completion tokens, per_sequence = mean over sequences of summed KL",
        "by_step": per_step,
        "final_step": last,
        "final": per_step[str(last)],
        # other models (--model) against the same base and base samples
        **({"models": extra} if extra else {}),
    }
    run.write_analysis("drift", payload)
    save_figure(plots_behaviour.plot_drift(per_step, title=run.name), run.plots_dir() / "drift.png")
    return payload


def prior_result(run: RunDir, compute: bool) -> tuple[dict[str, Any] | None, str]:
    """The run's contamination result (its contamination.json) and where it came from, else
    (``compute``) the contamination analysis run now with the run's config settings."""
    found = run.read_analysis("contamination")
    path = run.analysis_file("contamination")
    if found is not None:
        return found, str(path)
    if not compute:
        return None, "not computed (--no-contamination)"
    try:
        payload = contamination_for_run(run, contamination_settings(run.config))
    except RunDirError as exc:
        return None, f"unavailable: {exc}"
    return payload, f"computed now, written to {path}"


def prior_change(run: RunDir, compute: bool) -> tuple[float | None, str]:
    """The run's prior-skill accuracy change and where it came from (see ``prior_result``)."""
    found, source = prior_result(run, compute)
    return (found or {}).get("prior_skill_accuracy_change"), source


def _point(run: RunDir, payload: dict[str, Any], compute_prior: bool) -> dict[str, Any]:
    prior, source = prior_result(run, compute_prior)
    fin = payload["final"]
    return {
        "run_dir": str(run.path), "seed": run.seed(), "config_point": run.config_point,
        "group": rundir.group_label(run), "label": run.name,
        "kl": fin[FORWARD]["per_token"], "reverse_kl": fin[REVERSE]["per_token"],
        "kl_interval": fin[FORWARD].get("per_token_interval"),
        "reverse_kl_interval": fin[REVERSE].get("per_token_interval"),
        "prior_change": (prior or {}).get("prior_skill_accuracy_change"),
        "prior_change_interval": (prior or {}).get("prior_skill_accuracy_change_interval"),
        "prior_change_source": source,
    }


def group_intervals(per_run: Sequence[tuple[RunDir, dict[str, Any]]]) -> dict[str, Any]:
    """Per group of seeds: both KL directions per token at the last checkpoint with a 95% interval
    over seeds, then prompts (None for a direction whose blocks predate per-sequence records)."""
    groups: dict[str, list[tuple[RunDir, dict[str, Any]]]] = {}
    for run, payload in per_run:
        groups.setdefault(rundir.group_label(run), []).append((run, payload))
    out = {}
    for name, items in groups.items():
        per_prompt = int(items[0][1]["inputs"]["samples_per_prompt"])  # seeds of a group share the config
        finals = [p["final"] for _, p in items]
        out[name] = {"runs": [str(r.path) for r, _ in items],
                     "kl_interval": drift.per_token_interval([f[FORWARD] for f in finals], per_prompt),
                     "reverse_kl_interval": drift.per_token_interval([f[REVERSE] for f in finals], per_prompt)}
    return out


def analyze_drift(resolved: Resolved, settings_for: SettingsFor = drift_settings,
                  compute_prior: bool = True) -> AnalysisOutput:
    """Every run of ``resolved``; for a sweep also drift against prior-skill change
    (``compute_prior``: run the contamination analysis of a trial that has none)."""
    per_run, skipped = each_run(resolved, lambda run: drift_for_run(run, settings_for(run.config)),
                                f"no run under {str(resolved.root)!r} has checkpoints to compare")
    out = AnalysisOutput("drift", resolved, per_run, skipped=skipped)
    if resolved.kind == "sweep":
        points = [_point(run, payload, compute_prior) for run, payload in per_run]
        out.sweep = {
            "analysis": "drift", **stamp(), "inputs": resolved.describe(), "points": points,
            "groups": group_intervals(per_run),
            "keys": {"kl": "forward KL(base || tuned) per token at the last checkpoint, base samples",
                     "reverse_kl": "reverse KL(tuned || base) per token at the last checkpoint, tuned samples",
                     "prior_change": "prior-skill probe accuracy change, last checkpoint minus base",
                     "*_interval": "the value with its 95% interval (intervals.Estimate): bootstrap over prompts "
                                   "(and over seeds for groups); prior_change_interval from contamination.json"},
        }
        rundir.write_analysis(resolved.root, "drift", out.sweep)
        save_figure(plots_behaviour.plot_drift_vs_prior(points), rundir.plots_dir(resolved.root) / "drift_vs_prior_skill.png")
    return out
